#include "index/vectors.h"

#include <cmath>
#include <system_error>
#include <thread>

#include "index/kernels.h"

namespace gannet::index {

VectorRows VectorRows::Of(const format::Segment& segment, Status* error) {
  VectorRows v;
  v.rows = segment.dims() == 0 ? 0 : segment.rows();
  v.dims = segment.dims();
  const format::Segment* s = &segment;
  v.present = [s](size_t r) { return s->has_vector(r); };
  if (segment.vectors_resident()) {
    v.data = segment.vectors().data();
  } else {
    v.fetch = [s, error](const uint32_t* rows, size_t n, float* out) {
      Status st = s->ReadVectors(rows, n, out);
      if (st.ok()) return true;
      if (error->ok()) *error = std::move(st);
      return false;
    };
  }
  return v;
}

void CopyMaybeNormalized(const float* x, size_t n, bool normalize, float* out) {
  float f = 1.0f;
  if (normalize) {
    const float norm = std::sqrt(Dot(x, x, n));
    f = norm > 0 ? 1.0f / norm : 0.0f;
  }
  for (size_t i = 0; i < n; ++i) out[i] = x[i] * f;
}

float ExactDistance(DistanceMetric metric, const float* q, float q_norm, const float* x, size_t n) {
  if (metric == DistanceMetric::kEuclideanSquared) return L2Squared(q, x, n);
  const float x_norm = std::sqrt(Dot(x, x, n));
  if (q_norm == 0 || x_norm == 0) return 1.0f;
  return 1.0f - Dot(q, x, n) / (q_norm * x_norm);
}

void ParallelFor(size_t n, int threads, const std::function<void(size_t, size_t)>& fn) {
  const size_t t = threads <= 1 ? 1 : std::min<size_t>(static_cast<size_t>(threads), n);
  if (t <= 1) {
    if (n > 0) fn(0, n);
    return;
  }
  std::vector<std::thread> pool;
  const size_t chunk = (n + t - 1) / t;
  for (size_t i = 1; i < t; ++i) {
    const size_t b = i * chunk, e = std::min(n, b + chunk);
    if (b >= e) continue;
    try {
      pool.emplace_back([&fn, b, e] { fn(b, e); });
    } catch (const std::system_error&) {
      fn(b, e);  // no thread to be had: this one does the chunk
    }
  }
  fn(0, std::min(n, chunk));
  for (std::thread& th : pool) th.join();
}

}  // namespace gannet::index
