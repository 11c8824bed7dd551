#include "index/cluster_maintenance.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "index/kernels.h"
#include "index/test_data.h"

namespace gannet::index {
namespace {

constexpr uint32_t kDims = 16;

// `per` rows around each of `centers` far-apart centres (noise 0.1 against spacing ~10),
// in centre order; *truth gets each row's centre.
std::vector<float> Blobs(size_t centers, size_t per, uint64_t seed, std::vector<uint32_t>* truth,
                         std::vector<float>* centre_out) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> c(centers * kDims);
  for (float& v : c) v = 3.0f * g(rng);
  std::vector<float> out;
  for (size_t k = 0; k < centers; ++k) {
    for (size_t i = 0; i < per; ++i) {
      for (uint32_t d = 0; d < kDims; ++d) out.push_back(c[k * kDims + d] + 0.1f * g(rng));
      truth->push_back(static_cast<uint32_t>(k));
    }
  }
  if (centre_out != nullptr) *centre_out = c;
  return out;
}

std::vector<uint32_t> AllIds(size_t n) {
  std::vector<uint32_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = static_cast<uint32_t>(i);
  return ids;
}

// Every result cluster holds rows of one true centre only.
void ExpectPure(const Clustering& cl, const std::vector<uint32_t>& truth) {
  std::map<uint32_t, std::set<uint32_t>> centres_of;
  for (size_t i = 0; i < truth.size(); ++i) centres_of[cl.assignment[i]].insert(truth[i]);
  for (const auto& [cluster, centres] : centres_of) {
    EXPECT_EQ(centres.size(), 1u) << "cluster " << cluster << " mixes centres";
  }
}

TEST(ClusterMaintenanceTest, KeptRowsStayAndNewRowsJoinTheirNearestCentroid) {
  std::vector<float> base = testing::Clustered(3000, kDims, 20, 1);
  const VectorRows data = testing::View(base, kDims);
  const std::vector<uint32_t> ids = AllIds(3000);
  KMeansOptions km;
  km.clusters = 24;
  std::vector<uint32_t> first(ids.begin(), ids.begin() + 2000);
  Result<Clustering> old = BalancedKMeans(data, first, /*normalize=*/false, km);
  ASSERT_TRUE(old.ok());
  std::vector<uint32_t> prior(3000, kNoCluster);
  for (size_t i = 0; i < 2000; ++i) prior[i] = old->assignment[i];
  MaintenanceOptions opt;
  opt.target_clusters = 24;
  opt.split_factor = 1000;  // no list is split or merged, and no local pass runs
  opt.merge_factor = 0;
  opt.refine_passes = 0;
  MaintenanceStats stats;
  Result<Clustering> cl = MaintainClusters(data, ids, false, old->centroids, prior, opt, &stats);
  ASSERT_TRUE(cl.ok()) << cl.status().ToString();
  EXPECT_EQ(stats.kept, 2000u);
  EXPECT_EQ(stats.placed, 1000u);
  EXPECT_EQ(stats.splits + stats.merges + stats.reassigned, 0u);
  ASSERT_EQ(cl->clusters, 24u);
  for (size_t i = 0; i < 2000; ++i) ASSERT_EQ(cl->assignment[i], prior[i]) << i;
  for (size_t i = 2000; i < 3000; ++i) {  // nearest of the old centroids
    uint32_t best = 0;
    float best_d = INFINITY;
    for (uint32_t j = 0; j < 24; ++j) {
      const float d = L2Squared(data.row(i), old->centroids.data() + j * kDims, kDims);
      if (d < best_d) best_d = d, best = j;
    }
    ASSERT_EQ(cl->assignment[i], best) << i;
  }
  // Each centroid is the mean of its rows.
  for (uint32_t j = 0; j < 24; ++j) {
    std::vector<double> sum(kDims, 0.0);
    size_t count = 0;
    for (size_t i = 0; i < 3000; ++i) {
      if (cl->assignment[i] != j) continue;
      for (uint32_t d = 0; d < kDims; ++d) sum[d] += data.row(i)[d];
      ++count;
    }
    ASSERT_GT(count, 0u);
    for (uint32_t d = 0; d < kDims; ++d) {
      EXPECT_NEAR(cl->centroids[j * kDims + d], sum[d] / count, 1e-4);
    }
  }
  EXPECT_TRUE(cl->held_out.empty());
}

TEST(ClusterMaintenanceTest, OversizedListsSplitAndRowsNearThemAreReassigned) {
  // Four tight blobs; the older clustering has two centroids, each at the midpoint of a
  // pair of blobs, so each list holds two blobs: twice the mean of the four wanted.
  std::vector<uint32_t> truth;
  std::vector<float> centres;
  std::vector<float> base = Blobs(4, 250, 2, &truth, &centres);
  const VectorRows data = testing::View(base, kDims);
  std::vector<float> two(2 * kDims);
  for (uint32_t d = 0; d < kDims; ++d) {
    two[d] = (centres[0 * kDims + d] + centres[1 * kDims + d]) / 2;
    two[kDims + d] = (centres[2 * kDims + d] + centres[3 * kDims + d]) / 2;
  }
  std::vector<uint32_t> prior(1000);
  for (size_t i = 0; i < 1000; ++i) prior[i] = truth[i] < 2 ? 0 : 1;
  MaintenanceOptions opt;
  opt.target_clusters = 4;
  opt.split_factor = 1.5;
  MaintenanceStats stats;
  Result<Clustering> cl = MaintainClusters(data, AllIds(1000), false, two, prior, opt, &stats);
  ASSERT_TRUE(cl.ok()) << cl.status().ToString();
  EXPECT_EQ(stats.splits, 2u);
  EXPECT_EQ(stats.merges, 0u);
  EXPECT_EQ(cl->clusters, 4u);
  ExpectPure(*cl, truth);
}

TEST(ClusterMaintenanceTest, SplitReassignsRowsOfANeighbouringList) {
  // Blobs 0 and 1 share list 0; blob 2 (60 rows just off blob 1) sits in list 1, whose
  // centroid lies well beyond it. Splitting list 0 puts a half on blob 1, nearer to blob
  // 2's rows than their own centroid: LIRE's second condition moves them there.
  std::vector<uint32_t> truth;
  std::vector<float> centres;
  std::vector<float> base = Blobs(2, 300, 3, &truth, &centres);
  // Blob 2: 60 rows a short way off blob 1.
  std::mt19937_64 rng(4);
  std::normal_distribution<float> g(0.0f, 1.0f);
  for (size_t i = 0; i < 60; ++i) {
    for (uint32_t d = 0; d < kDims; ++d) {
      base.push_back(centres[kDims + d] + (d == 0 ? 1.0f : 0.0f) + 0.1f * g(rng));
    }
    truth.push_back(2);
  }
  const VectorRows data = testing::View(base, kDims);
  std::vector<float> cents(2 * kDims);
  for (uint32_t d = 0; d < kDims; ++d) {
    cents[d] = (centres[d] + centres[kDims + d]) / 2;
    cents[kDims + d] = centres[kDims + d] + (d == 0 ? 6.0f : 0.0f);  // far side of blob 2
  }
  std::vector<uint32_t> prior(660);
  for (size_t i = 0; i < 660; ++i) prior[i] = truth[i] < 2 ? 0 : 1;
  MaintenanceOptions opt;
  opt.target_clusters = 3;  // mean 220: list 0 (600 rows) is over twice that
  opt.merge_factor = 0;
  opt.refine_passes = 0;  // (the local passes would move blob 2 too)
  MaintenanceStats stats;
  Result<Clustering> cl = MaintainClusters(data, AllIds(660), false, cents, prior, opt, &stats);
  ASSERT_TRUE(cl.ok()) << cl.status().ToString();
  EXPECT_GE(stats.splits, 1u);
  EXPECT_GE(stats.reassigned, 60u);
  // Blob 2 joined blob 1's list; list 1 emptied and is gone.
  EXPECT_EQ(cl->assignment[600], cl->assignment[300]);
  for (size_t i = 600; i < 660; ++i) EXPECT_EQ(cl->assignment[i], cl->assignment[600]);
  EXPECT_NE(cl->assignment[0], cl->assignment[300]);
}

TEST(ClusterMaintenanceTest, UndersizedListsMergeIntoTheirNearestNeighbour) {
  std::vector<uint32_t> truth;
  std::vector<float> centres;
  std::vector<float> base = Blobs(4, 200, 5, &truth, &centres);
  const VectorRows data = testing::View(base, kDims);
  // Five centroids: the four blobs', and a fifth just off blob 0 holding 10 of its rows.
  std::vector<float> five(centres);
  for (uint32_t d = 0; d < kDims; ++d) five.push_back(centres[d] + (d == 1 ? 0.5f : 0.0f));
  std::vector<uint32_t> prior(truth);
  for (size_t i = 0; i < 10; ++i) prior[i] = 4;
  MaintenanceOptions opt;
  opt.target_clusters = 4;  // mean 200; 10 rows are under a third of it
  MaintenanceStats stats;
  Result<Clustering> cl = MaintainClusters(data, AllIds(800), false, five, prior, opt, &stats);
  ASSERT_TRUE(cl.ok()) << cl.status().ToString();
  EXPECT_EQ(stats.merges, 1u);
  EXPECT_EQ(stats.splits, 0u);
  EXPECT_EQ(stats.reassigned, 10u);
  EXPECT_EQ(cl->clusters, 4u);
  ExpectPure(*cl, truth);
  for (size_t i = 0; i < 10; ++i) EXPECT_EQ(cl->assignment[i], cl->assignment[10]);
}

TEST(ClusterMaintenanceTest, LocalPassesMoveRowsToTheNearestNeighbouringList) {
  std::vector<uint32_t> truth;
  std::vector<float> centres;
  std::vector<float> base = Blobs(4, 200, 7, &truth, &centres);
  const VectorRows data = testing::View(base, kDims);
  // A fifth of each blob starts in the next blob's list.
  std::vector<uint32_t> prior(truth);
  for (size_t i = 0; i < 800; i += 5) prior[i] = (truth[i] + 1) % 4;
  MaintenanceOptions opt;
  opt.target_clusters = 4;
  opt.split_factor = 1000;
  opt.merge_factor = 0;
  MaintenanceStats stats;
  Result<Clustering> cl = MaintainClusters(data, AllIds(800), false, centres, prior, opt, &stats);
  ASSERT_TRUE(cl.ok()) << cl.status().ToString();
  EXPECT_EQ(stats.splits + stats.merges, 0u);
  EXPECT_EQ(stats.refined, 160u);
  EXPECT_EQ(stats.refine_passes, 2);  // the second moves nothing
  for (size_t i = 0; i < 800; ++i) ASSERT_EQ(cl->assignment[i], truth[i]) << i;
  opt.refine_passes = 0;
  Result<Clustering> unrefined = MaintainClusters(data, AllIds(800), false, centres, prior, opt);
  ASSERT_TRUE(unrefined.ok());
  EXPECT_EQ(unrefined->assignment, prior);
}

TEST(ClusterMaintenanceTest, IdenticalRowsAreNotSplitForever) {
  std::vector<float> base(500 * kDims, 1.0f);
  const VectorRows data = testing::View(base, kDims);
  std::vector<float> one(kDims, 0.0f);
  MaintenanceOptions opt;
  opt.target_clusters = 50;
  MaintenanceStats stats;
  Result<Clustering> cl = MaintainClusters(data, AllIds(500), false, one,
                                           std::vector<uint32_t>(500, kNoCluster), opt, &stats);
  ASSERT_TRUE(cl.ok());
  EXPECT_EQ(cl->clusters, 1u);
  EXPECT_EQ(stats.splits, 0u);
  EXPECT_FLOAT_EQ(cl->centroids[0], 1.0f);
}

TEST(ClusterMaintenanceTest, RejectsInconsistentInputs) {
  std::vector<float> base = testing::Clustered(100, kDims, 4, 6);
  const VectorRows data = testing::View(base, kDims);
  const std::vector<uint32_t> ids = AllIds(100);
  std::vector<float> cents(2 * kDims, 0.0f);
  std::vector<uint32_t> prior(100, kNoCluster);
  MaintenanceOptions opt;
  opt.target_clusters = 4;
  EXPECT_TRUE(MaintainClusters(data, ids, false, cents, prior, opt).ok());
  EXPECT_TRUE(MaintainClusters(data, ids, false, cents, std::vector<uint32_t>(99, kNoCluster), opt)
                  .status()
                  .IsInvalidArgument());
  std::vector<uint32_t> bad = prior;
  bad[7] = 2;  // only clusters 0 and 1 exist
  EXPECT_TRUE(MaintainClusters(data, ids, false, cents, bad, opt).status().IsInvalidArgument());
  std::vector<float> ragged(kDims + 3, 0.0f);
  EXPECT_TRUE(MaintainClusters(data, ids, false, ragged, prior, opt).status().IsInvalidArgument());
  MaintenanceOptions no_split = opt;
  no_split.split_factor = 1.0;
  EXPECT_TRUE(
      MaintainClusters(data, ids, false, cents, prior, no_split).status().IsInvalidArgument());
  MaintenanceOptions no_target = opt;
  no_target.target_clusters = 0;
  EXPECT_TRUE(
      MaintainClusters(data, ids, false, cents, prior, no_target).status().IsInvalidArgument());
}

}  // namespace
}  // namespace gannet::index
