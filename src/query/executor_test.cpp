#include "query/executor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <random>

#include "gannet/json.h"
#include "index/ivf_index.h"
#include "index/vectors.h"
#include "query/distance.h"

namespace gannet::query {
namespace {

TEST(DistanceTest, KernelsMatchNaiveSumsForEveryLength) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1, 1);
  for (size_t n : {0, 1, 7, 15, 16, 17, 33, 128, 384, 1000}) {
    std::vector<float> a(n), b(n);
    for (size_t i = 0; i < n; ++i) {
      a[i] = u(rng);
      b[i] = u(rng);
    }
    double dot = 0, l2 = 0;
    for (size_t i = 0; i < n; ++i) {
      dot += double(a[i]) * b[i];
      l2 += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    }
    EXPECT_NEAR(DotProduct(a.data(), b.data(), n), dot, 1e-4 * (1 + n)) << n;
    EXPECT_NEAR(EuclideanSquared(a.data(), b.data(), n), l2, 1e-4 * (1 + n)) << n;
  }
}

TEST(DistanceTest, CosineOfZeroVectorIsOne) {
  const float z[3] = {0, 0, 0}, x[3] = {1, 2, 3};
  EXPECT_EQ(CosineDistance(z, 0, x, std::sqrt(14.0f), 3), 1.0f);
  EXPECT_NEAR(CosineDistance(x, std::sqrt(14.0f), x, std::sqrt(14.0f), 3), 0.0f, 1e-6);
}

Schema VectorSchema(uint32_t dims) {
  Schema s;
  s.attributes["vector"] = AttributeSchema{AttrType::Vector(dims), false, ""};
  s.attributes["n"] = AttributeSchema{AttrType::Scalar(ScalarType::kInt), true, ""};
  return s;
}

TEST(BindQueryTest, RejectsBadRequestsNamingTheField) {
  const Schema schema = VectorSchema(2);
  auto check = [&](const char* json, const char* needle) {
    auto q = ParseQueryRequest(json);
    ASSERT_TRUE(q.ok()) << q.status().ToString();
    Status st = BindQuery(*q, schema);
    ASSERT_TRUE(st.IsInvalidArgument()) << json;
    EXPECT_NE(st.message().find(needle), std::string::npos) << st.message();
  };
  check(R"({"rank_by": ["vector", "ANN", [1, 2, 3]]})", "dimensions");
  check(R"({"rank_by": ["missing", "asc"]})", "unknown attribute 'missing'");
  check(R"({"include_attributes": ["nope"]})", "include_attributes");
  check(R"({"aggregate_by": {"c": ["Count"]}, "group_by": ["vector"]})", "group_by");
}

