// rank_by ANN through the per-segment vector index, end to end: built by indexing and
// compaction, stored beside the segment, loaded by a fresh process, kept by GC, combined
// with filters, deletions and the unindexed tail; recall against kNN.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "db/namespace_impl.h"
#include "format/segment.h"
#include "gannet/database.h"
#include "gannet/json.h"
#include "index/ivf_index.h"
#include "storage/forwarding_store.h"

namespace gannet {
namespace {

constexpr uint32_t kDims = 24;
constexpr uint64_t kRows = 4000;

std::vector<float> Centers(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0, 1);
  std::vector<float> c(40 * kDims);
  for (float& v : c) v = g(rng);
  return c;
}

// A vector near one of 40 fixed centres.
std::vector<float> Sample(std::mt19937_64& rng) {
  static const std::vector<float> centers = Centers(99);
  std::normal_distribution<float> g(0, 0.8f);
  const size_t c = std::uniform_int_distribution<size_t>(0, 39)(rng);
  std::vector<float> v(kDims);
  for (uint32_t d = 0; d < kDims; ++d) v[d] = centers[c * kDims + d] + g(rng);
  return v;
}

// Vectors of `dims` dimensions near `count` Gaussian centres (each coordinate off by
// `noise` standard deviations), from the generator it is given.
class Clusters {
 public:
  Clusters(uint32_t dims, size_t count, float noise, std::mt19937_64& rng)
      : dims_(dims), noise_(noise), centres_(count * dims) {
    for (float& v : centres_) v = g_(rng);
  }
  std::vector<float> Sample(std::mt19937_64& rng) {
    const size_t c = std::uniform_int_distribution<size_t>(0, centres_.size() / dims_ - 1)(rng);
    std::vector<float> v(dims_);
    for (uint32_t d = 0; d < dims_; ++d) v[d] = centres_[c * dims_ + d] + noise_ * g_(rng);
    return v;
  }

 private:
  uint32_t dims_;
  float noise_;
  std::normal_distribution<float> g_{0, 1};
  std::vector<float> centres_;
};

class AnnTest : public ::testing::TestWithParam<DistanceMetric> {
 protected:
  void SetUp() override {
    store_ = NewMemoryStore();
    Open();
    std::mt19937_64 rng(7);
    for (uint64_t base = 0; base < kRows; base += 1000) {
      WriteRequest w = Rows(base, base + 1000, rng);
      w.distance_metric = GetParam();
      ASSERT_TRUE(ns_->Write(std::move(w)).ok());
    }
    ASSERT_TRUE(ns_->IndexNow().ok());
    for (int i = 0; i < 30; ++i) queries_.push_back(Sample(rng));
  }

  // Upserts of rows [from, to): a bucket of 100 (Eq: 1% of rows), a category of 10 (Eq:
  // 10%; Lt 5: 50%) and a vector.
  static WriteRequest Rows(uint64_t from, uint64_t to, std::mt19937_64& rng) {
    WriteRequest w;
    for (uint64_t i = from; i < to; ++i) {
      Document d;
      d.id = Id(i);
      d.Set("bucket", Value::Uint(i % 100));
      d.Set("cat", Value::Uint(i % 10));
      d.Set("vector", Value::Vector(Sample(rng)));
      w.upserts.push_back(std::move(d));
    }
    return w;
  }

  // A process on store_ (compaction merges segments once there are more than
  // compact_max_segments).
  // With `cold_load_min_bytes`, segments are loaded by range (cold) and background
  // maintenance runs (it loads them whole).
  void Open(bool resident_vectors = true, size_t compact_max_segments = 8,
            uint64_t cold_load_min_bytes = 0) {
    DatabaseOptions o;
    o.store = store_;
    o.resident_indexed_vectors = resident_vectors;
    o.background_indexing = cold_load_min_bytes > 0;
    o.cold_load_min_bytes = cold_load_min_bytes;
    o.gc_grace = std::chrono::milliseconds(0);
    o.ann_min_rows = 1000;
    o.compact_max_segments = compact_max_segments;
    auto db = Database::Open(o);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    ns_ = *db_->OpenNamespace("docs");
  }

  std::vector<std::string> IndexKeys() {
    std::vector<std::string> out;
    auto list = store_->List("ns/docs/segments/");
    EXPECT_TRUE(list.ok());
    for (const ObjectMeta& o : list->objects) {
      if (o.key.size() > 4 && o.key.substr(o.key.size() - 4) == ".ivf") out.push_back(o.key);
    }
    return out;
  }

  QueryResponse Run(const std::vector<float>& q, bool ann, std::optional<Filter> filter = {},
                    std::optional<double> recall = {}) {
    QueryRequest r;
    r.rank_by.kind = RankBy::Kind::kVector;
    r.rank_by.attr = "vector";
    r.rank_by.approximate = ann;
    r.rank_by.vector = q;
    r.top_k = 10;
    r.filters = std::move(filter);
    r.ann_recall = recall;
    auto resp = ns_->Query(r);
    EXPECT_TRUE(resp.ok()) << resp.status().ToString();
    return resp.ok() ? *resp : QueryResponse{};
  }

  // Mean recall@10 of ANN against kNN over the queries; checks that distances agree.
  double Recall(std::optional<Filter> filter = {}, std::optional<double> target = {}) {
    double sum = 0;
    for (const auto& q : queries_) {
      QueryResponse exact = Run(q, false, filter);
      QueryResponse approx = Run(q, true, filter, target);
      EXPECT_EQ(approx.rows.size(), exact.rows.size());
      size_t hits = 0;
      for (const ResultRow& a : approx.rows) {
        for (const ResultRow& e : exact.rows) {
          if (a.id == e.id) {
            EXPECT_EQ(a.dist, e.dist) << "ANN and kNN disagree on a distance";
            ++hits;
          }
        }
      }
      sum += exact.rows.empty() ? 1.0 : static_cast<double>(hits) / exact.rows.size();
    }
    return sum / queries_.size();
  }

