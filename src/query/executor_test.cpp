#include "query/executor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "gannet/json.h"
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