TEST(ExecuteTest, SegmentAndTailRowsRankTogetherAndTailShadowsSegment) {
  Schema schema = VectorSchema(2);
  schema.distance_metric = DistanceMetric::kEuclideanSquared;
  std::vector<Document> docs;
  for (uint64_t i = 0; i < 10; ++i) {
    Document d{Id(i), {}};
    d.Set("n", Value::Int(static_cast<int64_t>(i)));
    d.Set("vector", Value::Vector({static_cast<float>(i), 0}));
    docs.push_back(d);
  }
  auto seg = format::Segment::Decode(format::EncodeSegment(docs, schema));
  ASSERT_TRUE(seg.ok()) << seg.status().ToString();
  TailMap tail;
  // Row 3 moves far away in the tail; row 4 is deleted in the tail; id 20 is new.
  Document moved{Id(uint64_t{3}), {}};
  moved.Set("n", Value::Int(3));
  moved.Set("vector", Value::Vector({100, 0}));
  tail[Id(uint64_t{3})] = std::make_shared<const Document>(moved);
  tail[Id(uint64_t{4})] = nullptr;
  Document fresh{Id(uint64_t{20}), {}};
  fresh.Set("n", Value::Int(20));
  fresh.Set("vector", Value::Vector({3.4f, 0}));
  tail[Id(uint64_t{20})] = std::make_shared<const Document>(fresh);
  const std::vector<float> norms = VectorNorms(**seg);
  ExecInput in{{{seg->get(), nullptr, &norms}}, &tail, &schema};

  auto q = ParseQueryRequest(R"({"rank_by": ["vector", "kNN", [3.5, 0]], "top_k": 3})");
  ASSERT_TRUE(q.ok());
  ASSERT_TRUE(BindQuery(*q, schema).ok());
  auto r = Execute(*q, in);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->rows.size(), 3u);
  EXPECT_EQ(r->rows[0].id, Id(uint64_t{20}));  // 0.01
  EXPECT_EQ(r->rows[1].id, Id(uint64_t{2}));   // 2.25 (3 moved away, 4 deleted)
  EXPECT_EQ(r->rows[2].id, Id(uint64_t{5}));   // 2.25, tie broken by id
  EXPECT_EQ(r->stats.rows_scanned, 10u);       // 8 live segment rows + 2 tail docs

  auto c = ParseQueryRequest(R"({"aggregate_by": {"c": ["Count"]}, "filters": ["n", "Gte", 3]})");
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(BindQuery(*c, schema).ok());
  auto cr = Execute(*c, in);
  ASSERT_TRUE(cr.ok());
  EXPECT_EQ(cr->aggregations.at("c").as_uint(), 7u);  // 3(moved),5..9,20

  auto o = ParseQueryRequest(R"({"rank_by": ["id", "desc"], "top_k": 2})");
  ASSERT_TRUE(o.ok());
  ASSERT_TRUE(BindQuery(*o, schema).ok());
  auto orr = Execute(*o, in);
  ASSERT_TRUE(orr.ok());
  EXPECT_EQ(orr->rows[0].id, Id(uint64_t{20}));
  EXPECT_EQ(orr->rows[1].id, Id(uint64_t{9}));
}

