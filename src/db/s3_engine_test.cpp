// The engine against a real S3-compatible server (Ceph RGW started by scripts/rgw.sh):
// writes, indexing, compaction, GC and queries; Database::OpenPath("s3://..."); several
// OS processes writing one namespace; writers killed with SIGKILL; and a timed-out but
// applied WAL PUT. Every test uses a fresh prefix of the test bucket and skips when
// GANNET_TEST_S3_BUCKET is not set.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "db/batch_check_test_util.h"
#include "db/namespace_impl.h"
#include "gannet/database.h"
#include "gannet/json.h"
#include "storage/s3_test_util.h"

namespace gannet {
namespace {

constexpr int kDocsPerBatch = 4;

class S3EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string why = storage::S3TestUnavailableReason(); !why.empty()) {
      GTEST_SKIP() << why;
    }
    prefix_ = "engine-" + storage::S3TestUniqueName();
    url_ = "s3://" + std::string(std::getenv("GANNET_TEST_S3_BUCKET")) + "/" + prefix_;
  }

  // A store on this test's prefix (a new instance: its own connections and caches).
  ObjectStorePtr Store() {
    Result<S3Options> options = S3Options::FromUrlAndEnv(url_);
    EXPECT_TRUE(options.ok()) << options.status().ToString();
    if (!options.ok()) return nullptr;
    Result<ObjectStorePtr> store = OpenS3Store(*options);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? *store : nullptr;
  }

  std::string prefix_;
  std::string url_;
};

Result<WriteResponse> Write(Namespace& ns, std::string_view json) {
  auto req = ParseWriteRequest(json);
  if (!req.ok()) return req.status();
  return ns.Write(std::move(req).value());
}

Result<QueryResponse> Query(Namespace& ns, std::string_view json) {
  auto req = ParseQueryRequest(json);
  if (!req.ok()) return req.status();
  return ns.Query(*req);
}

TEST_F(S3EngineTest, WriteIndexCompactCollectAndQuery) {
  DatabaseOptions o;
  o.store = Store();
  ASSERT_NE(o.store, nullptr);
  o.background_indexing = false;
  o.compact_max_segments = 2;
  o.gc_grace = std::chrono::milliseconds(0);
  auto db = Database::Open(o);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto ns = (*db)->OpenNamespace("docs");
  ASSERT_TRUE(ns.ok());
  // Several segments' worth of writes, with overwrites and deletes between indexings.
  for (int round = 0; round < 4; ++round) {
    std::string rows;
    for (int i = 0; i < 50; ++i) {
      const int id = round * 25 + i;  // half of each round overwrites the previous one
      if (i) rows += ",";
      rows += R"({"id": )" + std::to_string(id) + R"(, "vector": [)" + std::to_string(id) +
              R"(, 0], "round": )" + std::to_string(round) + "}";
    }
    auto w =
        Write(**ns, R"({"distance_metric": "euclidean_squared", "upsert_rows": [)" + rows + "]}");
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    auto d = Write(**ns, R"({"deletes": [)" + std::to_string(round * 25) + "]}");
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    Status indexed = (*ns)->IndexNow();
    ASSERT_TRUE(indexed.ok()) << indexed.ToString();
  }
  Status compacted = (*ns)->Compact();
  ASSERT_TRUE(compacted.ok()) << compacted.ToString();
  Status collected = (*ns)->CollectGarbage();
  ASSERT_TRUE(collected.ok()) << collected.ToString();

  // ids 0..124 written, 0/25/50/75 deleted.
  auto count = Query(**ns, R"({"aggregate_by": {"n": ["Count"]}})");
  ASSERT_TRUE(count.ok()) << count.status().ToString();
  EXPECT_EQ(count->aggregations.at("n").as_uint(), 121u);
  auto near = Query(**ns, R"({"rank_by": ["vector", "ANN", [50.2, 0]], "top_k": 2,
                              "include_attributes": ["round"]})");
  ASSERT_TRUE(near.ok()) << near.status().ToString();
  ASSERT_EQ(near->rows.size(), 2u);
  EXPECT_EQ(near->rows[0].id, Id(uint64_t{51}));  // 50 is deleted
  EXPECT_EQ(near->rows[1].id, Id(uint64_t{49}));
  auto by_round = Query(**ns, R"({"top_k": 200, "filters": ["round", "Eq", 3]})");
  ASSERT_TRUE(by_round.ok());
  EXPECT_EQ(by_round->rows.size(), 49u);  // 75 is deleted
  auto info = (*ns)->Info();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->indexed_sequence, info->wal_sequence);
  EXPECT_LE(info->segment_count, 2u);
  (*db)->Close();

  // A second database on the same prefix, opened through the URL, sees the same state.
  auto reopened = Database::OpenPath(url_);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_NE((*reopened)->store()->Describe().find(prefix_), std::string::npos);
  auto ns2 = (*reopened)->OpenNamespace("docs");
  ASSERT_TRUE(ns2.ok());
  auto count2 = Query(**ns2, R"({"aggregate_by": {"n": ["Count"]}})");
  ASSERT_TRUE(count2.ok()) << count2.status().ToString();
  EXPECT_EQ(count2->aggregations.at("n").as_uint(), 121u);
  auto names = (*reopened)->ListNamespaces();
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(names->names, std::vector<std::string>{"docs"});
  ASSERT_TRUE((*reopened)->DeleteNamespace("docs").ok());
  auto listed = (*reopened)->store()->List("");
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->objects.empty()) << listed->objects.size() << " objects left";
}

