#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "db/database_impl.h"
#include "db/keys.h"
#include "gannet/database.h"
#include "gannet/json.h"
#include "storage/forwarding_store.h"

namespace gannet {
namespace {

class NamespaceTest : public ::testing::Test {
 protected:
  void Open(ObjectStorePtr store) {
    DatabaseOptions o;
    o.store = std::move(store);
    o.background_indexing = false;
    o.gc_grace = std::chrono::milliseconds(0);
    auto db = Database::Open(o);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    ns_ = *db_->OpenNamespace("docs");
  }
  void SetUp() override {
    counting_ = NewCountingStore(NewMemoryStore());
    faulty_ = NewFaultyStore(counting_);
    Open(faulty_);
  }
  Result<WriteResponse> Write(std::string_view json) {
    auto req = ParseWriteRequest(json);
    if (!req.ok()) return req.status();
    return ns_->Write(std::move(req).value());
  }
  Result<QueryResponse> Query(std::string_view json) {
    auto req = ParseQueryRequest(json);
    if (!req.ok()) return req.status();
    return ns_->Query(*req);
  }
  uint64_t CountAll() {
    auto r = Query(R"({"aggregate_by": {"n": ["Count"]}})");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->aggregations.at("n").as_uint() : 0;
  }

  std::shared_ptr<CountingStore> counting_;
  std::shared_ptr<FaultyStore> faulty_;
  std::unique_ptr<Database> db_;
  std::shared_ptr<Namespace> ns_;
};

TEST_F(NamespaceTest, QueryOfMissingNamespaceIsNotFound) {
  auto r = Query(R"({"top_k": 1})");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsNotFound()) << r.status().ToString();
  EXPECT_TRUE(ns_->Info().status().IsNotFound());
}

TEST_F(NamespaceTest, WriteThenQueryByVectorAndAttribute) {
  auto w = Write(R"({"distance_metric": "euclidean_squared", "upsert_rows": [
      {"id": 1, "vector": [0, 0], "name": "a", "n": 3},
      {"id": 2, "vector": [1, 1], "name": "b", "n": 1},
      {"id": 3, "vector": [5, 5], "name": "c", "n": 2}]})");
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->rows_upserted, 3u);
  auto q = Query(R"({"rank_by": ["vector", "ANN", [0.9, 0.9]], "top_k": 2,
                     "include_attributes": ["name"]})");
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  ASSERT_EQ(q->rows.size(), 2u);
  EXPECT_EQ(q->rows[0].id, Id(uint64_t{2}));
  EXPECT_NEAR(*q->rows[0].dist, 0.02, 1e-6);
  EXPECT_EQ(q->rows[1].id, Id(uint64_t{1}));
  ASSERT_EQ(q->rows[0].attrs.size(), 1u);
  EXPECT_EQ(q->rows[0].attrs[0].second.as_string(), "b");

  auto o = Query(R"({"rank_by": ["n", "desc"], "top_k": 3, "filters": ["n", "Lt", 3]})");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  ASSERT_EQ(o->rows.size(), 2u);
  EXPECT_EQ(o->rows[0].id, Id(uint64_t{3}));
  EXPECT_EQ(o->rows[1].id, Id(uint64_t{2}));
  EXPECT_FALSE(o->rows[0].dist.has_value());

  // The same answers after indexing.
  {
    Status st = ns_->IndexNow();
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  auto q2 = Query(R"({"rank_by": ["vector", "ANN", [0.9, 0.9]], "top_k": 2})");
  ASSERT_TRUE(q2.ok());
  EXPECT_EQ(q2->rows[0].id, Id(uint64_t{2}));
  EXPECT_EQ(q2->stats.tail_rows, 0u);
}

TEST_F(NamespaceTest, TypeViolationNamesRowAttributeAndTypesAndAppliesNothing) {
  ASSERT_TRUE(Write(R"({"upsert_rows": [{"id": 1, "price": 1.5}]})").ok());
  auto w = Write(R"({"upsert_rows": [{"id": 2, "price": 2.5}, {"id": 7, "price": "cheap"}]})");
  ASSERT_FALSE(w.ok());
  EXPECT_TRUE(w.status().IsInvalidArgument());
  const std::string& m = w.status().message();
  EXPECT_NE(m.find("7"), std::string::npos) << m;
  EXPECT_NE(m.find("price"), std::string::npos) << m;
  EXPECT_NE(m.find("float"), std::string::npos) << m;
  EXPECT_NE(m.find("string"), std::string::npos) << m;
  EXPECT_EQ(CountAll(), 1u);  // row 2 of the rejected batch was not applied
}