  // Each query's ANN answer now equals `before`'s (ids and distances, in order).
  void ExpectSameAnswers(const std::vector<QueryResponse>& before) {
    ASSERT_EQ(before.size(), queries_.size());
    for (size_t i = 0; i < queries_.size(); ++i) {
      QueryResponse after = Run(queries_[i], true);
      ASSERT_EQ(after.rows.size(), before[i].rows.size());
      for (size_t j = 0; j < after.rows.size(); ++j) {
        EXPECT_EQ(after.rows[j].id, before[i].rows[j].id);
        EXPECT_EQ(after.rows[j].dist, before[i].rows[j].dist);
      }
    }
  }

  // Flips a bit in the middle of the object at `key`.
  void Damage(const std::string& key) {
    auto g = store_->Get(key);
    ASSERT_TRUE(g.ok());
    std::string bad = g->data;
    bad[bad.size() / 2] ^= 1;
    ASSERT_TRUE(store_->Delete(key).ok());
    ASSERT_TRUE(store_->PutIfAbsent(key, bad).ok());
  }

  static Filter Cmp(std::string attr, Filter::Op op, Value v) {
    Filter f;
    f.op = op;
    f.attr = std::move(attr);
    f.value = std::move(v);
    return f;
  }

  ObjectStorePtr store_;
  std::unique_ptr<Database> db_;
  std::shared_ptr<Namespace> ns_;
  std::vector<std::vector<float>> queries_;
};

TEST_P(AnnTest, IndexIsBuiltAndUsedWithRecall) {
  EXPECT_EQ(IndexKeys().size(), 1u);
  QueryResponse r = Run(queries_[0], true);
  EXPECT_EQ(r.rows.size(), 10u);
  EXPECT_EQ(r.stats.exhaustive_search_count, 0u);
  EXPECT_LT(r.stats.rows_scanned, kRows / 2);
  EXPECT_EQ(Run(queries_[0], false).stats.exhaustive_search_count, kRows);
  EXPECT_GE(Recall(), 0.95);
  EXPECT_GE(Recall({}, 1.0), 0.999);
}

// Indexing more rows into a namespace with an index seeds the new segment's clusters from
// it (incremental maintenance); the new segment's index must recall as well as one built
// from scratch.
TEST_P(AnnTest, NewSegmentIndexedFromExistingClustersKeepsRecall) {
  std::mt19937_64 rng(8);
  ASSERT_TRUE(ns_->Write(Rows(kRows, 2 * kRows, rng)).ok());
  ASSERT_TRUE(ns_->IndexNow().ok());
  EXPECT_EQ(IndexKeys().size(), 2u);
  EXPECT_EQ(Run(queries_[0], true).stats.exhaustive_search_count, 0u);
  EXPECT_GE(Recall(), 0.95);
  EXPECT_GE(Recall(Cmp("cat", Filter::Op::kEq, Value::Uint(3))), 0.95);
}

// Compaction maintains the clustering of its largest input (the rows it held keep their
// lists; db/seed_rows.h maps them by id): with that input's ids interleaved with the other
// input's (a quarter of them overwritten there), the merged index must still recall.
TEST_P(AnnTest, CompactionMaintainingTheLargestInputsClustersKeepsRecall) {
  std::mt19937_64 rng(9);
  WriteRequest w = Rows(0, 1000, rng);  // overwrites: rows of the first segment die
  WriteRequest more = Rows(kRows, kRows + 1000, rng);
  for (Document& d : more.upserts) w.upserts.push_back(std::move(d));
  ASSERT_TRUE(ns_->Write(std::move(w)).ok());
  ASSERT_TRUE(ns_->IndexNow().ok());
  ASSERT_EQ(IndexKeys().size(), 2u);
  db_->Close();
  Open(/*resident_vectors=*/true, /*compact_max_segments=*/1);
  ASSERT_TRUE(ns_->Compact().ok());
  ASSERT_EQ(ns_->Info()->segment_count, 1u);
  ASSERT_EQ(ns_->Info()->approx_row_count, kRows + 1000);
  EXPECT_EQ(Run(queries_[0], true).stats.exhaustive_search_count, 0u);
  EXPECT_GE(Recall(), 0.95);
  EXPECT_GE(Recall(Cmp("cat", Filter::Op::kEq, Value::Uint(3))), 0.95);
}

TEST_P(AnnTest, FilteredRecall) {
  // 1% (answered exactly over the matching rows), 10%, 50%.
  EXPECT_GE(Recall(Cmp("bucket", Filter::Op::kEq, Value::Uint(7))), 0.95);
  EXPECT_GE(Recall(Cmp("cat", Filter::Op::kEq, Value::Uint(3))), 0.95);
  EXPECT_GE(Recall(Cmp("cat", Filter::Op::kLt, Value::Uint(5))), 0.95);
  for (const ResultRow& row :
       Run(queries_[1], true, Cmp("cat", Filter::Op::kEq, Value::Uint(3))).rows) {
    EXPECT_EQ(row.id.as_uint() % 10, 3u);
  }
}

TEST_P(AnnTest, SameResultsAfterLoadingTheIndexFromTheStore) {
  std::vector<QueryResponse> before;
  for (const auto& q : queries_) before.push_back(Run(q, true));
  const QueryResponse filtered_before =
      Run(queries_[0], true, Cmp("cat", Filter::Op::kEq, Value::Uint(3)));
  db_->Close();
  Open();  // a fresh process: segment and index come from the store
  ExpectSameAnswers(before);
  QueryResponse filtered_after =
      Run(queries_[0], true, Cmp("cat", Filter::Op::kEq, Value::Uint(3)));
  ASSERT_EQ(filtered_after.rows.size(), filtered_before.rows.size());
  for (size_t j = 0; j < filtered_after.rows.size(); ++j) {
    EXPECT_EQ(filtered_after.rows[j].id, filtered_before.rows[j].id);
  }
}

// A load assembles its segments on several threads at once (AssembleAll, each index's
// codes derived on the threads left): the same answers as the process that wrote them,
// and a damaged object among them is Corruption naming it, never an answer.
TEST_P(AnnTest, SegmentsAssembledTogetherAnswerAsBeforeAndReportDamage) {
  db_->Close();
  Open(/*resident_vectors=*/true, /*compact_max_segments=*/64);
  std::mt19937_64 rng(11);
  for (uint64_t base = kRows; base < kRows + 4000; base += 1000) {
    ASSERT_TRUE(ns_->Write(Rows(base, base + 1000, rng)).ok());
    ASSERT_TRUE(ns_->IndexNow().ok());
  }
  auto info = ns_->Info();
  ASSERT_TRUE(info.ok());
  ASSERT_GE(info->segment_count, 5u);
  std::vector<QueryResponse> before;
  for (const auto& q : queries_) before.push_back(Run(q, true));
  db_->Close();
  Open(true, 64);
  ExpectSameAnswers(before);
  const std::vector<std::string> keys = IndexKeys();
  ASSERT_GE(keys.size(), 5u);
  Damage(keys[2]);
  db_->Close();
  Open(true, 64);
  QueryRequest r;
  r.rank_by = {RankBy::Kind::kVector, "vector", true, queries_[0], false};
  auto resp = ns_->Query(r);
  ASSERT_FALSE(resp.ok());
  EXPECT_TRUE(resp.status().IsCorruption()) << resp.status().ToString();
  EXPECT_NE(resp.status().message().find(keys[2]), std::string::npos) << resp.status().ToString();
}

TEST_P(AnnTest, TailDeletesAndCompactionStayCorrect) {
  // Take the current nearest rows of a query and change them in the (unindexed) tail:
  // delete two, move one onto the query. ANN must reflect the tail exactly as kNN does.
  const std::vector<float>& q = queries_[2];
  QueryResponse first = Run(q, true);
  ASSERT_GE(first.rows.size(), 3u);
  WriteRequest w;
  w.deletes = {first.rows[0].id, first.rows[1].id};
  Document moved;
  moved.id = first.rows[2].id;
  std::vector<float> far(kDims, 50.0f);
  moved.Set("vector", Value::Vector(far));
  w.upserts.push_back(moved);
  ASSERT_TRUE(ns_->Write(std::move(w)).ok());
  auto check = [&] {
    QueryResponse a = Run(q, true), e = Run(q, false);
    std::set<Id> ids;
    for (const ResultRow& r : a.rows) ids.insert(r.id);
    EXPECT_EQ(
        ids.count(first.rows[0].id) + ids.count(first.rows[1].id) + ids.count(first.rows[2].id),
        0u);
    EXPECT_GE(Recall(), 0.95);
    QueryResponse near_far = Run(far, true);
    ASSERT_FALSE(near_far.rows.empty());
    EXPECT_EQ(near_far.rows[0].id, first.rows[2].id);
    EXPECT_EQ(near_far.rows[0].dist, Run(far, false).rows[0].dist);
  };
  check();
  ASSERT_TRUE(ns_->IndexNow().ok());  // small second segment (no index), deletion vector
  check();
  ASSERT_TRUE(ns_->CollectGarbage().ok());
  EXPECT_EQ(IndexKeys().size(), 1u) << "the live segment's index was collected";
  check();
  // Compaction merges both into one segment with a new index; GC drops the old one.
  db_->Close();
  Open(/*resident_vectors=*/true, /*compact_max_segments=*/1);
  ASSERT_TRUE(ns_->Compact().ok());
  ASSERT_EQ(ns_->Info()->segment_count, 1u);
  ASSERT_TRUE(ns_->CollectGarbage().ok());
  auto healthy = ns_->Verify();
  ASSERT_TRUE(healthy.ok());
  EXPECT_TRUE(healthy->problems.empty());
  EXPECT_EQ(healthy->unknown_objects, 0u);
  const std::vector<std::string> keys = IndexKeys();
  ASSERT_EQ(keys.size(), 1u);
  check();
  // A damaged index is reported, never used.
  Damage(keys[0]);
  auto report = ns_->Verify();
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->problems.size(), 1u);
  EXPECT_NE(report->problems[0].find(".ivf"), std::string::npos) << report->problems[0];
  db_->Close();
  Open();
  QueryRequest r;
  r.rank_by = {RankBy::Kind::kVector, "vector", true, q, false};
  auto resp = ns_->Query(r);
  ASSERT_FALSE(resp.ok());
  EXPECT_TRUE(resp.status().IsCorruption()) << resp.status().ToString();
}

