#include "query/distance.h"

// Multi-versioned for x86-64: an AVX2 build and a baseline build of each kernel, chosen
// once by the dynamic loader. Sanitizer and fuzzing builds keep one version (their
// instrumented ifunc resolvers would run before the sanitizer runtime is up).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(__SANITIZE_THREAD__) && !defined(FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION)
#define GANNET_KERNEL __attribute__((target_clones("avx2", "default")))
#else
#define GANNET_KERNEL
#endif

namespace gannet::query {

constexpr size_t kLanes = 16;

GANNET_KERNEL float DotProduct(const float* a, const float* b, size_t n) {
  float acc[kLanes] = {};
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (size_t j = 0; j < kLanes; ++j) acc[j] += a[i + j] * b[i + j];
  }
  float tail = 0;
  for (; i < n; ++i) tail += a[i] * b[i];
  for (size_t w = kLanes / 2; w > 0; w /= 2) {
    for (size_t j = 0; j < w; ++j) acc[j] += acc[j + w];
  }
  return acc[0] + tail;
}

GANNET_KERNEL float EuclideanSquared(const float* a, const float* b, size_t n) {
  float acc[kLanes] = {};
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (size_t j = 0; j < kLanes; ++j) {
      const float d = a[i + j] - b[i + j];
      acc[j] += d * d;
    }
  }
  float tail = 0;
  for (; i < n; ++i) tail += (a[i] - b[i]) * (a[i] - b[i]);
  for (size_t w = kLanes / 2; w > 0; w /= 2) {
    for (size_t j = 0; j < w; ++j) acc[j] += acc[j + w];
  }
  return acc[0] + tail;
}

}  // namespace gannet::query
