// Generated clustered vectors and exact ground truth for the index tests.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "index/ivf_index.h"
#include "index/vectors.h"

namespace gannet::index::testing {

// `rows` vectors around `centers` Gaussian centres (spread 1, noise `noise`).
inline std::vector<float> Clustered(size_t rows, uint32_t dims, size_t centers, uint64_t seed,
                                    float noise = 0.35f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> c(centers * dims);
  for (float& v : c) v = g(rng);
  std::vector<float> out(rows * dims);
  std::uniform_int_distribution<size_t> pick(0, centers - 1);
  for (size_t r = 0; r < rows; ++r) {
    const float* ctr = c.data() + pick(rng) * dims;
    for (uint32_t d = 0; d < dims; ++d) out[r * dims + d] = ctr[d] + noise * g(rng);
  }
  return out;
}

inline VectorRows View(const std::vector<float>& v, uint32_t dims) {
  VectorRows rows;
  rows.data = v.data();
  rows.dims = dims;
  rows.rows = v.size() / dims;
  return rows;
}

// Exact k nearest allowed rows (ties by row).
inline std::vector<uint32_t> ExactTopK(const VectorRows& data, DistanceMetric metric,
                                       const float* q, size_t k,
                                       const RowFilter* filter = nullptr) {
  const float qn = std::sqrt([&] {
    float s = 0;
    for (uint32_t d = 0; d < data.dims; ++d) s += q[d] * q[d];
    return s;
  }());
  std::vector<std::pair<float, uint32_t>> all;
  for (size_t r = 0; r < data.rows; ++r) {
    if (!data.has(r) || (filter != nullptr && !filter->allowed(r))) continue;
    all.emplace_back(ExactDistance(metric, q, qn, data.row(r), data.dims),
                     static_cast<uint32_t>(r));
  }
  const size_t m = std::min(k, all.size());
  std::partial_sort(all.begin(), all.begin() + m, all.end());
  std::vector<uint32_t> out;
  for (size_t i = 0; i < m; ++i) out.push_back(all[i].second);
  return out;
}

inline double Recall(const std::vector<uint32_t>& truth, const std::vector<Neighbor>& got) {
  if (truth.empty()) return 1.0;
  size_t hit = 0;
  for (const Neighbor& n : got) {
    if (std::find(truth.begin(), truth.end(), n.row) != truth.end()) ++hit;
  }
  return static_cast<double>(hit) / static_cast<double>(truth.size());
}

}  // namespace gannet::index::testing
