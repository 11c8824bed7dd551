#include "index/kmeans.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "index/kernels.h"

namespace gannet::index {
namespace {

// Rows per DotRows call: enough to reuse each centroid load, few enough for L1.
constexpr size_t kRowBlock = 8;

std::vector<float> Norms(const std::vector<float>& centroids, size_t k, uint32_t dims) {
  std::vector<float> n(k);
  for (size_t j = 0; j < k; ++j) {
    n[j] = Dot(centroids.data() + j * dims, centroids.data() + j * dims, dims);
  }
  return n;
}

// The m nearest centroids of each of n contiguous rows (best/best_dist: n × m), on
// `threads` threads, rows in blocks (DotRows); the result does not depend on the thread
// count.
void NearestOfRows(const float* rows, size_t n, const std::vector<float>& centroids,
                   const std::vector<float>& norms, size_t k, uint32_t dims, size_t m, int threads,
                   uint32_t* best, float* best_dist) {
  ParallelFor(n, threads, [&](size_t b, size_t e) {
    std::vector<float> scratch;
    for (size_t i = b; i < e; i += kRowBlock) {
      const size_t nx = std::min(kRowBlock, e - i);
      NearestCentroidsOfRows(rows + i * dims, nx, centroids.data(), norms.data(), k, dims, m,
                             scratch, best + i * m, best_dist + i * m);
    }
  });
}

// k-means++ seeding on `sample` (rows × dims): D² sampling of k centroids after the
// `initial` ones (m × dims, possibly none), which are kept first. Distances to the initial
// centroids and the D² updates run on `threads` threads; the result does not depend on
// the thread count.
std::vector<float> SeedPlusPlus(const std::vector<float>& sample, size_t rows, uint32_t dims,
                                size_t k, const std::vector<float>& initial, int threads,
                                std::mt19937_64& rng) {
  const size_t m = initial.size() / dims;
  std::vector<float> centroids(initial);
  centroids.resize((m + k) * dims);
  std::vector<float> mind(rows, std::numeric_limits<float>::infinity());
  if (m > 0) {
    std::vector<uint32_t> nearest(rows);
    NearestOfRows(sample.data(), rows, initial, Norms(initial, m, dims), m, dims, 1, threads,
                  nearest.data(), mind.data());
  }
  auto pick_by_distance = [&]() {
    double total = 0;
    for (size_t i = 0; i < rows; ++i) total += mind[i];
    if (!(total > 0) || std::isinf(total)) {  // no distances yet, or all points covered
      return std::uniform_int_distribution<size_t>(0, rows - 1)(rng);
    }
    double target = std::uniform_real_distribution<double>(0, total)(rng);
    for (size_t i = 0; i < rows; ++i) {
      target -= mind[i];
      if (target <= 0) return i;
    }
    return rows - 1;
  };
  for (size_t c = m; c < m + k; ++c) {
    const size_t pick = pick_by_distance();
    float* centroid = centroids.data() + c * dims;
    std::copy_n(sample.data() + pick * dims, dims, centroid);
    if (c + 1 == m + k) break;
    ParallelFor(rows, threads, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) {
        mind[i] = std::min(mind[i], L2Squared(sample.data() + i * dims, centroid, dims));
      }
    });
  }
  return centroids;
}

// Greedy capped assignment: rows in order of their nearest candidate's distance, each to
// its nearest candidate with room (all full: its nearest). cand/cand_dist: n × m.
std::vector<uint32_t> AssignCapped(const std::vector<uint32_t>& cand,
                                   const std::vector<float>& cand_dist, size_t n, size_t m,
                                   size_t k, size_t cap) {
  std::vector<uint32_t> by_fit(n);
  std::iota(by_fit.begin(), by_fit.end(), 0u);
  std::stable_sort(by_fit.begin(), by_fit.end(),
                   [&](uint32_t a, uint32_t b) { return cand_dist[a * m] < cand_dist[b * m]; });
  std::vector<size_t> size(k, 0);
  std::vector<uint32_t> assignment(n, 0);
  for (uint32_t i : by_fit) {
    uint32_t chosen = cand[i * m];
    for (size_t c = 0; c < m; ++c) {
      if (size[cand[i * m + c]] < cap) {
        chosen = cand[i * m + c];
        break;
      }
    }
    assignment[i] = chosen;
    ++size[chosen];
  }
  return assignment;
}