// With resident_indexed_vectors off, an indexed segment's vectors are read by byte range:
// every answer (ANN with and without filters, kNN, returned vectors, lookups, patches,
// compaction) must equal the resident one, and damage found by a ranged read is an error.
TEST_P(AnnTest, VectorsReadByRangeGiveTheSameAnswersAsResidentOnes) {
  const Filter one_percent = Cmp("bucket", Filter::Op::kEq, Value::Uint(7));  // exact path
  const Filter ten_percent = Cmp("cat", Filter::Op::kEq, Value::Uint(3));
  auto run_all = [&] {
    std::vector<QueryResponse> out;
    for (size_t i = 0; i < 10; ++i) {
      out.push_back(Run(queries_[i], true));
      out.push_back(Run(queries_[i], false));
      out.push_back(Run(queries_[i], true, one_percent));
      out.push_back(Run(queries_[i], true, ten_percent));
    }
    QueryRequest r;
    r.rank_by = {RankBy::Kind::kVector, "vector", true, queries_[0], false};
    r.include_attributes.all = true;
    out.push_back(*ns_->Query(r));
    return out;
  };
  auto expect_same = [](const std::vector<QueryResponse>& a, const std::vector<QueryResponse>& b) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      ASSERT_EQ(a[i].rows.size(), b[i].rows.size()) << "query " << i;
      ASSERT_FALSE(a[i].rows.empty());
      for (size_t j = 0; j < a[i].rows.size(); ++j) {
        EXPECT_EQ(a[i].rows[j].id, b[i].rows[j].id) << "query " << i << " row " << j;
        EXPECT_EQ(a[i].rows[j].dist, b[i].rows[j].dist);
        EXPECT_EQ(a[i].rows[j].attrs, b[i].rows[j].attrs);
      }
    }
  };
  const std::vector<QueryResponse> resident = run_all();
  ASSERT_FALSE(resident.back().rows[0].attrs.empty());
  const std::vector<Id> ids = {Id(uint64_t{5}), Id(uint64_t{1234}), Id(uint64_t{3999})};
  const std::vector<Document> got_resident = *ns_->Get(ids);
  db_->Close();

  auto counting = NewCountingStore(store_);
  const ObjectStorePtr plain = store_;
  store_ = counting;
  Open(/*resident_vectors=*/false);
  expect_same(resident, run_all());
  const std::vector<Document> got = *ns_->Get(ids);
  ASSERT_EQ(got.size(), got_resident.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].attrs, got_resident[i].attrs);
  // Queries read vectors by range: a second pass makes requests but loads nothing whole.
  counting->Reset();
  (void)Run(queries_[1], true);
  EXPECT_GE(counting->counters().gets, 1u);
  EXPECT_LT(counting->counters().bytes_read, kRows * kDims * 4 / 4) << "not by range";

  // A patch keeps the vector it did not touch (read by range), through the tail, indexing
  // and a compaction that rewrites the segments from ranged reads.
  WriteRequest w;
  Document patch;
  patch.id = ids[1];
  patch.Set("cat", Value::Uint(77));
  w.patches.push_back(patch);
  ASSERT_TRUE(ns_->Write(std::move(w)).ok());
  auto vector_of = [&](const Id& id) {
    const std::vector<Document> docs = *ns_->Get({id});
    EXPECT_EQ(docs.size(), 1u);
    const Value* v = docs.empty() ? nullptr : docs[0].Find("vector");
    return v != nullptr ? v->as_vector() : std::vector<float>{};
  };
  const std::vector<float> before = got_resident[1].Find("vector")->as_vector();
  EXPECT_EQ(vector_of(ids[1]), before);
  ASSERT_TRUE(ns_->IndexNow().ok());
  EXPECT_EQ(vector_of(ids[1]), before);
  db_->Close();
  Open(/*resident_vectors=*/false, /*compact_max_segments=*/1);
  ASSERT_TRUE(ns_->Compact().ok());
  ASSERT_EQ(ns_->Info()->segment_count, 1u);
  ASSERT_TRUE(ns_->CollectGarbage().ok());  // the live segment is the only one left
  EXPECT_EQ(vector_of(ids[1]), before);
  EXPECT_EQ(vector_of(ids[0]), got_resident[0].Find("vector")->as_vector());
  EXPECT_GE(Recall(), 0.95);

  // Bit rot in the vectors after the segment was loaded (and verified whole): the ranged
  // read's chunk checksum catches it; the query fails, it does not answer wrongly.
  std::string seg_key;
  auto listed = plain->List("ns/docs/segments/");
  ASSERT_TRUE(listed.ok());
  for (const ObjectMeta& o : listed->objects) {
    if (o.key.find('.') == std::string::npos) seg_key = o.key;
  }
  ASSERT_FALSE(seg_key.empty());
  std::string bytes = plain->Get(seg_key)->data;
  auto loc = format::LocateSegmentDirectory(
      std::string_view(bytes).substr(bytes.size() - format::kSegmentTailBytes), bytes.size());
  ASSERT_TRUE(loc.ok());
  auto dir = format::DecodeSegmentDirectory(
      std::string_view(bytes).substr(loc->offset, loc->length), *loc);
  ASSERT_TRUE(dir.ok());
  for (const format::SegmentBlockRef& b : dir->blocks) {
    // A bit in row 1000's vector; the frame and block checksums are left stale.
    if (b.kind == format::SegmentBlockKind::kVectors)
      bytes[b.offset + 1000 * kDims * 4 + 5] ^= 0x10;
  }
  ASSERT_TRUE(plain->Delete(seg_key).ok());
  ASSERT_TRUE(plain->PutIfAbsent(seg_key, bytes).ok());
  QueryRequest r;
  r.rank_by = {RankBy::Kind::kVector, "vector", false, queries_[0], false};  // reads all rows
  auto resp = ns_->Query(r);
  ASSERT_FALSE(resp.ok());
  EXPECT_TRUE(resp.status().IsCorruption()) << resp.status().ToString();
  EXPECT_NE(resp.status().message().find("vector chunk"), std::string::npos)
      << resp.status().ToString();
}

