// VectorRows: read access to the vectors an index is built from and re-ranks with (a
// segment's f32 vector block), plus the small helpers shared by the index files.
//
// Thread safety: a VectorRows is a read-only view; share it freely while the data lives.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "format/segment.h"
#include "gannet/types.h"

namespace gannet::index {

struct VectorRows {
  const float* data = nullptr;  // rows*dims floats, row-major; null when not resident
  size_t rows = 0;
  uint32_t dims = 0;
  // Whether a row has a vector (rows without one are not indexed); null: every row.
  std::function<bool(size_t)> present;
  // When `data` is null: copies the vectors of rows[0..n) (ascending) into out (n*dims
  // floats), or returns false when they cannot be read (the caller that supplied it
  // knows why; a search that gets false returns no rows).
  std::function<bool(const uint32_t* rows, size_t n, float* out)> fetch;

  bool resident() const { return data != nullptr; }
  const float* row(size_t r) const { return data + r * dims; }  // REQUIRES: resident()
  bool has(size_t r) const { return !present || present(r); }

  // A view of `segment`'s vectors; when they are not resident, `fetch` reads them through
  // the segment and stores the first failure in *error (REQUIRES: non-null then).
  // REQUIRES: `segment` (and `error`) outlive the view.
  static VectorRows Of(const format::Segment& segment, Status* error = nullptr);
};

// Copies `x` (n floats) into `out`, scaled to unit length when `normalize` (a zero vector
// stays zero).
void CopyMaybeNormalized(const float* x, size_t n, bool normalize, float* out);

// The exact distance used to re-rank, equal in meaning to the query layer's: squared
// Euclidean, or cosine distance 1 - cos(q, x) (1 when either vector is zero).
float ExactDistance(DistanceMetric metric, const float* q, float q_norm, const float* x, size_t n);

// Runs fn(begin, end) over [0, n) split into `threads` contiguous chunks (the calling
// thread takes one). threads <= 1 runs inline.
void ParallelFor(size_t n, int threads, const std::function<void(size_t, size_t)>& fn);

}  // namespace gannet::index