// Rebalances one Lloyd iteration's clusters (counts over the sample): every cluster over
// opt.split_factor × the mean size is split in two by one 2-means step over its members
// (seeded by a random member and the member farthest from it), each taking the slot of
// the smallest cluster under opt.merge_factor × the mean (largest split first, smallest
// slot first); the rows of a slot taken join their nearest remaining centroid at the next
// assignment. Empty clusters are always refilled this way (from the largest clusters).
void SplitAndMerge(const std::vector<float>& sample, size_t s, uint32_t dims, size_t k,
                   const KMeansOptions& opt, const std::vector<uint32_t>& assign,
                   std::vector<size_t>& count, std::vector<float>& centroids,
                   std::mt19937_64& rng) {
  const double mean = static_cast<double>(s) / static_cast<double>(k);
  std::vector<uint32_t> by_size(k);
  std::iota(by_size.begin(), by_size.end(), 0u);
  std::stable_sort(by_size.begin(), by_size.end(),
                   [&](uint32_t a, uint32_t b) { return count[a] < count[b]; });
  // Donor slots, smallest first; clusters to split, largest first.
  std::vector<uint32_t> donors, splits;
  for (uint32_t j : by_size) {
    if (count[j] == 0 || static_cast<double>(count[j]) < opt.merge_factor * mean) {
      donors.push_back(j);
    }
  }
  // (A donor is never split: split clusters are over split_factor > merge_factor times the
  // mean, or the largest when refilling empties, which are over the mean.)
  const size_t empties = static_cast<size_t>(std::count(count.begin(), count.end(), size_t{0}));
  for (auto it = by_size.rbegin(); it != by_size.rend() && count[*it] >= 2; ++it) {
    const bool over =
        opt.split_factor > 0 && static_cast<double>(count[*it]) > opt.split_factor * mean;
    if (!over && splits.size() >= empties) break;
    splits.push_back(*it);
  }
  const size_t n_splits = std::min(splits.size(), donors.size());
  if (n_splits == 0) return;
  std::vector<bool> is_split(k, false);
  for (size_t i = 0; i < n_splits; ++i) is_split[splits[i]] = true;
  std::vector<std::vector<uint32_t>> members(k);
  for (size_t i = 0; i < s; ++i) {
    if (is_split[assign[i]]) members[assign[i]].push_back(static_cast<uint32_t>(i));
  }
  std::vector<double> sum_a(dims), sum_b(dims);
  for (size_t i = 0; i < n_splits; ++i) {
    const uint32_t big = splits[i], slot = donors[i];
    if (big == slot) continue;
    const std::vector<uint32_t>& m = members[big];
    const float* x1 = sample.data() +
                      size_t{m[std::uniform_int_distribution<size_t>(0, m.size() - 1)(rng)]} * dims;
    const float* x2 = x1;
    float far = -1;
    for (uint32_t r : m) {
      const float d = L2Squared(sample.data() + size_t{r} * dims, x1, dims);
      if (d > far) {
        far = d;
        x2 = sample.data() + size_t{r} * dims;
      }
    }
    std::fill(sum_a.begin(), sum_a.end(), 0.0);
    std::fill(sum_b.begin(), sum_b.end(), 0.0);
    size_t na = 0, nb = 0;
    for (uint32_t r : m) {
      const float* x = sample.data() + size_t{r} * dims;
      const bool to_b = L2Squared(x, x2, dims) < L2Squared(x, x1, dims);
      double* acc = to_b ? sum_b.data() : sum_a.data();
      for (uint32_t d = 0; d < dims; ++d) acc[d] += x[d];
      ++(to_b ? nb : na);
    }
    if (na == 0 || nb == 0) continue;  // identical members: nothing to split
    float* ca = centroids.data() + size_t{big} * dims;
    float* cb = centroids.data() + size_t{slot} * dims;
    for (uint32_t d = 0; d < dims; ++d) {
      ca[d] = static_cast<float>(sum_a[d] / static_cast<double>(na));
      cb[d] = static_cast<float>(sum_b[d] / static_cast<double>(nb));
    }
    count[big] = na;
    count[slot] = nb;
  }
}

}  // namespace