// With vectors read by range, memory is what counts: below kMinBinaryDims (these rows'
// 24) the indexes built then have no boundary replicas (a replica would hold a second SQ8
// code), where resident ones do; both answer. From kMinBinaryDims a replica shares its
// row's four-bit code, and ranged indexes keep them.
TEST_P(AnnTest, IndexesBuiltForRangedVectorsHaveReplicasOnlyWhereTheyShareFineCodes) {
  static_assert(kDims < index::kMinBinaryDims);
  auto decoded = [&](const std::string& key) {
    auto bytes = store_->Get(key);
    EXPECT_TRUE(bytes.ok());
    auto idx = index::IvfIndex::Decode(bytes.ok() ? bytes->data : std::string());
    EXPECT_TRUE(idx.ok()) << key;
    return idx.ok() ? *idx : nullptr;
  };
  const std::vector<std::string> resident_keys = IndexKeys();
  ASSERT_FALSE(resident_keys.empty());
  for (const std::string& key : resident_keys) {
    auto idx = decoded(key);
    ASSERT_NE(idx, nullptr);
    EXPECT_GT(idx->postings(), idx->indexed_rows()) << key;
  }
  db_->Close();
  Open(/*resident_vectors=*/false);
  std::mt19937_64 rng(11);
  ASSERT_TRUE(ns_->Write(Rows(kRows, kRows + 1500, rng)).ok());
  ASSERT_TRUE(ns_->IndexNow().ok());
  size_t fresh = 0;
  for (const std::string& key : IndexKeys()) {
    if (std::find(resident_keys.begin(), resident_keys.end(), key) != resident_keys.end()) continue;
    auto idx = decoded(key);
    ASSERT_NE(idx, nullptr);
    EXPECT_EQ(idx->postings(), idx->indexed_rows()) << key;
    ++fresh;
  }
  EXPECT_GT(fresh, 0u);
  EXPECT_GE(Recall(), 0.9);

  // 256-d rows around 30 centres in another namespace of the same (ranged) process.
  Clusters wide(index::kMinBinaryDims, 30, 0.6f, rng);
  auto wide_row = [&] { return wide.Sample(rng); };
  auto ns = db_->OpenNamespace("wide");
  ASSERT_TRUE(ns.ok());
  WriteRequest w;
  w.distance_metric = GetParam();
  for (uint64_t i = 0; i < 1500; ++i) {
    Document d;
    d.id = Id(i);
    d.Set("vector", Value::Vector(wide_row()));
    w.upserts.push_back(std::move(d));
  }
  ASSERT_TRUE((*ns)->Write(std::move(w)).ok());
  ASSERT_TRUE((*ns)->IndexNow().ok());
  auto list = store_->List("ns/wide/segments/");
  ASSERT_TRUE(list.ok());
  size_t replicated = 0;
  for (const ObjectMeta& o : list->objects) {
    if (o.key.size() < 4 || o.key.substr(o.key.size() - 4) != ".ivf") continue;
    auto idx = decoded(o.key);
    ASSERT_NE(idx, nullptr);
    replicated += idx->postings() > idx->indexed_rows();
  }
  EXPECT_EQ(replicated, 1u);
  size_t hits = 0;
  for (int i = 0; i < 10; ++i) {
    QueryRequest r;
    r.rank_by.kind = RankBy::Kind::kVector;
    r.rank_by.attr = "vector";
    r.rank_by.vector = wide_row();
    r.top_k = 10;
    auto exact = (*ns)->Query(r);
    r.rank_by.approximate = true;
    auto approx = (*ns)->Query(r);
    ASSERT_TRUE(exact.ok() && approx.ok());
    for (const ResultRow& a : approx->rows) {
      for (const ResultRow& e : exact->rows) hits += a.id == e.id;
    }
  }
  EXPECT_GE(hits, 90u);
}