TEST_F(NamespaceTest, ConcurrentWritersShareWalEntries) {
  ASSERT_TRUE(Write(R"({"upsert_rows": [{"id": 0, "t": 0}]})").ok());
  constexpr int kThreads = 8, kPerThread = 40;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int id = 1 + t * kPerThread + i;
        auto w = Write(R"({"upsert_rows": [{"id": )" + std::to_string(id) + R"(, "t": )" +
                       std::to_string(t) + "}]}");
        if (!w.ok()) failures++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(CountAll(), 1u + kThreads * kPerThread);
  auto info = ns_->Info();
  ASSERT_TRUE(info.ok());
  // Group commit: with 8 writers racing, entries are shared (at most one per write).
  EXPECT_LE(info->wal_sequence, 1u + kThreads * kPerThread);
}

TEST_F(NamespaceTest, TimedOutButAppliedWalPutIsAcknowledgedOnce) {
  ASSERT_TRUE(Write(R"({"upsert_rows": [{"id": 1, "v": 1}]})").ok());
  faulty_->Script({FaultOp::kPutIfAbsent, "ns/docs/wal/", FaultKind::kTimeoutApplied});
  auto w = Write(R"({"upsert_rows": [{"id": 2, "v": 2}]})");
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(faulty_->faults_injected(), 1u);
  auto info = ns_->Info();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->wal_sequence, 2u);  // the retry recognised its own entry
  EXPECT_EQ(CountAll(), 2u);
}

TEST_F(NamespaceTest, FailedWalPutIsNotAcknowledgedAndLeavesNoTrace) {
  ASSERT_TRUE(Write(R"({"upsert_rows": [{"id": 1, "v": 1}]})").ok());
  for (int i = 0; i < 10; ++i) {
    faulty_->Script({FaultOp::kPutIfAbsent, "ns/docs/wal/", FaultKind::kIOError});
  }
  auto w = Write(R"({"upsert_rows": [{"id": 2, "v": 2}]})");
  ASSERT_FALSE(w.ok());
  faulty_->Clear();
  EXPECT_EQ(CountAll(), 1u);
  ASSERT_TRUE(Write(R"({"upsert_rows": [{"id": 3, "v": 3}]})").ok());
  EXPECT_EQ(CountAll(), 2u);
}

TEST_F(NamespaceTest, PatchDeleteAndDeleteByFilter) {
  ASSERT_TRUE(Write(R"({"upsert_rows": [{"id": "a", "n": 1, "tag": "x"},
                                         {"id": "b", "n": 2, "tag": "y"},
                                         {"id": "c", "n": 3, "tag": "y"}]})")
                  .ok());
  {
    Status st = ns_->IndexNow();
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  auto p = Write(R"({"patch_rows": [{"id": "a", "n": 10, "tag": null}, {"id": "zz", "n": 1}]})");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->rows_patched, 1u);  // "zz" does not exist
  auto d = Write(R"({"delete_by_filter": ["tag", "Eq", "y"], "return_affected_ids": true})");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->rows_deleted, 2u);
  ASSERT_TRUE(d->deleted_ids.has_value());
  auto docs = ns_->Get({Id(std::string("a")), Id(std::string("b"))});
  ASSERT_TRUE(docs.ok());
  ASSERT_EQ(docs->size(), 1u);
  EXPECT_EQ((*docs)[0].Find("n")->as_int(), 10);
  EXPECT_EQ((*docs)[0].Find("tag"), nullptr);
}

