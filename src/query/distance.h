// Vector distance kernels. Written as fixed 8-lane accumulations so the compiler emits
// SIMD at -O2/-O3 without -ffast-math (the lane order, and so the result, is fixed).
#pragma once

#include <cmath>
#include <cstddef>

#include "gannet/types.h"

namespace gannet::query {

inline float DotProduct(const float* a, const float* b, size_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (size_t j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  }
  float tail = 0;
  for (; i < n; ++i) tail += a[i] * b[i];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

inline float SquaredNorm(const float* a, size_t n) { return DotProduct(a, a, n); }

inline float EuclideanSquared(const float* a, const float* b, size_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (size_t j = 0; j < 8; ++j) {
      const float d = a[i + j] - b[i + j];
      acc[j] += d * d;
    }
  }
  float tail = 0;
  for (; i < n; ++i) tail += (a[i] - b[i]) * (a[i] - b[i]);
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

// Cosine distance in [0, 2]: 1 - cos(a, b). `query_norm` is |q| (precomputed). A zero
// vector has distance 1 to everything.
inline float CosineDistance(const float* q, float query_norm, const float* x, size_t n) {
  float dot[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  float nx[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (size_t j = 0; j < 8; ++j) {
      dot[j] += q[i + j] * x[i + j];
      nx[j] += x[i + j] * x[i + j];
    }
  }
  float dt = 0, nt = 0;
  for (; i < n; ++i) {
    dt += q[i] * x[i];
    nt += x[i] * x[i];
  }
  const float d =
      ((dot[0] + dot[4]) + (dot[1] + dot[5])) + ((dot[2] + dot[6]) + (dot[3] + dot[7])) + dt;
  const float xx = ((nx[0] + nx[4]) + (nx[1] + nx[5])) + ((nx[2] + nx[6]) + (nx[3] + nx[7])) + nt;
  if (query_norm == 0 || xx == 0) return 1.0f;
  return 1.0f - d / (query_norm * std::sqrt(xx));
}

// Distance between query and x under `metric` (query_norm used for cosine only).
inline float Distance(DistanceMetric metric, const float* q, float query_norm, const float* x,
                      size_t n) {
  return metric == DistanceMetric::kEuclideanSquared ? EuclideanSquared(q, x, n)
                                                     : CosineDistance(q, query_norm, x, n);
}

}  // namespace gannet::query
