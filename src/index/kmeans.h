// Balanced k-means: the coarse quantizer of the IVF index.
//
// Training runs k-means++ seeding and a few Lloyd iterations on a random sample — or,
// given initial centroids (an index of most of the same rows, when compaction merges
// segments), starts from them: a random k of them when there are more, all of them plus
// k-means++ picks for the rest when fewer (new centroids land where rows are far from
// every old one: the regions that grew), then fewer Lloyd iterations. Then
// every input vector is assigned to one of its `candidates` nearest centroids, greedily
// (vectors closest to a centroid first) under a cap of max_cluster_factor × the mean
// cluster size, so no posting list grows far beyond the others. (The cap is soft: a
// vector whose candidates are all full stays with its nearest.)
// Finally each centroid becomes the mean of its members. Deterministic for a given seed
// and input (thread count does not change the result).
//
// Thread safety: stateless functions; `threads` worker threads are started per call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "gannet/status.h"
#include "index/vectors.h"

namespace gannet::index {

struct KMeansOptions {
  size_t clusters = 0;        // REQUIRES: 1 <= clusters <= number of input vectors
  size_t max_train_rows = 0;  // training sample; 0: min(n, 48 × clusters, 262144)
  int iterations = 8;         // Lloyd iterations on the sample
  // Cap on a cluster's size relative to the mean. A safety cap: on the benchmark data a
  // tight cap (1.5) pushed boundary rows into far lists and cut recall@10 at nprobe=2
  // from 0.981 to 0.953 while leaving the densest lists large (see docs/ann.md).
  double max_cluster_factor = 8.0;
  size_t candidates = 4;  // nearest centroids a vector may be balanced into
  uint64_t seed = 0x67616e6e6574;
  int threads = 1;
  // Optional starting centroids (m × dims, row-major, m >= 1; in the normalized space
  // when `normalize`); not owned, must outlive the call. Lloyd iterations are then
  // seeded_iterations.
  const std::vector<float>* initial_centroids = nullptr;
  int seeded_iterations = 2;
};

struct Clustering {
  uint32_t dims = 0;
  size_t clusters = 0;
  std::vector<float> centroids;      // clusters × dims, row-major
  std::vector<uint32_t> assignment;  // cluster of ids[i], one per input vector
};

// Clusters the vectors data.row(ids[i]) (scaled to unit length first when `normalize`,
// as for cosine distance). InvalidArgument when the options or inputs are unusable.
Result<Clustering> BalancedKMeans(const VectorRows& data, const std::vector<uint32_t>& ids,
                                  bool normalize, const KMeansOptions& options);

// Indices of the `m` centroids nearest to `x` (squared Euclidean), nearest first, and
// their distances. `centroid_norms[j]` = |centroid j|². `scratch` is resized as needed.
void NearestCentroids(const float* x, const float* centroids, const float* centroid_norms,
                      size_t clusters, uint32_t dims, size_t m, std::vector<float>& scratch,
                      uint32_t* best, float* best_dist);

}  // namespace gannet::index