TEST_F(NamespaceTest, QueriesStayCorrectWhileIndexingAndCompactingRun) {
  for (int b = 0; b < 20; ++b) {
    std::string rows;
    for (int i = 0; i < 10; ++i) {
      if (i) rows += ",";
      rows += R"({"id": )" + std::to_string(b * 10 + i) + R"(, "b": )" + std::to_string(b) + "}";
    }
    ASSERT_TRUE(Write(R"({"upsert_rows": [)" + rows + "]}").ok());
  }
  std::atomic<bool> stop{false};
  std::thread maint([&] {
    for (int i = 0; i < 20 && !stop; ++i) {
      ASSERT_TRUE(Write(R"({"upsert_rows": [{"id": )" + std::to_string(i) + R"(, "b": 0}]})").ok());
      {
        Status st = ns_->IndexNow();
        ASSERT_TRUE(st.ok()) << st.ToString();
      }
      ASSERT_TRUE(ns_->Compact().ok());
      ASSERT_TRUE(ns_->CollectGarbage().ok());
    }
  });
  for (int i = 0; i < 200; ++i) EXPECT_EQ(CountAll(), 200u);
  stop = true;
  maint.join();
  EXPECT_EQ(CountAll(), 200u);
}

TEST_F(NamespaceTest, ListAndDeleteNamespaces) {
  ASSERT_TRUE(Write(R"({"upsert_rows": [{"id": 1}]})").ok());
  for (const char* name : {"alpha", "beta", "alpine"}) {
    auto ns = db_->OpenNamespace(name);
    ASSERT_TRUE(ns.ok());
    auto req = ParseWriteRequest(R"({"upsert_rows": [{"id": 1}]})");
    ASSERT_TRUE((*ns)->Write(std::move(req).value()).ok());
  }
  auto all = db_->ListNamespaces("", "", 2);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->names, (std::vector<std::string>{"alpha", "alpine"}));
  ASSERT_TRUE(all->next_cursor.has_value());
  auto rest = db_->ListNamespaces("", *all->next_cursor, 10);
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest->names, (std::vector<std::string>{"beta", "docs"}));
  auto al = db_->ListNamespaces("al", "", 10);
  ASSERT_TRUE(al.ok());
  EXPECT_EQ(al->names.size(), 2u);
  ASSERT_TRUE(db_->DeleteNamespace("beta").ok());
  EXPECT_TRUE(db_->DeleteNamespace("beta").IsNotFound());
  auto after = db_->ListNamespaces("b", "", 10);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->names.empty());
  EXPECT_TRUE(db_->OpenNamespace("bad/name").status().IsInvalidArgument());
}

TEST_F(NamespaceTest, WarmStrongQueryCostsOneStoreRequest) {
  ASSERT_TRUE(Write(R"({"upsert_rows": [{"id": 1, "v": 1}]})").ok());
  {
    Status st = ns_->IndexNow();
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  (void)CountAll();
  auto r = Query(R"({"top_k": 5})");
  ASSERT_TRUE(r.ok());
  counting_->Reset();
  auto r2 = Query(R"({"top_k": 5})");
  ASSERT_TRUE(r2.ok());
  // One probe for a newer WAL entry (plus, at most once a second, the manifest).
  EXPECT_LE(counting_->counters().requests(), 2u);
  EXPECT_EQ(r2->rows.size(), 1u);
  auto ev = Query(R"({"top_k": 5, "consistency": {"level": "eventual"}})");
  ASSERT_TRUE(ev.ok());
}

}  // namespace
}  // namespace gannet

namespace gannet {
namespace {

TEST_F(NamespaceTest, MultiQueryRunsOnOneSnapshot) {
  ASSERT_TRUE(Write(R"({"upsert_rows": [{"id": 1, "n": 1}, {"id": 2, "n": 2}]})").ok());
  auto a = ParseQueryRequest(R"({"rank_by": ["n", "desc"], "top_k": 1})");
  auto b = ParseQueryRequest(R"({"aggregate_by": {"c": ["Count"]}})");
  ASSERT_TRUE(a.ok() && b.ok());
  auto r = ns_->MultiQuery({*a, *b});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].rows[0].id, Id(uint64_t{2}));
  EXPECT_EQ((*r)[1].aggregations.at("c").as_uint(), 2u);
  auto bad = ParseQueryRequest(R"({"rank_by": ["nope", "asc"]})");
  ASSERT_TRUE(bad.ok());
  auto e = ns_->MultiQuery({*a, *bad});
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("queries[1]"), std::string::npos) << e.status().ToString();
}

}  // namespace
}  // namespace gannet

