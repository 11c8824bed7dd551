#include "index/kmeans.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "index/kernels.h"
#include "index/quantizer.h"
#include "index/test_data.h"

namespace gannet::index {
namespace {

TEST(KernelsTest, MatchScalarReference) {
  for (size_t n : {1, 7, 8, 15, 16, 33, 128, 385}) {
    std::vector<float> a(n), b(n);
    for (size_t i = 0; i < n; ++i) {
      a[i] = std::sin(static_cast<float>(i)) * 2;
      b[i] = std::cos(static_cast<float>(i * 3));
    }
    double dot = 0, l2 = 0;
    for (size_t i = 0; i < n; ++i) {
      dot += a[i] * b[i];
      l2 += (a[i] - b[i]) * (a[i] - b[i]);
    }
    EXPECT_NEAR(Dot(a.data(), b.data(), n), dot, 1e-3) << n;
    EXPECT_NEAR(L2Squared(a.data(), b.data(), n), l2, 1e-3) << n;
  }
  EXPECT_NE(std::string(KernelTarget()), "");
}

TEST(KernelsTest, ScanSq8MatchesEstimate) {
  const uint32_t dims = 37;
  auto data = testing::Clustered(50, dims, 3, 1);
  Sq8Quantizer::Trainer t(dims);
  for (size_t r = 0; r < 50; ++r) t.Add(data.data() + r * dims);
  Sq8Quantizer q = t.Finish();
  std::vector<uint8_t> codes(50 * dims);
  for (size_t r = 0; r < 50; ++r) q.Encode(data.data() + r * dims, codes.data() + r * dims);
  std::vector<float> a(dims), out(50), filtered(50);
  q.PrepareQuery(data.data() + 7 * dims, a.data());
  ScanSq8(codes.data(), 50, dims, a.data(), q.scale().data(), out.data());
  std::vector<uint32_t> rows(50);
  std::iota(rows.begin(), rows.end(), 0u);
  uint64_t allowed = 0x5555'5555'5555'5555ull;
  ScanSq8Filtered(codes.data(), rows.data(), 50, dims, a.data(), q.scale().data(), &allowed,
                  filtered.data());
  for (size_t r = 0; r < 50; ++r) {
    EXPECT_NEAR(out[r], q.EstimateL2(a.data(), codes.data() + r * dims), 1e-3 + 1e-4 * out[r]);
    if (r % 2 == 0) {
      EXPECT_EQ(filtered[r], out[r]);
    } else {
      EXPECT_TRUE(std::isinf(filtered[r]));
    }
  }
}

TEST(QuantizerTest, RoundTripErrorWithinHalfStep) {
  const uint32_t dims = 16;
  auto data = testing::Clustered(200, dims, 4, 2);
  Sq8Quantizer::Trainer t(dims);
  for (size_t r = 0; r < 200; ++r) t.Add(data.data() + r * dims);
  Sq8Quantizer q = t.Finish();
  std::vector<uint8_t> code(dims);
  std::vector<float> back(dims);
  for (size_t r = 0; r < 200; ++r) {
    q.Encode(data.data() + r * dims, code.data());
    q.Decode(code.data(), back.data());
    for (uint32_t d = 0; d < dims; ++d) {
      EXPECT_LE(std::fabs(back[d] - data[r * dims + d]), q.scale()[d] * 0.5f + 1e-5f);
    }
  }
  EXPECT_FALSE(Sq8Quantizer::FromParams({1.0f}, {-1.0f}).ok());
  EXPECT_FALSE(Sq8Quantizer::FromParams({1.0f, 2.0f}, {1.0f}).ok());
}

TEST(KMeansTest, BalancedAndDeterministic) {
  const uint32_t dims = 8;
  auto data = testing::Clustered(4000, dims, 5, 3);  // 5 natural clusters, 40 asked
  VectorRows v = testing::View(data, dims);
  std::vector<uint32_t> ids(4000);
  std::iota(ids.begin(), ids.end(), 0u);
  KMeansOptions opt;
  opt.clusters = 40;
  opt.max_cluster_factor = 1.5;
  auto a = BalancedKMeans(v, ids, false, opt);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  std::vector<size_t> size(40, 0);
  for (uint32_t c : a->assignment) ++size[c];
  // The cap is soft (a vector whose candidates are all full stays with its nearest), but
  // balancing keeps every list close to it.
  for (size_t s : size) EXPECT_LE(s, 4000 / 40 * 2) << "cluster far over the cap";
  opt.threads = 2;
  auto b = BalancedKMeans(v, ids, false, opt);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->assignment, b->assignment);
  EXPECT_EQ(a->centroids, b->centroids);
}

TEST(KMeansTest, RejectsBadInput) {
  std::vector<float> data(10 * 4, 1.0f);
  VectorRows v = testing::View(data, 4);
  std::vector<uint32_t> ids = {0, 1, 2};
  KMeansOptions opt;
  opt.clusters = 4;  // more clusters than vectors
  EXPECT_TRUE(BalancedKMeans(v, ids, false, opt).status().IsInvalidArgument());
  opt.clusters = 2;
  ids.push_back(99);
  EXPECT_TRUE(BalancedKMeans(v, ids, false, opt).status().IsInvalidArgument());
  // Identical vectors still cluster (k-means++ falls back to random picks).
  ids.pop_back();
  EXPECT_TRUE(BalancedKMeans(v, ids, false, opt).ok());
}

}  // namespace
}  // namespace gannet::index