// A process that finds an indexed namespace in the bucket loads it by range (cold: the
// segment without its vectors, the index without its lists, as ranged GETs), answers
// from ranged reads of the lists and rows it needs, and after the warm-up answers the
// same from the whole objects.
TEST_F(S3EngineTest, ColdLoadReadsRangesFromTheBucket) {
  DatabaseOptions o;
  o.store = Store();
  ASSERT_NE(o.store, nullptr);
  o.background_indexing = false;
  auto db = Database::Open(o);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto ns = (*db)->OpenNamespace("cold");
  ASSERT_TRUE(ns.ok());
  std::mt19937_64 rng(5);
  std::normal_distribution<float> g(0, 1);
  auto vec = [&] {
    std::string v = "[";
    for (int d = 0; d < 16; ++d) v += (d ? "," : "") + std::to_string(g(rng));
    return v + "]";
  };
  for (int batch = 0; batch < 3; ++batch) {
    std::string rows;
    for (int i = 0; i < 1000; ++i) {
      if (i) rows += ",";
      rows += R"({"id": )" + std::to_string(batch * 1000 + i) + R"(, "vector": )" + vec() +
              R"(, "k": )" + std::to_string(i % 7) + "}";
    }
    ASSERT_TRUE(Write(**ns, R"({"upsert_rows": [)" + rows + "]}").ok());
  }
  ASSERT_TRUE((*ns)->IndexNow().ok());
  std::vector<std::string> queries;
  for (int i = 0; i < 5; ++i) {
    const std::string v = vec();
    queries.push_back(R"({"rank_by": ["vector", "ANN", )" + v + R"(], "top_k": 10})");
    queries.push_back(R"({"rank_by": ["vector", "kNN", )" + v +
                      R"(], "top_k": 10, "filters": ["k", "Eq", 3], "include_attributes": true})");
  }
  std::vector<QueryResponse> warm;
  for (const std::string& q : queries) warm.push_back(Query(**ns, q).value());
  (*db)->Close();

  uint64_t object_bytes = 0;  // the segment and its index
  auto listed = Store()->List("ns/cold/segments/");
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  for (const ObjectMeta& m : listed->objects) object_bytes += m.size;
  ASSERT_GT(object_bytes, 3000u * 16 * 4);

  DatabaseOptions c;
  c.store = Store();
  c.cold_load_min_bytes = 1;
  auto cold_db = Database::Open(c);
  ASSERT_TRUE(cold_db.ok());
  auto cold = (*cold_db)->OpenNamespace("cold");
  ASSERT_TRUE(cold.ok());
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t i = 0; i < queries.size(); ++i) {
      auto got = Query(**cold, queries[i]);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      if (i == 0 && pass == 0) {
        // The manifest, one wave of the load, then the lists and the rows it needs.
        EXPECT_EQ(got->stats.round_trips, 4u);
        EXPECT_LT(got->stats.bytes_read, object_bytes) << "less than the objects whole";
      }
      ASSERT_EQ(got->rows.size(), warm[i].rows.size()) << i;
      size_t same = 0;
      for (size_t j = 0; j < got->rows.size(); ++j) {
        same += got->rows[j].id == warm[i].rows[j].id;
        if (i % 2 == 1) {
          EXPECT_EQ(got->rows[j].attrs, warm[i].rows[j].attrs);
        }
      }
      if (i % 2 == 1) {
        EXPECT_EQ(same, got->rows.size()) << "kNN is exact";
      } else {
        EXPECT_GE(same, 8u) << "ANN";
      }
    }
    // Then warm: loaded whole (by background maintenance, or here).
    auto* impl = dynamic_cast<db::NamespaceImpl*>(cold->get());
    ASSERT_NE(impl, nullptr);
    ASSERT_TRUE(impl->WarmUp().ok());
  }
}