// Counts the batches of reads (GetMany calls) passed to `base`.
class BatchCountingStore : public storage::ForwardingStore<> {
 public:
  using ForwardingStore::ForwardingStore;
  std::vector<Result<GetResult>> GetMany(const std::vector<GetRequest>& requests) override {
    ++batches;
    return base_->GetMany(requests);
  }
  std::atomic<size_t> batches{0};
};

// With vectors read by range, the vectors a query returns are read in one batch a
// segment, not one read a row (10 ranged reads for a top 10 before).
TEST_P(AnnTest, ReturnedVectorsAreReadInOneBatchPerSegment) {
  db_->Close();
  auto counting = std::make_shared<BatchCountingStore>(store_);
  store_ = counting;
  Open(/*resident_vectors=*/false);
  const size_t segments = ns_->Info()->segment_count;
  ASSERT_GE(segments, 1u);
  QueryRequest r;
  r.rank_by = {RankBy::Kind::kVector, "vector", true, queries_[2], false};
  r.top_k = 10;
  r.include_attributes.all = true;
  ASSERT_TRUE(ns_->Query(r).ok());  // loads the segments
  counting->batches = 0;
  auto resp = ns_->Query(r);
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  ASSERT_EQ(resp->rows.size(), 10u);
  for (const ResultRow& row : resp->rows) {
    bool has_vector = false;
    for (const auto& [name, value] : row.attrs) has_vector |= name == "vector";
    EXPECT_TRUE(has_vector) << row.id.ToString();
  }
  // Per segment: the re-rank's batch and the returned rows' batch.
  EXPECT_LE(counting->batches.load(), 2 * segments);
}