void NearestCentroidsOfRows(const float* xs, size_t nx, const float* centroids,
                            const float* centroid_norms, size_t clusters, uint32_t dims, size_t m,
                            std::vector<float>& scratch, uint32_t* best, float* best_dist) {
  scratch.resize(nx * clusters);
  DotRows(xs, nx, centroids, clusters, dims, scratch.data());
  m = std::min(m, clusters);
  for (size_t i = 0; i < nx; ++i) {
    const float* x = xs + i * dims;
    const float* dots = scratch.data() + i * clusters;
    uint32_t* b = best + i * m;
    float* bd = best_dist + i * m;
    const float xn = Dot(x, x, dims);
    size_t have = 0;
    for (size_t j = 0; j < clusters; ++j) {
      const float d = std::max(0.0f, xn + centroid_norms[j] - 2 * dots[j]);
      if (have == m && d >= bd[m - 1]) continue;
      size_t pos = have < m ? have++ : m - 1;
      while (pos > 0 && bd[pos - 1] > d) {
        bd[pos] = bd[pos - 1];
        b[pos] = b[pos - 1];
        --pos;
      }
      bd[pos] = d;
      b[pos] = static_cast<uint32_t>(j);
    }
  }
}

void NearestCentroids(const float* x, const float* centroids, const float* centroid_norms,
                      size_t clusters, uint32_t dims, size_t m, std::vector<float>& scratch,
                      uint32_t* best, float* best_dist) {
  NearestCentroidsOfRows(x, 1, centroids, centroid_norms, clusters, dims, m, scratch, best,
                         best_dist);
}

