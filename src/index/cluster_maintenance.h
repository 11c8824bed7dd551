// Incremental maintenance of a clustering: SPFresh's LIRE (local split, merge and
// reassignment), applied when an immutable segment's index is rewritten over rows most of
// which an older index already clustered (compaction).
//
// Rows the older index held keep their list; the other rows join their nearest centroid.
// Then the lists are rebalanced locally, never reclustered as a whole:
//   - a list under merge_factor × the mean size (n / target_clusters) is dissolved: its
//     rows join the nearest of the `neighbors` centroids nearest to its own (smallest
//     list first);
//   - a list over split_factor × the mean is split in two by 2-means over its rows (the
//     halves may split again), and so is the largest list over the mean while there are
//     fewer lists than the target (fill_to_target); after each split the rows near it are
//     reassigned: the split list's rows join the nearest of the two new centroids and the
//     `neighbors` nearest others, and a row of one of those neighbouring lists moves to a
//     new centroid nearer to it than its own list's (LIRE's two conditions);
//   - then local Lloyd passes: each centroid becomes the mean of its rows, and every row
//     moves to the nearest of its list's centroid and the refine_neighbors nearest to it,
//     until at most converged_share of the rows move (or refine_passes).
// The cost is one nearest-centroid search for each row new to the clustering, the rows of
// the lists a split or merge touches, and per pass refine_neighbors + 1 distances a row
// (32 + 1 instead of the ~4·√n of a k-means iteration). Grown from 75% to all rows, the
// clustering took 3-4 s instead of 12-14 s for k-means seeded by the older centroids; it
// recalled better on generated data and 0.7-3.4 points worse at a fixed nprobe on GCIDE ×
// MiniLM (docs/ann.md).
//
// Thread safety: a stateless function; `threads` worker threads are started per call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "gannet/status.h"
#include "index/kmeans.h"
#include "index/vectors.h"

namespace gannet::index {

// prior[i] for a row no older list holds.
inline constexpr uint32_t kNoCluster = UINT32_MAX;

struct MaintenanceOptions {
  size_t target_clusters = 0;  // the list count a build from scratch would pick (sets the mean)
  double split_factor = 2.0;   // REQUIRES: > 1
  double merge_factor = 0.33;  // REQUIRES: in [0, 1)
  size_t neighbors = 8;        // lists a split or merge reassigns rows among
  int split_iterations = 4;    // 2-means iterations of a split
  // Local Lloyd passes, at most; they stop once at most converged_share of the rows
  // moved. On GCIDE: 2 passes recalled 0.949 at nprobe 64, 10 passes 0.951, k-means
  // seeded by the same centroids 0.958; 128 neighbours instead of 32 (and 20 passes, as
  // slow as that k-means) 0.952.
  int refine_passes = 10;
  size_t refine_neighbors = 32;
  double converged_share = 0.001;
  // Split the largest lists over the mean until there are target_clusters of them.
  bool fill_to_target = true;
  uint64_t seed = 0x67616e6e6574;
  int threads = 1;
};

struct MaintenanceStats {
  size_t kept = 0;    // rows that started in their older list
  size_t placed = 0;  // rows new to the clustering
  size_t splits = 0;
  size_t merges = 0;
  size_t reassigned = 0;  // rows moved by splits and merges (a row moved twice counts twice)
  size_t refined = 0;     // rows moved by the local Lloyd passes (summed over passes)
  int refine_passes = 0;
};

// Maintains the clustering (centroids: m × dims, row-major, m >= 1, in the normalized space
// when `normalize`) of the vectors data.row(ids[i]), where prior[i] is the cluster of
// ids[i] (< m) or kNoCluster. The result's assignment holds one cluster per ids[i] and
// its held_out is empty (every row shaped the clustering). InvalidArgument when the
// options or inputs are unusable. Deterministic for a given seed and input.
Result<Clustering> MaintainClusters(const VectorRows& data, const std::vector<uint32_t>& ids,
                                    bool normalize, const std::vector<float>& centroids,
                                    const std::vector<uint32_t>& prior,
                                    const MaintenanceOptions& options,
                                    MaintenanceStats* stats = nullptr);

}  // namespace gannet::index