// Several indexed segments: each is asked for the recall target only as deep as its share s
// of the rows puts it in the merged top k (IvfSearchParams::depth = ⌈k·s + 3·√(k·s·(1 −
// s))⌉), and asked again for all k when the merged top k holds that many of its rows (a
// query whose neighbours crowd into one segment). A query scans exactly those searches'
// codes, and the answers keep their recall.
TEST(ExecuteTest, IndexedSegmentsAreAskedForTheirShareOfTheTopK) {
  constexpr uint32_t kDims = 32;
  constexpr size_t kSegments = 8, kPerSegment = 2000, kTopK = 10;
  Schema schema = VectorSchema(kDims);
  schema.attributes["segment"] = AttributeSchema{AttrType::Scalar(ScalarType::kInt), true, ""};
  schema.distance_metric = DistanceMetric::kEuclideanSquared;
  std::mt19937_64 rng(5);
  std::normal_distribution<float> g(0, 1);
  std::vector<float> centres(50 * kDims);
  for (float& v : centres) v = g(rng);
  auto near = [&](const float* c, float noise) {
    std::vector<float> v(kDims);
    for (uint32_t d = 0; d < kDims; ++d) v[d] = c[d] + noise * g(rng);
    return v;
  };
  auto anywhere = [&] { return near(centres.data() + rng() % 50 * kDims, 1.0f); };
  std::vector<float> apart(kDims, 0);  // only segment 0 has rows near it
  apart[0] = 12;
  std::vector<std::shared_ptr<const format::Segment>> segs;
  std::vector<std::shared_ptr<const index::IvfIndex>> indexes;
  ExecInput in;
  in.schema = &schema;
  for (size_t s = 0; s < kSegments; ++s) {
    std::vector<Document> docs;
    for (size_t r = 0; r < kPerSegment; ++r) {
      Document d{Id(uint64_t{s * kPerSegment + r}), {}};
      d.Set("n", Value::Int(static_cast<int64_t>(r % 10)));
      d.Set("segment", Value::Int(static_cast<int64_t>(s)));
      d.Set("vector", Value::Vector(s == 0 && r < 100 ? near(apart.data(), 0.5f) : anywhere()));
      docs.push_back(std::move(d));
    }
    auto seg = format::Segment::Decode(format::EncodeSegment(docs, schema));
    ASSERT_TRUE(seg.ok()) << seg.status().ToString();
    index::IvfBuildOptions opt;
    opt.threads = 2;
    auto built = index::IvfIndex::Build(index::VectorRows::Of(**seg),
                                        DistanceMetric::kEuclideanSquared, opt);
    ASSERT_TRUE(built.ok()) << built.status().ToString();
    segs.push_back(*seg);
    indexes.push_back(*built);
    in.segments.push_back({segs.back().get(), nullptr, nullptr, indexes.back().get()});
  }
  const double share = 1.0 / kSegments;
  const double depth = std::ceil(kTopK * share + 3 * std::sqrt(kTopK * share * (1 - share)));
  ASSERT_EQ(depth, 5.0);
  std::vector<std::vector<float>> queries;
  for (int i = 0; i < 40; ++i) queries.push_back(anywhere());
  const size_t crowded = queries.size();
  queries.push_back(near(apart.data(), 0.5f));
  auto run = [&](const std::vector<float>& q, bool ann, std::optional<Filter> filter = {}) {
    QueryRequest r;
    r.rank_by = {RankBy::Kind::kVector, "vector", ann, q, false};
    r.top_k = kTopK;
    r.filters = std::move(filter);
    auto resp = Execute(r, in);
    EXPECT_TRUE(resp.ok()) << resp.status().ToString();
    return resp.ok() ? *resp : QueryResponse{};
  };
  double recall = 0;
  size_t asked_again = 0, shallower = 0;  // of the spread queries
  for (size_t i = 0; i < queries.size(); ++i) {
    const std::vector<float>& q = queries[i];
    const QueryResponse approx = run(q, true), exact = run(q, false);
    ASSERT_EQ(approx.rows.size(), kTopK);
    std::vector<size_t> in_top(kSegments, 0);
    for (const ResultRow& row : approx.rows) ++in_top[row.id.as_uint() / kPerSegment];
    uint64_t expected = 0, at_k = 0;
    for (size_t s = 0; s < kSegments; ++s) {
      const index::VectorRows rows = index::VectorRows::Of(*segs[s]);
      index::IvfSearchParams p;
      p.depth = depth;
      index::IvfSearchStats shallow, full;
      indexes[s]->Search(q.data(), rows, p, &shallow);
      indexes[s]->Search(q.data(), rows, {}, &full);
      expected += shallow.codes_scanned;
      at_k += full.codes_scanned;
      if (static_cast<double>(in_top[s]) >= depth) {
        expected += full.codes_scanned;
        asked_again += i == crowded ? 0 : 1;
      }
    }
    EXPECT_EQ(approx.stats.rows_scanned, expected) << "query " << i;
    if (i != crowded) shallower += expected < at_k ? 1 : 0;
    size_t hits = 0;
    for (const ResultRow& a : approx.rows) {
      for (const ResultRow& e : exact.rows) hits += a.id == e.id ? 1 : 0;
    }
    recall += static_cast<double>(hits) / kTopK;
    if (i == crowded) {
      EXPECT_EQ(in_top[0], kTopK);  // all from segment 0, asked again
    }
  }
  // By chance a spread query may draw half its answer from one segment of eight (and
  // that segment is asked again), but seldom.
  EXPECT_LE(asked_again, queries.size() / 8);
  EXPECT_GT(shallower, queries.size() / 2);
  EXPECT_GE(recall / static_cast<double>(queries.size()), 0.95);
  // Filtered (10% and 50% of the rows): a segment probes as deep as its share of the top
  // k over the selectivity.
  for (auto [op, value] : {std::pair{Filter::Op::kEq, 3}, std::pair{Filter::Op::kLt, 5}}) {
    Filter f;
    f.op = op;
    f.attr = "n";
    f.value = Value::Int(value);
    double filtered = 0;
    for (size_t i = 0; i < crowded; ++i) {
      const QueryResponse approx = run(queries[i], true, f), exact = run(queries[i], false, f);
      ASSERT_EQ(approx.rows.size(), kTopK);
      size_t hits = 0;
      for (const ResultRow& a : approx.rows) {
        for (const ResultRow& e : exact.rows) hits += a.id == e.id ? 1 : 0;
      }
      filtered += static_cast<double>(hits) / kTopK;
    }
    EXPECT_GE(filtered / static_cast<double>(crowded), 0.95) << value;
  }
  // A filter only one segment's rows match: that segment holds all the eligible rows, so
  // it is asked for all k at once (not for its share of the rows, then again).
  Filter only;
  only.op = Filter::Op::kEq;
  only.attr = "segment";
  only.value = Value::Int(2);
  const index::RowFilter all_of_it(kPerSegment, /*allow_all=*/true);
  for (size_t i = 0; i < 5; ++i) {
    index::IvfSearchParams p;
    p.filter = &all_of_it;
    index::IvfSearchStats st;
    indexes[2]->Search(queries[i].data(), index::VectorRows::Of(*segs[2]), p, &st);
    const QueryResponse r = run(queries[i], true, only);
    ASSERT_EQ(r.rows.size(), kTopK);
    EXPECT_EQ(r.stats.rows_scanned, kSegments * kPerSegment + st.codes_scanned + st.exact_rows);
  }
}