namespace gannet {
namespace {

// A store whose listings miss one key, as a directory listing racing a create can.
class ListMissesKeyStore final : public storage::ForwardingStore<> {
 public:
  ListMissesKeyStore(ObjectStorePtr base, std::string missing)
      : ForwardingStore(std::move(base)), missing_(std::move(missing)) {}
  Result<ListResult> List(std::string_view p, std::string_view a, size_t l) override {
    GANNET_ASSIGN_OR_RETURN(ListResult r, base_->List(p, a, l));
    std::erase_if(r.objects, [&](const ObjectMeta& o) { return o.key == missing_; });
    return r;
  }
  std::string Describe() const override { return "list-misses"; }

 private:
  std::string missing_;
};

// A namespace loaded in bulk was left in as many segments as background indexing cut
// (GCIDE's 126k rows: three), and compaction only merged beyond compact_max_segments, so
// every query paid three segments' term lookups for good. Idle maintenance merges small
// namespaces' segments into one, unless the segments besides the largest hold less than
// a quarter of its bytes (rewriting it for them would not pay).
TEST(SmallNamespaceTest, IdleMaintenanceMergesSmallNamespacesIntoOneSegment) {
  auto run = [](const std::vector<int>& batches, uint64_t small_bytes) {
    DatabaseOptions o;
    o.store = NewMemoryStore();
    o.background_indexing = false;  // maintenance is run below, by hand
    o.index_idle = std::chrono::milliseconds(0);
    o.compact_small_bytes = small_bytes;
    auto db = Database::Open(o);
    EXPECT_TRUE(db.ok());
    auto ns = *(*db)->OpenNamespace("bulk");
    int id = 0;
    for (int rows : batches) {
      std::string json = R"({"upsert_rows": [)";
      for (int i = 0; i < rows; ++i, ++id) {
        json += (i ? "," : "") + std::string(R"({"id": )") + std::to_string(id) +
                R"(, "text": "row number )" + std::to_string(id) + R"("})";
      }
      EXPECT_TRUE(ns->Write(*ParseWriteRequest(json + "]}")).ok());
      EXPECT_TRUE(ns->IndexNow().ok());
    }
    EXPECT_EQ(ns->Info()->segment_count, batches.size());
    static_cast<db::NamespaceImpl*>(ns.get())->MaybeMaintain();
    auto count = ns->Query(*ParseQueryRequest(R"({"aggregate_by": {"n": ["Count"]}})"));
    EXPECT_TRUE(count.ok());
    EXPECT_EQ(count->aggregations.at("n").as_uint(), static_cast<uint64_t>(id));
    return ns->Info()->segment_count;
  };
  EXPECT_EQ(run({600, 300, 100}, 64 << 20), 1u);
  EXPECT_EQ(run({2000, 100}, 64 << 20), 2u) << "100 rows are far less than a quarter of 2000";
  EXPECT_EQ(run({600, 300, 100}, 0), 3u) << "disabled";
  EXPECT_EQ(run({600, 300, 100}, 1000), 3u) << "larger than compact_small_bytes";
}

// Regression: compaction always merged the two smallest segments, even when together they
// held more than its memory cap (256 MiB), so a namespace past compact_max_segments times
// the cap (10M rows of 128-d vectors) kept merging its largest segments into ever larger
// ones, each merge holding all of them in memory. Segments that cannot be merged within
// compact_max_bytes stay as they are, and a namespace left with more of them than
// compact_max_segments may still be dropped by the memory budget (no compaction is due).
TEST(CompactionTest, NeverMergesPastCompactMaxBytes) {
  ObjectStorePtr store = NewMemoryStore();
  auto open = [&](uint64_t max_bytes) {
    DatabaseOptions o;
    o.store = store;
    o.background_indexing = false;
    o.compact_max_segments = 2;
    o.compact_max_bytes = max_bytes;
    auto db = Database::Open(o);
    EXPECT_TRUE(db.ok());
    return std::move(db).value();
  };
  uint64_t largest = 0;
  {
    auto db = open(UINT64_MAX);
    auto ns = *db->OpenNamespace("big");
    for (int s = 0; s < 3; ++s) {  // three segments of the same shape
      std::string rows;
      for (int i = 100 * (s + 1); i < 100 * (s + 2); ++i) {
        rows += (rows.empty() ? "" : ",") + std::string(R"({"id": )") + std::to_string(i) +
                R"(, "vector": [)" + std::to_string(i) + ", 1]}";
      }
      ASSERT_TRUE(ns->Write(*ParseWriteRequest(R"({"upsert_rows": [)" + rows + "]}")).ok());
      ASSERT_TRUE(ns->IndexNow().ok());
    }
    auto listed = store->List("ns/big/segments/");
    ASSERT_TRUE(listed.ok());
    for (const ObjectMeta& m : listed->objects) largest = std::max(largest, m.size);
    ASSERT_GT(largest, 0u);
  }
  auto segments = [](Namespace& ns) { return ns.Info()->segment_count; };
  {
    auto db = open(largest * 3 / 2);  // no two fit
    auto ns = *db->OpenNamespace("big");
    ASSERT_EQ(segments(*ns), 3u);
    ASSERT_TRUE(ns->Compact().ok());
    EXPECT_EQ(segments(*ns), 3u) << "merged past compact_max_bytes";
    EXPECT_TRUE(static_cast<db::NamespaceImpl*>(ns.get())->footprint().evictable)
        << "kept loaded for a compaction that cannot run";
  }
  {
    auto db = open(largest * 5 / 2);  // two fit, three do not
    auto ns = *db->OpenNamespace("big");
    ASSERT_TRUE(ns->Compact().ok());
    EXPECT_EQ(segments(*ns), 2u);
    auto count = ns->Query(*ParseQueryRequest(R"({"aggregate_by": {"n": ["Count"]}})"));
    ASSERT_TRUE(count.ok());
    EXPECT_EQ(count->aggregations.at("n").as_uint(), 300u);
  }
}

// Regression: the 10-minute server soak failed strong reads with "WAL gap: expected N,
// found N+1" when a listing of a long WAL backlog missed an entry being created.
TEST(CatchUpTest, ListingThatMissesAnEntryIsNotAGap) {
  ObjectStorePtr base = NewMemoryStore();
  DatabaseOptions o;
  o.store = base;
  o.background_indexing = false;
  auto writer = Database::Open(o);
  ASSERT_TRUE(writer.ok());
  auto wns = *(*writer)->OpenNamespace("g");
  for (int i = 0; i < 12; ++i) {
    auto w = wns->Write(
        *ParseWriteRequest(R"({"upsert_rows": [{"id": )" + std::to_string(i) + R"(, "v": 1}]})"));
    ASSERT_TRUE(w.ok()) << w.status().ToString();
  }
  o.store = std::make_shared<ListMissesKeyStore>(base, "ns/g/wal/00000000000000000007");
  auto reader = Database::Open(o);
  ASSERT_TRUE(reader.ok());
  auto rns = *(*reader)->OpenNamespace("g");
  auto r = rns->Query(*ParseQueryRequest(R"({"aggregate_by": {"n": ["Count"]}})"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->aggregations.at("n").as_uint(), 12u);
}

}  // namespace
}  // namespace gannet

namespace gannet {
namespace {

// Counts the most GETs in flight at once (each GET waits a little so overlaps show).
class InFlightStore final : public storage::ForwardingStore<> {
 public:
  explicit InFlightStore(ObjectStorePtr base) : ForwardingStore(std::move(base)) {}
  Result<GetResult> Get(std::string_view k, std::optional<ByteRange> r) override {
    const int now = ++in_flight_;
    int seen = max_in_flight_.load();
    while (now > seen && !max_in_flight_.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    auto out = base_->Get(k, r);
    --in_flight_;
    return out;
  }
  std::string Describe() const override { return "in-flight"; }
  int max_in_flight() const { return max_in_flight_.load(); }

 private:
  std::atomic<int> in_flight_{0}, max_in_flight_{0};
};

TEST(ColdQueryTest, AtMostThreeRoundTripsWithParallelFetches) {
  ObjectStorePtr base = NewMemoryStore();
  DatabaseOptions o;
  o.store = base;
  o.background_indexing = false;
  o.compact_max_segments = 100;
  {
    auto writer = Database::Open(o);
    ASSERT_TRUE(writer.ok());
    auto ns = *(*writer)->OpenNamespace("cold");
    for (int s = 0; s < 5; ++s) {  // five segments, the older ones with deletion vectors
      std::string rows;
      for (int i = 0; i < 50; ++i) {
        if (i) rows += ",";
        const int id = s * 40 + i;  // overlapping ids: newer segments shadow older rows
        rows +=
            R"({"id": )" + std::to_string(id) + R"(, "vector": [)" + std::to_string(id) + ", 1]}";
      }
      ASSERT_TRUE(ns->Write(*ParseWriteRequest(R"({"upsert_rows": [)" + rows + "]}")).ok());
      ASSERT_TRUE(ns->IndexNow().ok());
    }
    ASSERT_TRUE(
        ns->Write(*ParseWriteRequest(R"({"upsert_rows": [{"id": 1000, "vector": [1, 1]}]})"))
            .ok());  // one unindexed entry
    auto info = ns->Info();
    ASSERT_TRUE(info.ok());
    ASSERT_EQ(info->segment_count, 5u);
  }
  auto spy = std::make_shared<InFlightStore>(base);
  o.store = spy;
  auto reader = Database::Open(o);
  ASSERT_TRUE(reader.ok());
  auto ns = *(*reader)->OpenNamespace("cold");
  auto r = ns->Query(*ParseQueryRequest(R"({"rank_by": ["vector", "kNN", [3, 1]], "top_k": 3})"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->rows[0].id, Id(uint64_t{3}));
  // Manifest; then segments, deletion vectors and the WAL probe at once; then the probe
  // for the entry after the one found.
  EXPECT_LE(r->stats.round_trips, 3u);
  EXPECT_GE(r->stats.objects_fetched, 10u);
  EXPECT_GT(spy->max_in_flight(), 1);
  // Warm: one round trip, the probe for a newer WAL entry.
  auto warm = ns->Query(*ParseQueryRequest(R"({"top_k": 1})"));
  ASSERT_TRUE(warm.ok());
  EXPECT_EQ(warm->stats.round_trips, 1u);
  EXPECT_EQ(warm->stats.objects_fetched, 1u);
}

}  // namespace
}  // namespace gannet

namespace gannet {
namespace {

// A restarted process over a bucket reads segments and indexes from the disk cache: the
// only object-store GETs of its first query are the manifest and the WAL probe.
TEST(DiskCacheEngineTest, RestartedProcessLoadsSegmentsFromDisk) {
  char dir[] = "/tmp/gannet-dc-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  auto bucket = NewCountingStore(NewMemoryStore());
  auto open = [&]() {
    CacheOptions c{0, IsImmutableDataKey, std::string(dir) + "/cache", 64 << 20};
    auto cached = OpenCachingStore(bucket, c);
    EXPECT_TRUE(cached.ok()) << cached.status().ToString();
    DatabaseOptions o;
    o.store = *cached;
    o.background_indexing = false;
    return std::make_pair(*cached, std::move(Database::Open(o)).value());
  };
  const std::string q =
      R"({"rank_by": ["text", "BM25", "gannet"], "top_k": 3, "include_attributes": ["n"]})";
  std::vector<Id> first;
  {
    auto [cache, db] = open();
    auto ns = *db->OpenNamespace("docs");
    std::string rows;
    for (int i = 0; i < 300; ++i) {
      rows += (i ? "," : "") + std::string(R"({"id": )") + std::to_string(i) + R"(, "vector": [)" +
              std::to_string(i % 7) + R"(, 1], "n": )" + std::to_string(i) +
              R"(, "text": "gannet number )" + std::to_string(i % 13) + R"("})";
    }
    ASSERT_TRUE(ns->Write(*ParseWriteRequest(
                              R"({"schema": {"text": {"type": "string", "full_text_search": true}},
                                  "upsert_rows": [)" +
                              rows + "]}"))
                    .ok());
    ASSERT_TRUE(ns->IndexNow().ok());
    auto r = ns->Query(*ParseQueryRequest(q));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    for (const auto& row : r->rows) first.push_back(row.id);
    db->Close();
  }
  bucket->Reset();
  auto [cache, db] = open();
  auto ns = *db->OpenNamespace("docs");
  auto r = ns->Query(*ParseQueryRequest(q));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::vector<Id> again;
  for (const auto& row : r->rows) again.push_back(row.id);
  EXPECT_EQ(again, first);
  EXPECT_GE(cache->stats().disk_hits, 2u);  // the segment and its text index
  EXPECT_GE(r->stats.cache_hits, 2u);       // and the query says so
  EXPECT_LE(r->stats.objects_fetched, 3u);
  EXPECT_LE(bucket->counters().gets, 3u);  // manifest, WAL probe (+ catalog)
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace gannet

namespace gannet {
namespace {

// Decoded namespaces share one memory budget: past it, the least recently used ones drop
// their snapshots and reload them when next used; namespaces with unindexed writes stay.
TEST(MemoryBudgetTest, LeastRecentlyUsedNamespacesAreDroppedAndReloaded) {
  ObjectStorePtr base = NewMemoryStore();
  DatabaseOptions o;
  o.store = base;
  o.background_indexing = false;
  auto write = [](Namespace& ns, int first, int n) {
    std::string rows;
    for (int i = first; i < first + n; ++i) {
      if (i > first) rows += ",";
      rows += R"({"id": )" + std::to_string(i) + R"(, "vector": [)" + std::to_string(i % 97) +
              R"(, 1, 2, 3, 4, 5, 6, 7], "tag": "row number )" + std::to_string(i) + R"("})";
    }
    ASSERT_TRUE(ns.Write(*ParseWriteRequest(R"({"upsert_rows": [)" + rows + "]}")).ok());
  };
  uint64_t one = 0;  // bytes one loaded namespace holds
  {
    auto writer = Database::Open(o);
    ASSERT_TRUE(writer.ok());
    for (const char* name : {"a", "b", "c"}) {
      auto ns = *(*writer)->OpenNamespace(name);
      write(*ns, 0, 2000);
      ASSERT_TRUE(ns->IndexNow().ok());
    }
    auto stats = static_cast<db::DatabaseImpl*>(writer->get())->memory_stats();
    one = stats.used_bytes / 3;
    EXPECT_GT(one, 2000u * 8 * sizeof(float)) << "vectors alone take this much";
    EXPECT_EQ(stats.evictions, 0u) << "the default budget is half of physical memory";
  }
  o.memory_budget_bytes = one * 5 / 2;  // room for two namespaces, not three
  auto db = Database::Open(o);
  ASSERT_TRUE(db.ok());
  auto* impl = static_cast<db::DatabaseImpl*>(db->get());
  auto query = [&](const char* name) {
    auto ns = *(*db)->OpenNamespace(name);
    auto r =
        ns->Query(*ParseQueryRequest(R"({"rank_by": ["vector", "kNN", [5, 1, 2, 3, 4, 5, 6, 7]],
                                              "top_k": 3, "include_attributes": ["tag"]})"));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (r.ok()) {
      EXPECT_EQ(r->rows[0].id, Id(uint64_t{5})) << name;
    }
    return r.ok() ? r->stats : QueryStats{};
  };
  EXPECT_GT(query("a").bytes_read, one / 10) << "a cold load reads the segment";
  (void)query("b");
  EXPECT_EQ(impl->memory_stats().evictions, 0u);
  EXPECT_LT(query("b").bytes_read, 1000u) << "warm";
  (void)query("c");  // over budget: "a", the least recently used, is dropped
  EXPECT_EQ(impl->memory_stats().evictions, 1u);
  EXPECT_LE(impl->memory_stats().used_bytes, o.memory_budget_bytes);
  EXPECT_LT(query("b").bytes_read, 1000u) << "b stayed loaded";
  EXPECT_LT(query("c").bytes_read, 1000u) << "c stayed loaded";
  EXPECT_GT(query("a").bytes_read, one / 10) << "a was dropped and loads again";
  EXPECT_EQ(impl->memory_stats().evictions, 2u) << "loading a dropped b";

  // A namespace with unindexed writes is never dropped: background indexing needs it.
  auto d = *(*db)->OpenNamespace("d");
  write(*d, 0, 2000);  // WAL only
  (void)query("c");
  (void)query("a");
  EXPECT_EQ(d->Query(*ParseQueryRequest(R"({"aggregate_by": {"n": ["Count"]}})"))
                ->aggregations.at("n")
                .as_uint(),
            2000u);
  auto warm_d = d->Query(*ParseQueryRequest(R"({"top_k": 1})"));
  ASSERT_TRUE(warm_d.ok());
  EXPECT_LT(warm_d->stats.bytes_read, 1000u) << "d kept its tail in memory";
}

// Regression: background maintenance skipped namespaces without a loaded snapshot, so
// the WAL entries an indexing had just folded into a segment stayed in the store for as
// long as the memory budget kept the namespace dropped.
TEST(MemoryBudgetTest, DroppedNamespacesAreStillGarbageCollected) {
  ObjectStorePtr store = NewMemoryStore();
  DatabaseOptions o;
  o.store = store;
  o.background_indexing = false;
  o.gc_grace = std::chrono::milliseconds(0);
  o.memory_budget_bytes = 1;
  auto db = Database::Open(o);
  ASSERT_TRUE(db.ok());
  auto a = *(*db)->OpenNamespace("a");
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(
        a->Write(*ParseWriteRequest(R"({"upsert_rows": [{"id": )" + std::to_string(i) + "}]}"))
            .ok());
  }
  ASSERT_TRUE(a->IndexNow().ok());
  auto b = *(*db)->OpenNamespace("b");
  ASSERT_TRUE(b->Write(*ParseWriteRequest(R"({"upsert_rows": [{"id": 1}]})")).ok());
  ASSERT_TRUE(b->IndexNow().ok());  // loading b drops a
  auto* impl = static_cast<db::NamespaceImpl*>(a.get());
  ASSERT_EQ(impl->footprint().bytes, 0u) << "a was not dropped";
  const std::string wal = db::Keys("", "a").wal_prefix();
  ASSERT_EQ(store->List(wal)->objects.size(), 3u);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));  // older than the grace of 0
  impl->MaybeMaintain();
  EXPECT_EQ(store->List(wal)->objects.size(), 0u) << "indexed WAL entries were collected";
  EXPECT_EQ(impl->footprint().bytes, 0u) << "collecting did not load the namespace";
  EXPECT_EQ(a->Query(*ParseQueryRequest(R"({"aggregate_by": {"n": ["Count"]}})"))
                ->aggregations.at("n")
                .as_uint(),
            3u);
}

// Readers and a writer on several namespaces while the budget keeps dropping them:
// every answer stays complete and correct (TSan runs this too).
TEST(MemoryBudgetTest, ConcurrentUseWhileNamespacesAreDropped) {
  DatabaseOptions o;
  o.store = NewMemoryStore();
  o.background_indexing = false;
  o.memory_budget_bytes = 1;  // every other namespace is dropped at each load
  auto db = Database::Open(o);
  ASSERT_TRUE(db.ok());
  constexpr int kNamespaces = 4, kRows = 300;
  for (int n = 0; n < kNamespaces; ++n) {
    auto ns = *(*db)->OpenNamespace("n" + std::to_string(n));
    std::string rows;
    for (int i = 0; i < kRows; ++i) {
      rows += std::string(i ? "," : "") + R"({"id": )" + std::to_string(i) + R"(, "v": )" +
              std::to_string(i) + "}";
    }
    ASSERT_TRUE(ns->Write(*ParseWriteRequest(R"({"upsert_rows": [)" + rows + "]}")).ok());
    ASSERT_TRUE(ns->IndexNow().ok());
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        auto ns = *(*db)->OpenNamespace("n" + std::to_string((t + i) % kNamespaces));
        const bool eventual = i % 3 == 0;
        auto r = ns->Query(*ParseQueryRequest(
            std::string(R"({"aggregate_by": {"n": ["Count"]}, "filters": ["v", "Gte", 0])") +
            (eventual ? R"(, "consistency": {"level": "eventual"}})" : "}")));
        if (!r.ok() || r->aggregations.at("n").as_uint() != kRows) ++failures;
      }
    });
  }
  threads.emplace_back([&] {  // writes keep one namespace loaded (unindexed tail)
    auto ns = *(*db)->OpenNamespace("w");
    for (int i = 0; i < 20; ++i) {
      if (!ns->Write(*ParseWriteRequest(R"({"upsert_rows": [{"id": )" + std::to_string(i) + "}]}"))
               .ok()) {
        ++failures;
      }
    }
  });
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  auto* impl = static_cast<db::DatabaseImpl*>(db->get());
  EXPECT_GT(impl->memory_stats().evictions, 10u);
}

}  // namespace
}  // namespace gannet