TEST_F(S3EngineTest, TimedOutButAppliedWalPutIsAcknowledgedOnce) {
  std::shared_ptr<FaultyStore> faulty = NewFaultyStore(Store());
  DatabaseOptions o;
  o.store = faulty;
  o.background_indexing = false;
  auto db = Database::Open(o);
  ASSERT_TRUE(db.ok());
  auto ns = (*db)->OpenNamespace("docs");
  ASSERT_TRUE(ns.ok());
  ASSERT_TRUE(Write(**ns, R"({"upsert_rows": [{"id": 1, "v": 1}]})").ok());
  faulty->Script({FaultOp::kPutIfAbsent, "ns/docs/wal/", FaultKind::kTimeoutApplied});
  faulty->Script({FaultOp::kPutIfMatch, "ns/docs/manifest", FaultKind::kTimeoutApplied});
  auto w = Write(**ns, R"({"upsert_rows": [{"id": 2, "v": 2}]})");
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  auto info = (*ns)->Info();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->wal_sequence, 2u) << "the retry recognised its own entry";
  // An applied-but-timed-out manifest CAS is recognised by its writer nonce.
  Status indexed = (*ns)->IndexNow();
  ASSERT_TRUE(indexed.ok()) << indexed.ToString();
  Status again = (*ns)->IndexNow();
  ASSERT_TRUE(again.ok()) << again.ToString();
  ASSERT_TRUE(Write(**ns, R"({"upsert_rows": [{"id": 3, "v": 3}]})").ok());
  ASSERT_TRUE((*ns)->IndexNow().ok());
  EXPECT_EQ(faulty->faults_injected(), 2u);
  auto count = Query(**ns, R"({"aggregate_by": {"n": ["Count"]}})");
  ASSERT_TRUE(count.ok()) << count.status().ToString();
  EXPECT_EQ(count->aggregations.at("n").as_uint(), 3u);
}

// ---- Several processes -------------------------------------------------------------

// A writer child on the bucket at `url`.
[[noreturn]] void WriterProcess(const std::string& url, const std::string& tag, int batches,
                                const std::string& ack_path) {
  auto s3 = S3Options::FromUrlAndEnv(url);
  if (!s3.ok()) _exit(2);
  auto store = OpenS3Store(*s3);
  if (!store.ok()) _exit(2);
  testing_util::WriterProcess(*store, tag, batches, kDocsPerBatch, ack_path);
}

using testing_util::ReadAcks;

// Every acknowledged batch is present exactly once, and no batch is partial.
void Verify(const std::string& url, const std::set<std::string>& acks, size_t* seen = nullptr) {
  auto db = Database::OpenPath(url);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto ns = (*db)->OpenNamespace("shared");
  ASSERT_TRUE(ns.ok());
  auto rows = testing_util::ReadAllRows(**ns);
  if (acks.empty() && rows.status().IsNotFound()) return;
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  testing_util::CheckBatches(*rows, acks, kDocsPerBatch, seen);
  (*db)->Close();
}

std::string AckPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          (name + "-" + std::to_string(getpid()) + "-" + storage::S3TestUniqueName()))
      .string();
}

TEST_F(S3EngineTest, ConcurrentWriterProcessesLoseNothing) {
  constexpr int kProcs = 3, kBatches = 25;
  std::vector<pid_t> pids;
  std::vector<std::string> ack_paths;
  for (int p = 0; p < kProcs; ++p) ack_paths.push_back(AckPath("gannet-s3-mp"));
  for (int p = 0; p < kProcs; ++p) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) WriterProcess(url_, "p" + std::to_string(p), kBatches, ack_paths[p]);
    pids.push_back(pid);
  }
  std::set<std::string> acks;
  for (int p = 0; p < kProcs; ++p) {
    int status = 0;
    ASSERT_EQ(waitpid(pids[p], &status, 0), pids[p]);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "writer " << p << " failed";
    for (const std::string& a : ReadAcks(ack_paths[p])) acks.insert(a);
    std::filesystem::remove(ack_paths[p]);
  }
  EXPECT_EQ(acks.size(), static_cast<size_t>(kProcs * kBatches));
  size_t seen = 0;
  Verify(url_, acks, &seen);
  EXPECT_EQ(seen, acks.size());
}

TEST_F(S3EngineTest, KilledWriterLosesNoAcknowledgedWrite) {
  const std::string acks_path = AckPath("gannet-s3-crash");
  const int iterations = std::getenv("GANNET_S3_CRASH_ITERATIONS")
                             ? std::atoi(std::getenv("GANNET_S3_CRASH_ITERATIONS"))
                             : 8;
  std::mt19937 rng(777);
  for (int it = 0; it < iterations; ++it) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) WriterProcess(url_, "c" + std::to_string(it), -1, acks_path);
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 250));
    kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "writer exited early: " << status;
    Verify(url_, ReadAcks(acks_path));
    if (HasFailure()) {
      ADD_FAILURE() << "crash iteration " << it;
      break;
    }
  }
  RecordProperty("acknowledged_batches", static_cast<int>(ReadAcks(acks_path).size()));
  std::filesystem::remove(acks_path);
}

}  // namespace
}  // namespace gannet
