#include "index/kmeans.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "index/kernels.h"

namespace gannet::index {
namespace {

std::vector<float> Norms(const std::vector<float>& centroids, size_t k, uint32_t dims) {
  std::vector<float> n(k);
  for (size_t j = 0; j < k; ++j) {
    n[j] = Dot(centroids.data() + j * dims, centroids.data() + j * dims, dims);
  }
  return n;
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
    const std::vector<float> norms = Norms(initial, m, dims);
    ParallelFor(rows, threads, [&](size_t b, size_t e) {
      std::vector<float> scratch;
      for (size_t i = b; i < e; ++i) {
        uint32_t best;
        NearestCentroids(sample.data() + i * dims, initial.data(), norms.data(), m, dims, 1,
                         scratch, &best, &mind[i]);
      }
    });
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

}  // namespace

void NearestCentroids(const float* x, const float* centroids, const float* centroid_norms,
                      size_t clusters, uint32_t dims, size_t m, std::vector<float>& scratch,
                      uint32_t* best, float* best_dist) {
  scratch.resize(clusters);
  DotMany(x, centroids, clusters, dims, scratch.data());
  const float xn = Dot(x, x, dims);
  m = std::min(m, clusters);
  size_t have = 0;
  for (size_t j = 0; j < clusters; ++j) {
    const float d = std::max(0.0f, xn + centroid_norms[j] - 2 * scratch[j]);
    if (have == m && d >= best_dist[m - 1]) continue;
    size_t pos = have < m ? have++ : m - 1;
    while (pos > 0 && best_dist[pos - 1] > d) {
      best_dist[pos] = best_dist[pos - 1];
      best[pos] = best[pos - 1];
      --pos;
    }
    best_dist[pos] = d;
    best[pos] = static_cast<uint32_t>(j);
  }
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
  std::vector<uint32_t> assign(s);
  const int iterations = seeded ? opt.seeded_iterations : opt.iterations;
  for (int it = 0; it < iterations; ++it) {
    const std::vector<float> cn = Norms(out.centroids, k, dims);
    ParallelFor(s, opt.threads, [&](size_t b, size_t e) {
      std::vector<float> scratch;
      for (size_t i = b; i < e; ++i) {
        float d;
        NearestCentroids(sample.data() + i * dims, out.centroids.data(), cn.data(), k, dims, 1,
                         scratch, &assign[i], &d);
      }
    });
    std::vector<double> sum(k * dims, 0.0);
    std::vector<size_t> count(k, 0);
    for (size_t i = 0; i < s; ++i) {
      const float* x = sample.data() + i * dims;
      double* acc = sum.data() + size_t{assign[i]} * dims;
      for (uint32_t d = 0; d < dims; ++d) acc[d] += x[d];
      ++count[assign[i]];
    }
    const size_t largest =
        static_cast<size_t>(std::max_element(count.begin(), count.end()) - count.begin());
    for (size_t j = 0; j < k; ++j) {
      float* c = out.centroids.data() + j * dims;
      if (count[j] > 0) {
        for (uint32_t d = 0; d < dims; ++d) c[d] = static_cast<float>(sum[j * dims + d] / count[j]);
        continue;
      }
      // An empty cluster takes over half of the largest one: a member plus a nudge.
      std::vector<size_t> members;
      for (size_t i = 0; i < s && members.size() < 64; ++i) {
        if (assign[i] == largest) members.push_back(i);
      }
      if (members.empty()) continue;
      const float* x =
          sample.data() +
          members[std::uniform_int_distribution<size_t>(0, members.size() - 1)(rng)] * dims;
      for (uint32_t d = 0; d < dims; ++d) c[d] = x[d] * (1.0f + 1e-3f);
    }
  }

  // ---- balanced assignment of every vector ----
  const size_t m = std::min(opt.candidates, k);
  std::vector<uint32_t> cand(n * m);
  std::vector<float> cand_dist(n * m);
  {
    const std::vector<float> cn = Norms(out.centroids, k, dims);
    ParallelFor(n, opt.threads, [&](size_t b, size_t e) {
      std::vector<float> scratch, x(dims);
      for (size_t i = b; i < e; ++i) {
        CopyMaybeNormalized(data.row(ids[i]), dims, normalize, x.data());
        NearestCentroids(x.data(), out.centroids.data(), cn.data(), k, dims, m, scratch,
                         cand.data() + i * m, cand_dist.data() + i * m);
      }
    });
  }
  const size_t cap = std::max<size_t>(
      1, static_cast<size_t>(std::ceil(opt.max_cluster_factor * static_cast<double>(n) / k)));
  std::vector<uint32_t> by_fit(n);
  std::iota(by_fit.begin(), by_fit.end(), 0u);
  std::stable_sort(by_fit.begin(), by_fit.end(),
                   [&](uint32_t a, uint32_t b) { return cand_dist[a * m] < cand_dist[b * m]; });
  std::vector<size_t> size(k, 0);
  out.assignment.assign(n, 0);
  for (uint32_t i : by_fit) {
    uint32_t chosen = cand[i * m];  // all candidates full: stay with the nearest
    for (size_t c = 0; c < m; ++c) {
      if (size[cand[i * m + c]] < cap) {
        chosen = cand[i * m + c];
        break;
      }
    }
    out.assignment[i] = chosen;
    ++size[chosen];
  }

  // ---- centroids := means of their members ----
  std::vector<double> sum(k * dims, 0.0);
  std::vector<float> x(dims);
  for (size_t i = 0; i < n; ++i) {
    CopyMaybeNormalized(data.row(ids[i]), dims, normalize, x.data());
    double* acc = sum.data() + size_t{out.assignment[i]} * dims;
    for (uint32_t d = 0; d < dims; ++d) acc[d] += x[d];
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
