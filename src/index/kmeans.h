// Balanced k-means: the coarse quantizer of the IVF index.
//
// Training runs k-means++ seeding and Lloyd iterations on a random sample — or, given
// initial centroids (the largest index of the namespace when new rows are indexed, or of
// the inputs when compaction merges segments), starts from them: a random k of them when there are
// more, all of them plus k-means++ picks for the rest when fewer (new centroids land where rows are
// far from every old one: the regions that grew), then fewer Lloyd iterations. The iterations are
// balanced: each assigns the sample under a cap of lloyd_cluster_factor × the mean cluster size
// (rows closest to a centroid first; a row whose nearest centroids are full takes the next of its
// `candidates` nearest), then splits every cluster over split_factor × the mean in two, each half
// taking the slot of a cluster under merge_factor × the mean (whose rows join their nearest
// others), and stops early once the assignment barely changes. Then every input vector is assigned
// to one of its `candidates` nearest centroids the same way under the looser max_cluster_factor cap
// (soft: a vector whose candidates are all full stays with its nearest), and each centroid becomes
// the mean of its members. Deterministic for a given seed and input (thread count does not change
// the result).
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
  // Lloyd iterations on the sample, at most; they stop early once at most converged_share
  // of the sample changed cluster and none is empty (128-d clustered data: after about 6;
  // 768-d: all 16).
  int iterations = 16;
  double converged_share = 0.001;
  // Cap on a cluster's size relative to the mean. A safety cap: on the benchmark data a
  // tight cap (1.5) pushed boundary rows into far lists and cut recall@10 at nprobe=2
  // from 0.981 to 0.953 while leaving the densest lists large (see docs/ann.md).
  double max_cluster_factor = 8.0;
  size_t candidates = 4;  // nearest centroids a vector may be balanced into
  // Split and merge during the Lloyd iterations: a cluster over split_factor × the mean
  // size is split in two, taking the slot of a cluster under merge_factor × the mean
  // (whose rows join their nearest others). split_factor 0 only refills empty clusters.
  double split_factor = 3.0;
  double merge_factor = 0.33;
  // Cap on a cluster's size during the Lloyd iterations, relative to the mean (0: plain
  // Lloyd). In high dimensions a centroid that averages many true clusters sits near the
  // data's mean and is near everything; uncapped, it draws rows from everywhere (a hub:
  // lists of 10× the mean that every query probes). Capped, the rows it cannot take go to
  // their next nearest centroids and it moves back among its own: on 100k × 768 clustered
  // rows this cut the codes a query reads for recall@10 0.95 by 4×.
  double lloyd_cluster_factor = 2.0;
  uint64_t seed = 0x67616e6e6574;
  int threads = 1;
  // Optional starting centroids (m × dims, row-major, m >= 1; in the normalized space
  // when `normalize`); not owned, must outlive the call. Lloyd iterations are then
  // seeded_iterations at most. With 2, a new 50k × 768 segment seeded from the index of
  // another 50k rows recalled 1–1.5 points less at fixed nprobe than one clustered from
  // scratch; with 5, the same (and built in about half the time).
  const std::vector<float>* initial_centroids = nullptr;
  int seeded_iterations = 5;
};

struct Clustering {
  uint32_t dims = 0;
  size_t clusters = 0;
  std::vector<float> centroids;      // clusters × dims, row-major
  std::vector<uint32_t> assignment;  // cluster of ids[i], one per input vector
  // Positions i (into ids) the Lloyd iterations did not train on, ascending: rows the
  // centroids were not fitted to, closest to unseen queries (the index calibrates on them).
  std::vector<uint32_t> held_out;
};

// Clusters the vectors data.row(ids[i]) (scaled to unit length first when `normalize`,
// as for cosine distance). InvalidArgument when the options or inputs are unusable.
Result<Clustering> BalancedKMeans(const VectorRows& data, const std::vector<uint32_t>& ids,
                                  bool normalize, const KMeansOptions& options);

// Indices of the `m` centroids nearest to `x` (squared Euclidean), nearest first, and
// their distances. `centroid_norms[j]` = |centroid j|². `scratch` is resized as needed.
// As NearestCentroids for nx rows xs (row-major, nx × dims); best and best_dist are
// nx × min(m, clusters).
// Each row's result equals NearestCentroids on it alone.
void NearestCentroidsOfRows(const float* xs, size_t nx, const float* centroids,
                            const float* centroid_norms, size_t clusters, uint32_t dims, size_t m,
                            std::vector<float>& scratch, uint32_t* best, float* best_dist);
void NearestCentroids(const float* x, const float* centroids, const float* centroid_norms,
                      size_t clusters, uint32_t dims, size_t m, std::vector<float>& scratch,
                      uint32_t* best, float* best_dist);

}  // namespace gannet::index