// A ranged read that fails fails its query (with the store's error, never a partial or
// wrong answer) and leaves the namespace serving: the next query answers as before.
TEST_P(AnnTest, FailedRangedReadFailsOnlyItsQuery) {
  db_->Close();
  auto faulty = NewFaultyStore(store_);
  store_ = faulty;
  Open(/*resident_vectors=*/false);
  const QueryResponse before = Run(queries_[3], true);
  ASSERT_EQ(before.rows.size(), 10u);
  for (bool approximate : {true, false}) {
    faulty->Script({FaultOp::kGet, "ns/docs/segments/", FaultKind::kIOError});
    QueryRequest r;
    r.rank_by = {RankBy::Kind::kVector, "vector", approximate, queries_[3], false};
    r.top_k = 10;
    auto failed = ns_->Query(r);
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.status().code(), StatusCode::kIOError) << failed.status().ToString();
  }
  EXPECT_EQ(faulty->faults_injected(), 2u);
  const QueryResponse after = Run(queries_[3], true);
  ASSERT_EQ(after.rows.size(), before.rows.size());
  for (size_t j = 0; j < after.rows.size(); ++j) {
    EXPECT_EQ(after.rows[j].id, before.rows[j].id);
    EXPECT_EQ(after.rows[j].dist, before.rows[j].dist);
  }
}

// A fresh process loads an indexed namespace by range (cold): its first queries read a
// fraction of the objects, answer kNN and returned vectors exactly as a process that
// loaded them whole and ANN with the same recall; the warm-up (background maintenance)
// then loads the segments whole and swaps them in, and queries answer as the warm process.
TEST_P(AnnTest, ColdLoadAnswersFromRangedReadsThenWarmsUp) {
  const Filter one_in_ten = Cmp("cat", Filter::Op::kEq, Value::Uint(3));
  // [kNN, ANN, filtered kNN, filtered ANN] per query, then a query returning vectors.
  auto answers = [&] {
    std::vector<QueryResponse> out;
    for (size_t i = 0; i < 10; ++i) {
      out.push_back(Run(queries_[i], false));
      out.push_back(Run(queries_[i], true));
      out.push_back(Run(queries_[i], false, one_in_ten));
      out.push_back(Run(queries_[i], true, one_in_ten));
    }
    QueryRequest r;
    r.rank_by = {RankBy::Kind::kVector, "vector", false, queries_[0], false};
    r.top_k = 5;
    r.include_attributes.all = true;
    out.push_back(ns_->Query(r).value());
    return out;
  };
  // Exact answers equal; ANN ones recall the exact ones, with the same distances.
  auto check = [](const std::vector<QueryResponse>& warm, const std::vector<QueryResponse>& got) {
    ASSERT_EQ(warm.size(), got.size());
    double hits = 0, wanted = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      const bool approximate = i % 2 == 1 && i + 1 != got.size();
      const QueryResponse& truth = approximate ? warm[i - 1] : warm[i];
      ASSERT_EQ(got[i].rows.size(), truth.rows.size()) << i;
      for (size_t j = 0; j < got[i].rows.size(); ++j) {
        if (!approximate) {
          EXPECT_EQ(got[i].rows[j].id, truth.rows[j].id) << i;
          EXPECT_EQ(got[i].rows[j].dist, truth.rows[j].dist) << i;
          EXPECT_EQ(got[i].rows[j].attrs, truth.rows[j].attrs) << i;
          continue;
        }
        ++wanted;
        for (const ResultRow& t : truth.rows) {
          if (t.id != got[i].rows[j].id) continue;
          EXPECT_EQ(t.dist, got[i].rows[j].dist) << i;
          ++hits;
        }
      }
    }
    EXPECT_GE(hits / wanted, 0.95);
  };
  uint64_t object_bytes = 0;  // segments and their indexes
  auto listed = store_->List("ns/docs/segments/");
  ASSERT_TRUE(listed.ok());
  for (const ObjectMeta& o : listed->objects) object_bytes += o.size;
  const ObjectStorePtr base = store_;
  for (bool resident : {true, false}) {
    db_->Close();
    Open(resident);
    const std::vector<QueryResponse> warm = answers();
    db_->Close();
    auto counting = NewCountingStore(base);
    store_ = counting;
    Open(resident, 8, /*cold_load_min_bytes=*/1);
    const std::vector<QueryResponse> cold = answers();
    check(warm, cold);
    // The first query (kNN) loaded the namespace: the manifest, then one wave (as a whole
    // load would), then read every vector by range, in batches; the second (ANN) read its
    // lists and its candidates' rows.
    EXPECT_GT(cold[0].stats.round_trips, 2u);
    EXPECT_GE(cold[1].stats.round_trips, 3u) << "the WAL probe (and manifest), lists, rows";
    EXPECT_LE(cold[1].stats.round_trips, 4u);
    EXPECT_LT(cold[1].stats.bytes_read, object_bytes / 2) << "the lists and rows it needs";
    // The warm-up (background maintenance runs it too; whichever swaps first, the
    // namespace is warm once this returns).
    auto* impl = dynamic_cast<db::NamespaceImpl*>(ns_.get());
    ASSERT_NE(impl, nullptr);
    ASSERT_TRUE(impl->WarmUp().ok());
    EXPECT_GE(counting->counters().bytes_read, object_bytes) << "loaded whole";
    check(warm, answers());
    counting->Reset();
    Run(queries_[1], true);
    if (resident) {
      EXPECT_LE(counting->counters().gets, 2u) << "the manifest and a WAL probe";
    }
    db_->Close();
    store_ = base;
  }
  Open();
}

