#include "index/kmeans.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

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

TEST(KernelsTest, DotSq8IsExactAtTheWeightLimit) {
  for (size_t dims : {1, 7, 16, 31, 33, 128, 130, 1536, 4096}) {
    const int32_t wmax = MaxDotWeight(dims);
    EXPECT_LE(int64_t{wmax} * 255 * static_cast<int64_t>(dims), (int64_t{1} << 31) - 1) << dims;
    const size_t count = 9;
    std::vector<uint8_t> codes(count * dims);
    std::vector<int16_t> w(dims);
    for (size_t d = 0; d < dims; ++d) w[d] = static_cast<int16_t>(d % 3 == 0 ? -wmax : wmax);
    for (size_t i = 0; i < codes.size(); ++i) {
      codes[i] = i < dims ? 255 : static_cast<uint8_t>((i * 2654435761u) >> 24);
    }
    std::vector<int32_t> out(count), filtered(count, -7);
    DotSq8(codes.data(), count, dims, w.data(), out.data());
    std::vector<uint32_t> rows(count);
    std::iota(rows.begin(), rows.end(), 0u);
    const uint64_t allowed = 0b101010101;
    DotSq8Filtered(codes.data(), rows.data(), count, dims, w.data(), &allowed, filtered.data());
    for (size_t r = 0; r < count; ++r) {
      int64_t want = 0;
      for (size_t d = 0; d < dims; ++d) want += int64_t{w[d]} * codes[r * dims + d];
      EXPECT_EQ(out[r], want) << dims << " " << r;
      EXPECT_EQ(filtered[r], r % 2 == 0 ? want : -7) << dims << " " << r;
    }
  }
}

TEST(KernelsTest, DotRowsMatchesDotAndIgnoresGrouping) {
  for (size_t dims : {1, 7, 16, 33, 385}) {
    for (size_t count : {1, 2, 3, 9}) {
      const size_t nx = 7;  // one block of 4, then 3 single rows
      std::vector<float> xs(nx * dims), base(count * dims);
      for (size_t i = 0; i < xs.size(); ++i) xs[i] = std::sin(static_cast<float>(i) * 0.7f);
      for (size_t i = 0; i < base.size(); ++i) base[i] = std::cos(static_cast<float>(i) * 1.3f);
      std::vector<float> all(nx * count), one(count);
      DotRows(xs.data(), nx, base.data(), count, dims, all.data());
      for (size_t r = 0; r < nx; ++r) {
        DotRows(xs.data() + r * dims, 1, base.data(), count, dims, one.data());
        for (size_t j = 0; j < count; ++j) {
          // Bit-identical whatever the grouping: k-means stays independent of threads.
          EXPECT_EQ(all[r * count + j], one[j]) << dims << " " << count << " " << r;
          EXPECT_NEAR(one[j], Dot(xs.data() + r * dims, base.data() + j * dims, dims), 1e-3);
        }
      }
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

TEST(KMeansTest, SeededClusteringStartsFromTheGivenCentroids) {
  const uint32_t dims = 8;
  auto data = testing::Clustered(4000, dims, 5, 3);
  VectorRows v = testing::View(data, dims);
  std::vector<uint32_t> ids(4000);
  std::iota(ids.begin(), ids.end(), 0u);
  KMeansOptions opt;
  opt.clusters = 20;
  auto full = BalancedKMeans(v, ids, false, opt);
  ASSERT_TRUE(full.ok());
  // Seeded with the clustering's own centroids and no iterations, vectors are placed
  // much as the full run placed them (only boundary vectors move: the final centroids are
  // their members' means, not a fixed point of the assignment); clusters keep their
  // numbers, where a fresh start would permute them.
  KMeansOptions seeded = opt;
  seeded.initial_centroids = &full->centroids;
  seeded.seeded_iterations = 0;
  auto same = BalancedKMeans(v, ids, false, seeded);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->clusters, 20u);
  size_t moved = 0;
  for (size_t i = 0; i < ids.size(); ++i) moved += same->assignment[i] != full->assignment[i];
  EXPECT_LT(moved, ids.size() / 10) << "a seeded run should keep the clusters it was given";

  // Fewer seeds than clusters: the seeds come first and k-means++ adds the rest; more: a
  // subset. Every cluster ends up with members either way, deterministically.
  for (size_t k : {30u, 12u}) {
    seeded.clusters = k;
    seeded.seeded_iterations = 2;
    auto a = BalancedKMeans(v, ids, false, seeded);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    ASSERT_EQ(a->centroids.size(), k * dims);
    std::vector<size_t> size(k, 0);
    for (uint32_t c : a->assignment) ++size[c];
    for (size_t c = 0; c < k; ++c) EXPECT_GT(size[c], 0u) << "empty cluster " << c << " of " << k;
    seeded.threads = 2;
    auto b = BalancedKMeans(v, ids, false, seeded);
    seeded.threads = 1;
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(a->assignment, b->assignment);
  }
  std::vector<float> ragged(dims + 1, 0.0f);
  seeded.initial_centroids = &ragged;
  EXPECT_TRUE(BalancedKMeans(v, ids, false, seeded).status().IsInvalidArgument());
}

// A dense blob and three far, tiny ones: with four clusters, k-means++ puts one centroid
// on each, so plain Lloyd leaves the blob as one cluster of 1200. Splitting gives the
// blob two centroids, the second taking a tiny cluster's slot.
TEST(KMeansTest, SplitsAnOversizedClusterIntoAnUndersizedOnesSlot) {
  const uint32_t dims = 4;
  std::mt19937_64 rng(5);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> data;
  auto blob = [&](size_t rows, float at) {
    for (size_t r = 0; r < rows; ++r) {
      for (uint32_t d = 0; d < dims; ++d) data.push_back((d == 0 ? at : 0.0f) + g(rng));
    }
  };
  blob(1200, 0);
  blob(20, 1000);
  blob(20, -1000);
  blob(20, 3000);
  VectorRows v = testing::View(data, dims);
  std::vector<uint32_t> ids(v.rows);
  std::iota(ids.begin(), ids.end(), 0u);
  auto largest = [&](const KMeansOptions& opt) {
    auto c = BalancedKMeans(v, ids, false, opt);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    std::vector<size_t> size(opt.clusters, 0);
    for (uint32_t a : c->assignment) ++size[a];
    return *std::max_element(size.begin(), size.end());
  };
  KMeansOptions plain;
  plain.clusters = 4;
  plain.max_cluster_factor = 1e6;  // no cap anywhere: only the split changes sizes
  plain.lloyd_cluster_factor = 0;
  plain.split_factor = 0;
  EXPECT_EQ(largest(plain), 1200u);
  KMeansOptions split = plain;
  split.split_factor = 3.0;
  EXPECT_LT(largest(split), 900u);
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