Result<Clustering> BalancedKMeans(const VectorRows& data, const std::vector<uint32_t>& ids,
                                  bool normalize, const KMeansOptions& opt) {
  const size_t n = ids.size();
  const uint32_t dims = data.dims;
  const size_t k = opt.clusters;
  if (dims == 0) return Status::InvalidArgument("kmeans: vectors have no dimensions");
  if (k == 0 || k > n) {
    return Status::InvalidArgument("kmeans: " + std::to_string(k) + " clusters for " +
                                   std::to_string(n) + " vectors");
  }
  if (opt.candidates == 0 || opt.max_cluster_factor < 1.0) {
    return Status::InvalidArgument("kmeans: candidates must be >= 1 and the cluster cap >= 1");
  }
  if (opt.split_factor > 0 && !(opt.split_factor > opt.merge_factor && opt.merge_factor < 1.0)) {
    return Status::InvalidArgument(
        "kmeans: split_factor must be above merge_factor, and merge_factor below 1");
  }
  if (opt.initial_centroids != nullptr && opt.initial_centroids->size() % dims != 0) {
    return Status::InvalidArgument("kmeans: initial centroids are not whole vectors of " +
                                   std::to_string(dims) + " dimensions");
  }
  for (uint32_t id : ids) {
    if (id >= data.rows) return Status::InvalidArgument("kmeans: row id out of range");
  }
  std::mt19937_64 rng(opt.seed);

  // ---- training sample (a random subset, copied contiguously) ----
  size_t s =
      opt.max_train_rows != 0 ? opt.max_train_rows : std::min<size_t>(48 * k, size_t{1} << 18);
  s = std::clamp<size_t>(s, k, n);
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  for (size_t i = 0; i < s; ++i) {  // partial Fisher-Yates
    std::swap(order[i], order[std::uniform_int_distribution<size_t>(i, n - 1)(rng)]);
  }
  std::vector<float> sample(s * dims);
  for (size_t i = 0; i < s; ++i) {
    CopyMaybeNormalized(data.row(ids[order[i]]), dims, normalize, sample.data() + i * dims);
  }

  Clustering out;
  out.dims = dims;
  out.clusters = k;
  out.held_out.assign(order.begin() + static_cast<std::ptrdiff_t>(s), order.end());
  std::sort(out.held_out.begin(), out.held_out.end());
  const size_t seed_rows = std::min(s, std::max<size_t>(16 * k, 4096));
  const std::vector<float>* initial = opt.initial_centroids;
  const bool seeded = initial != nullptr && !initial->empty() && initial->size() % dims == 0;
  if (!seeded) {
    out.centroids = SeedPlusPlus(sample, seed_rows, dims, k, {}, opt.threads, rng);
  } else if (const size_t m = initial->size() / dims; m >= k) {
    std::vector<size_t> keep(m);  // a random k of them, in their order
    std::iota(keep.begin(), keep.end(), size_t{0});
    for (size_t i = 0; i < k; ++i) {
      std::swap(keep[i], keep[std::uniform_int_distribution<size_t>(i, m - 1)(rng)]);
    }
    std::sort(keep.begin(), keep.begin() + static_cast<std::ptrdiff_t>(k));
    out.centroids.resize(k * dims);
    for (size_t j = 0; j < k; ++j) {
      std::copy_n(initial->data() + keep[j] * dims, dims, out.centroids.data() + j * dims);
    }
  } else {
    out.centroids = SeedPlusPlus(sample, seed_rows, dims, k - m, *initial, opt.threads, rng);
  }

  // ---- Lloyd iterations on the sample ----
  std::vector<uint32_t> assign(s, UINT32_MAX);
  const int iterations = seeded ? opt.seeded_iterations : opt.iterations;
  for (int it = 0; it < iterations; ++it) {
    const std::vector<float> cn = Norms(out.centroids, k, dims);
    const std::vector<uint32_t> before = assign;
    if (opt.lloyd_cluster_factor > 0) {
      // Capped: a cluster takes at most lloyd_cluster_factor × the mean; the rest go to
      // their next nearest centroids, so hubs cannot form (see KMeansOptions).
      const size_t mm = std::min(opt.candidates, k);
      std::vector<uint32_t> cand(s * mm);
      std::vector<float> cand_dist(s * mm);
      NearestOfRows(sample.data(), s, out.centroids, cn, k, dims, mm, opt.threads, cand.data(),
                    cand_dist.data());
      const size_t cap = std::max<size_t>(
          1, static_cast<size_t>(std::ceil(opt.lloyd_cluster_factor * static_cast<double>(s) /
                                           static_cast<double>(k))));
      assign = AssignCapped(cand, cand_dist, s, mm, k, cap);
    } else {
      std::vector<float> unused(s);
      NearestOfRows(sample.data(), s, out.centroids, cn, k, dims, 1, opt.threads, assign.data(),
                    unused.data());
    }
    std::vector<double> sum(k * dims, 0.0);
    std::vector<size_t> count(k, 0);
    for (size_t i = 0; i < s; ++i) {
      const float* x = sample.data() + i * dims;
      double* acc = sum.data() + size_t{assign[i]} * dims;
      for (uint32_t d = 0; d < dims; ++d) acc[d] += x[d];
      ++count[assign[i]];
    }
    for (size_t j = 0; j < k; ++j) {
      if (count[j] == 0) continue;
      float* c = out.centroids.data() + j * dims;
      for (uint32_t d = 0; d < dims; ++d) c[d] = static_cast<float>(sum[j * dims + d] / count[j]);
    }
    size_t moved = 0;
    for (size_t i = 0; i < s; ++i) moved += assign[i] != before[i];
    // Converged: the centroids are the means of an assignment that barely changed (and no
    // cluster is empty, which SplitAndMerge would refill).
    if (static_cast<double>(moved) <= opt.converged_share * static_cast<double>(s) &&
        std::count(count.begin(), count.end(), size_t{0}) == 0) {
      break;
    }
    SplitAndMerge(sample, s, dims, k, opt, assign, count, out.centroids, rng);
  }

  // ---- balanced assignment of every vector ----
  const size_t m = std::min(opt.candidates, k);
  std::vector<uint32_t> cand(n * m);
  std::vector<float> cand_dist(n * m);
  {
    const std::vector<float> cn = Norms(out.centroids, k, dims);
    ParallelFor(n, opt.threads, [&](size_t b, size_t e) {
      std::vector<float> scratch, x(kRowBlock * dims);
      for (size_t i = b; i < e; i += kRowBlock) {
        const size_t nx = std::min(kRowBlock, e - i);
        for (size_t r = 0; r < nx; ++r) {
          CopyMaybeNormalized(data.row(ids[i + r]), dims, normalize, x.data() + r * dims);
        }
        NearestCentroidsOfRows(x.data(), nx, out.centroids.data(), cn.data(), k, dims, m, scratch,
                               cand.data() + i * m, cand_dist.data() + i * m);
      }
    });
  }
  const size_t cap = std::max<size_t>(
      1, static_cast<size_t>(std::ceil(opt.max_cluster_factor * static_cast<double>(n) / k)));
  out.assignment = AssignCapped(cand, cand_dist, n, m, k, cap);

  // ---- centroids := means of their members ----
  std::vector<double> sum(k * dims, 0.0);
  std::vector<size_t> size(k, 0);
  std::vector<float> x(dims);
  for (size_t i = 0; i < n; ++i) {
    CopyMaybeNormalized(data.row(ids[i]), dims, normalize, x.data());
    double* acc = sum.data() + size_t{out.assignment[i]} * dims;
    for (uint32_t d = 0; d < dims; ++d) acc[d] += x[d];
    ++size[out.assignment[i]];
  }
  for (size_t j = 0; j < k; ++j) {
    if (size[j] == 0) continue;
    for (uint32_t d = 0; d < dims; ++d) {
      out.centroids[j * dims + d] = static_cast<float>(sum[j * dims + d] / size[j]);
    }
  }
  return out;
}

}  // namespace gannet::index