// A cold load guesses how far the ids reach (32 bytes a row for strings); long random ids
// reach further, and the blocks the first reads missed are read in one more wave.
// Holds back, while told to, whole reads of segment objects (a warm-up's) and reads of
// WAL entries (a refresh's probe), and counts whole segment-object reads.
class GateStore : public storage::ForwardingStore<> {
 public:
  using ForwardingStore::ForwardingStore;
  Result<GetResult> Get(std::string_view key, std::optional<ByteRange> range) override {
    const bool whole_segment = !range && key.find("/segments/") != std::string_view::npos;
    const bool wal = key.find("/wal/") != std::string_view::npos;
    {
      std::unique_lock<std::mutex> l(mu_);
      if (wal && hold_wal_) ++wal_waiting_;
      cv_.notify_all();
      cv_.wait(l, [&] { return !(whole_segment && hold_segments_) && !(wal && hold_wal_); });
      if (whole_segment) ++whole_segment_reads_;
    }
    return base_->Get(key, range);
  }
  void Hold(bool segments, bool wal) {
    std::lock_guard<std::mutex> l(mu_);
    hold_segments_ = segments;
    hold_wal_ = wal;
    cv_.notify_all();
  }
  void WaitForWalReader() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return wal_waiting_ > 0; });
  }
  size_t TakeWholeSegmentReads() {
    std::lock_guard<std::mutex> l(mu_);
    return std::exchange(whole_segment_reads_, 0);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool hold_segments_ = false, hold_wal_ = false;
  size_t wal_waiting_ = 0, whole_segment_reads_ = 0;
};

// Regression guard for KeepWarm (Publish): a refresh that began on the cold snapshot and
// publishes a newer one after the warm-up swapped the warm segments in keeps the warm
// ones. Were the cold ones published again, the next warm-up would download every
// segment whole once more.
TEST_P(AnnTest, RefreshRacingTheWarmUpKeepsTheWarmSegments) {
  db_->Close();
  const ObjectStorePtr base = store_;
  auto gate = std::make_shared<GateStore>(base);
  gate->Hold(/*segments=*/true, /*wal=*/false);  // no warm-up before the race is set up
  store_ = gate;
  Open(true, 8, /*cold_load_min_bytes=*/1);
  Run(queries_[0], true);  // the cold load
  auto* impl = dynamic_cast<db::NamespaceImpl*>(ns_.get());
  ASSERT_NE(impl, nullptr);
  {  // Another process appends a WAL entry: the refresh below publishes a newer snapshot.
    DatabaseOptions o;
    o.store = base;
    auto other = Database::Open(o);
    ASSERT_TRUE(other.ok());
    std::mt19937_64 rng(5);
    ASSERT_TRUE((*(*other)->OpenNamespace("docs"))->Write(Rows(kRows, kRows + 1, rng)).ok());
    (*other)->Close();
  }
  gate->Hold(true, /*wal=*/true);
  std::thread refresh([&] { Run(queries_[1], true); });  // strong: probes the WAL
  gate->WaitForWalReader();
  gate->Hold(/*segments=*/false, /*wal=*/true);
  ASSERT_TRUE(impl->WarmUp().ok());  // the warm segments are swapped in
  gate->Hold(false, false);
  refresh.join();
  gate->TakeWholeSegmentReads();
  ASSERT_TRUE(impl->WarmUp().ok());
  EXPECT_EQ(gate->TakeWholeSegmentReads(), 0u) << "a cold segment was published again";
  db_->Close();
  store_ = base;
  Open();
}

TEST(AnnColdTest, LongIdsBeyondTheFirstReadAreReadNext) {
  ObjectStorePtr store = NewMemoryStore();
  auto open = [&](uint64_t cold_bytes) {
    DatabaseOptions o;
    o.store = store;
    o.background_indexing = cold_bytes > 0;
    o.cold_load_min_bytes = cold_bytes;
    o.ann_min_rows = 1000;
    return std::move(Database::Open(o)).value();
  };
  auto db = open(0);
  auto ns = *db->OpenNamespace("long");
  std::mt19937_64 rng(3);
  WriteRequest w;
  for (int i = 0; i < 3000; ++i) {
    Document d;
    // 64 random letters and digits: about 48 bytes a row once compressed.
    std::string id;
    for (int c = 0; c < 64; ++c) {
      id += "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[rng() % 62];
    }
    d.id = Id(id);
    d.Set("vector", Value::Vector(Sample(rng)));
    w.upserts.push_back(std::move(d));
  }
  ASSERT_TRUE(ns->Write(std::move(w)).ok());
  ASSERT_TRUE(ns->IndexNow().ok());
  QueryRequest r;  // ids and a filter: what the load reads, nothing by range after it
  r.top_k = 10;
  r.filters = Filter{};
  r.filters->op = Filter::Op::kGte;
  r.filters->attr = "id";
  r.filters->value = Value::String("m");
  const QueryResponse warm = ns->Query(r).value();
  db->Close();
  auto cold_db = open(1);
  auto cold = *cold_db->OpenNamespace("long");
  const QueryResponse got = cold->Query(r).value();
  EXPECT_EQ(got.stats.round_trips, 3u) << "the manifest, the first reads, the ids";
  ASSERT_EQ(got.rows.size(), 10u);
  ASSERT_EQ(got.rows.size(), warm.rows.size());
  for (size_t j = 0; j < got.rows.size(); ++j) {
    EXPECT_EQ(got.rows[j].id, warm.rows[j].id);
    EXPECT_EQ(got.rows[j].dist, warm.rows[j].dist);
  }
}