// A segment of more rows than one scan task takes is scanned in chunks on several
// threads: every row is seen once, ties across a chunk's boundary break by id, and the
// last, partial chunk counts.
TEST(ExecuteTest, LargeSegmentsScanInChunksAsOne) {
  Schema schema = VectorSchema(2);
  schema.distance_metric = DistanceMetric::kEuclideanSquared;
  constexpr uint64_t kRows = 150'000;  // three chunks of 65,536 rows, the last partial
  std::vector<Document> docs;
  docs.reserve(kRows);
  for (uint64_t i = 0; i < kRows; ++i) {
    Document d{Id(i), {}};
    d.Set("n", Value::Int(static_cast<int64_t>(i)));
    d.Set("vector", Value::Vector({static_cast<float>(i), 0}));
    docs.push_back(std::move(d));
  }
  auto seg = format::Segment::Decode(format::EncodeSegment(docs, schema));
  ASSERT_TRUE(seg.ok()) << seg.status().ToString();
  const std::vector<float> norms = VectorNorms(**seg);
  ExecInput in{{{seg->get(), nullptr, &norms}}, nullptr, &schema};
  auto run = [&](const char* body) {
    auto q = ParseQueryRequest(body);
    EXPECT_TRUE(q.ok());
    EXPECT_TRUE(BindQuery(*q, schema).ok());
    auto r = Execute(*q, in);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::vector<uint64_t> ids;
    for (const auto& row : r->rows) ids.push_back(row.id.as_uint());
    EXPECT_EQ(r->stats.rows_scanned, kRows) << body;
    return ids;
  };
  // Rows 65,535 and 65,537 sit on either side of the first boundary, as far from the query.
  EXPECT_EQ(run(R"({"rank_by": ["vector", "kNN", [65536, 0]], "top_k": 3})"),
            (std::vector<uint64_t>{65536, 65535, 65537}));
  EXPECT_EQ(run(R"({"rank_by": ["n", "asc"], "top_k": 2, "filters": ["n", "Gte", 149998]})"),
            (std::vector<uint64_t>{149998, 149999}));
  EXPECT_EQ(run(R"({"rank_by": ["id", "desc"], "top_k": 2})"),
            (std::vector<uint64_t>{149999, 149998}));
  EXPECT_EQ(run(R"({"rank_by": ["vector", "kNN", [-1, 0]], "top_k": 2})"),
            (std::vector<uint64_t>{0, 1}));
}

}  // namespace
}  // namespace gannet::query
