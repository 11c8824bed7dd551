// Vector distance kernels. Each is one pass over the vector with 16 independent lanes,
// so the compiler emits SIMD without -ffast-math and the result does not depend on the
// instruction set. distance.cpp compiles them for AVX2 and for baseline x86-64 and picks
// one at load time (GCC/Clang target_clones).
#pragma once

#include <cmath>
#include <cstddef>

#include "gannet/types.h"

namespace gannet::query {

float DotProduct(const float* a, const float* b, size_t n);
float EuclideanSquared(const float* a, const float* b, size_t n);
inline float SquaredNorm(const float* a, size_t n) { return DotProduct(a, a, n); }

// Cosine distance in [0, 2]: 1 - cos(q, x), given the norms |q| and |x|. A zero vector
// has distance 1 to everything.
inline float CosineDistance(const float* q, float q_norm, const float* x, float x_norm, size_t n) {
  if (q_norm == 0 || x_norm == 0) return 1.0f;
  return 1.0f - DotProduct(q, x, n) / (q_norm * x_norm);
}

// Distance between q and x under `metric`; norms are used for cosine only.
inline float Distance(DistanceMetric metric, const float* q, float q_norm, const float* x,
                      float x_norm, size_t n) {
  return metric == DistanceMetric::kEuclideanSquared ? EuclideanSquared(q, x, n)
                                                     : CosineDistance(q, q_norm, x, x_norm, n);
}

}  // namespace gannet::query