// From 256 dimensions the engine's indexes search four-bit codes derived from the
// stored SQ8 ones, and drop the SQ8 codes from memory: an index built here and one loaded
// by a fresh process hold the same (smaller) memory and give the same answers (fails if
// the built index keeps its SQ8 codes until the next load).
TEST(AnnWideTest, WideIndexesAreServedWithoutTheirSq8Codes) {
  constexpr uint32_t kWide = 300;
  constexpr uint64_t kWideRows = 2500;
  const ObjectStorePtr store = NewMemoryStore();
  DatabaseOptions o;
  o.store = store;
  o.background_indexing = false;
  o.ann_min_rows = 1000;
  std::mt19937_64 rng(21);
  Clusters clusters(kWide, 20, 0.7f, rng);
  auto sample = [&] { return clusters.Sample(rng); };
  std::unique_ptr<Database> db = std::move(Database::Open(o)).value();
  std::shared_ptr<Namespace> ns = *db->OpenNamespace("wide");
  WriteRequest w;
  for (uint64_t i = 0; i < kWideRows; ++i) {
    Document d;
    d.id = Id(i);
    d.Set("vector", Value::Vector(sample()));
    w.upserts.push_back(std::move(d));
  }
  ASSERT_TRUE(ns->Write(std::move(w)).ok());
  ASSERT_TRUE(ns->IndexNow().ok());
  std::vector<std::vector<float>> queries;
  for (int i = 0; i < 20; ++i) queries.push_back(sample());
  auto run = [&](const std::vector<float>& q, bool ann) {
    QueryRequest r;
    r.rank_by = {RankBy::Kind::kVector, "vector", ann, q, false};
    r.top_k = 10;
    auto resp = ns->Query(r);
    EXPECT_TRUE(resp.ok()) << resp.status().ToString();
    return resp.ok() ? *resp : QueryResponse{};
  };
  std::vector<QueryResponse> built;
  size_t hits = 0;
  for (const auto& q : queries) {
    built.push_back(run(q, true));
    const QueryResponse exact = run(q, false);
    for (const ResultRow& a : built.back().rows) {
      for (const ResultRow& e : exact.rows) hits += a.id == e.id;
    }
  }
  EXPECT_GE(static_cast<double>(hits) / (10.0 * queries.size()), 0.95);
  const uint64_t built_memory = ns->Info()->memory_bytes;

  // The stored index keeps its SQ8 codes (what every derived code comes from).
  std::string key;
  const Result<ListResult> listed = store->List("ns/wide/segments/");
  ASSERT_TRUE(listed.ok());
  for (const ObjectMeta& m : listed->objects) {
    if (m.key.ends_with(".ivf")) key = m.key;
  }
  ASSERT_FALSE(key.empty());
  auto stored = index::IvfIndex::Decode(store->Get(key)->data);
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  EXPECT_TRUE((*stored)->holds_sq8_codes());
  EXPECT_GT((*stored)->MemoryBytes(), (*stored)->postings() * kWide);

  db->Close();
  db = std::move(Database::Open(o)).value();  // a fresh process loads the index
  ns = *db->OpenNamespace("wide");
  for (size_t i = 0; i < queries.size(); ++i) {
    const QueryResponse after = run(queries[i], true);
    ASSERT_EQ(after.rows.size(), built[i].rows.size());
    for (size_t j = 0; j < after.rows.size(); ++j) {
      EXPECT_EQ(after.rows[j].id, built[i].rows[j].id);
      EXPECT_EQ(after.rows[j].dist, built[i].rows[j].dist);
    }
  }
  EXPECT_EQ(ns->Info()->memory_bytes, built_memory);
  EXPECT_LT(built_memory + (*stored)->postings() * kWide / 2,
            kWideRows * kWide * 4 + (*stored)->MemoryBytes());
}

TEST_P(AnnTest, RecallKnobIsValidated) {
  auto q = ParseQueryRequest(R"({"rank_by": ["vector", "ANN", [0]], "ann_recall": 0.5})");
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(q->ann_recall, 0.5);
  EXPECT_FALSE(ParseQueryRequest(R"({"rank_by": ["vector", "ANN", [1]], "ann_recall": 0})").ok());
  EXPECT_FALSE(ParseQueryRequest(R"({"rank_by": ["vector", "ANN", [1]], "ann_recall": 1.5})").ok());
  EXPECT_FALSE(ParseQueryRequest(R"({"rank_by": ["vector", "ANN", [1]], "ann_recall": "x"})").ok());
  QueryRequest r;
  r.rank_by = {RankBy::Kind::kVector, "vector", false, queries_[0], false};
  r.ann_recall = 0.9;
  EXPECT_TRUE(ns_->Query(r).status().IsInvalidArgument());  // kNN is always exact
  r.rank_by.approximate = true;
  EXPECT_TRUE(ns_->Query(r).ok());
  // A low target probes less.
  EXPECT_LE(Run(queries_[0], true, {}, 0.5).stats.rows_scanned,
            Run(queries_[0], true, {}, 0.99).stats.rows_scanned);
}

INSTANTIATE_TEST_SUITE_P(
    Metrics, AnnTest,
    ::testing::Values(DistanceMetric::kCosineDistance, DistanceMetric::kEuclideanSquared),
    [](const auto& info) {
      return std::string(info.param == DistanceMetric::kCosineDistance ? "Cosine" : "Euclidean");
    });

}  // namespace
}  // namespace gannet
