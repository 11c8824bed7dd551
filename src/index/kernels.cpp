// Highway kernels, compiled for every target in HWY_TARGETS; see kernels.h.
#include "index/kernels.h"

#include <limits>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "index/kernels.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// Must come after foreach_target.h.
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace gannet::index {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

float DotImpl(const float* a, const float* b, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  auto acc0 = hn::Zero(d), acc1 = hn::Zero(d);
  size_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    acc0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), acc0);
    acc1 = hn::MulAdd(hn::LoadU(d, a + i + N), hn::LoadU(d, b + i + N), acc1);
  }
  for (; i + N <= n; i += N) acc0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), acc0);
  float sum = hn::GetLane(hn::SumOfLanes(d, hn::Add(acc0, acc1)));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

void DotManyImpl(const float* x, const float* base, size_t count, size_t dims, float* out) {
  for (size_t j = 0; j < count; ++j) out[j] = DotImpl(x, base + j * dims, dims);
}

// R rows of xs against C centroids of base at once (R·C accumulators; each centroid and
// row load is reused C or R times). Every (row, centroid) dot product is summed the same
// way whatever R and C, so results do not depend on how rows are grouped.
template <size_t R, size_t C>
HWY_INLINE void DotBlock(const float* xs, size_t dims, const float* base, size_t count,
                         float* out) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  using V = hn::Vec<decltype(d)>;
  V acc[R][C];
  for (size_t r = 0; r < R; ++r) {
    for (size_t c = 0; c < C; ++c) acc[r][c] = hn::Zero(d);
  }
  size_t t = 0;
  for (; t + N <= dims; t += N) {
    V cv[C];
    for (size_t c = 0; c < C; ++c) cv[c] = hn::LoadU(d, base + c * dims + t);
    for (size_t r = 0; r < R; ++r) {
      const V xv = hn::LoadU(d, xs + r * dims + t);
      for (size_t c = 0; c < C; ++c) acc[r][c] = hn::MulAdd(xv, cv[c], acc[r][c]);
    }
  }
  for (size_t r = 0; r < R; ++r) {
    for (size_t c = 0; c < C; ++c) {
      float sum = hn::GetLane(hn::SumOfLanes(d, acc[r][c]));
      for (size_t u = t; u < dims; ++u) sum += xs[r * dims + u] * base[c * dims + u];
      out[r * count + c] = sum;
    }
  }
}

template <size_t R>
HWY_INLINE void DotRowsOf(const float* xs, const float* base, size_t count, size_t dims,
                          float* out) {
  size_t j = 0;
  for (; j + 2 <= count; j += 2) DotBlock<R, 2>(xs, dims, base + j * dims, count, out + j);
  for (; j < count; ++j) DotBlock<R, 1>(xs, dims, base + j * dims, count, out + j);
}

void DotRowsImpl(const float* xs, size_t nx, const float* base, size_t count, size_t dims,
                 float* out) {
  size_t i = 0;
  for (; i + 4 <= nx; i += 4) DotRowsOf<4>(xs + i * dims, base, count, dims, out + i * count);
  for (; i < nx; ++i) DotRowsOf<1>(xs + i * dims, base, count, dims, out + i * count);
}

float L2SquaredImpl(const float* a, const float* b, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  auto acc0 = hn::Zero(d), acc1 = hn::Zero(d);
  size_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    const auto d0 = hn::Sub(hn::LoadU(d, a + i), hn::LoadU(d, b + i));
    const auto d1 = hn::Sub(hn::LoadU(d, a + i + N), hn::LoadU(d, b + i + N));
    acc0 = hn::MulAdd(d0, d0, acc0);
    acc1 = hn::MulAdd(d1, d1, acc1);
  }
  for (; i + N <= n; i += N) {
    const auto d0 = hn::Sub(hn::LoadU(d, a + i), hn::LoadU(d, b + i));
    acc0 = hn::MulAdd(d0, d0, acc0);
  }
  float sum = hn::GetLane(hn::SumOfLanes(d, hn::Add(acc0, acc1)));
  for (; i < n; ++i) sum += (a[i] - b[i]) * (a[i] - b[i]);
  return sum;
}

// Σ_d w[d]·code[d] in 32-bit integers: codes widened to i16 and multiplied pairwise into
// i32 lanes (pmaddwd on x86), two accumulators deep.
HWY_INLINE int32_t DotCode(const uint8_t* code, size_t dims, const int16_t* w) {
  const hn::ScalableTag<int16_t> d16;
  const hn::RepartitionToWide<decltype(d16)> d32;
  const hn::Rebind<uint8_t, decltype(d16)> du8;
  const size_t N = hn::Lanes(d16);
  auto a0 = hn::Zero(d32), a1 = hn::Zero(d32), b0 = hn::Zero(d32), b1 = hn::Zero(d32);
  size_t i = 0;
  for (; i + 2 * N <= dims; i += 2 * N) {
    const auto c0 = hn::PromoteTo(d16, hn::LoadU(du8, code + i));
    const auto c1 = hn::PromoteTo(d16, hn::LoadU(du8, code + i + N));
    a0 = hn::ReorderWidenMulAccumulate(d32, c0, hn::LoadU(d16, w + i), a0, a1);
    b0 = hn::ReorderWidenMulAccumulate(d32, c1, hn::LoadU(d16, w + i + N), b0, b1);
  }
  for (; i + N <= dims; i += N) {
    const auto c0 = hn::PromoteTo(d16, hn::LoadU(du8, code + i));
    a0 = hn::ReorderWidenMulAccumulate(d32, c0, hn::LoadU(d16, w + i), a0, a1);
  }
  const auto sum = hn::Add(hn::RearrangeToOddPlusEven(a0, a1), hn::RearrangeToOddPlusEven(b0, b1));
  int32_t total = hn::GetLane(hn::SumOfLanes(d32, sum));
  for (; i < dims; ++i) total += int32_t{w[i]} * int32_t{code[i]};
  return total;
}

void DotSq8Impl(const uint8_t* codes, size_t count, size_t dims, const int16_t* w, int32_t* out) {
  for (size_t r = 0; r < count; ++r) out[r] = DotCode(codes + r * dims, dims, w);
}

void DotSq8FilteredImpl(const uint8_t* codes, const uint32_t* rows, size_t count, size_t dims,
                        const int16_t* w, const uint64_t* allowed, int32_t* out) {
  for (size_t r = 0; r < count; ++r) {
    const uint32_t row = rows[r];
    if (((allowed[row >> 6] >> (row & 63)) & 1) != 0) out[r] = DotCode(codes + r * dims, dims, w);
  }
}

const char* TargetImpl() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace gannet::index
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace gannet::index {

HWY_EXPORT(DotImpl);
HWY_EXPORT(L2SquaredImpl);
HWY_EXPORT(DotManyImpl);
HWY_EXPORT(DotRowsImpl);
HWY_EXPORT(DotSq8Impl);
HWY_EXPORT(DotSq8FilteredImpl);
HWY_EXPORT(TargetImpl);

float Dot(const float* a, const float* b, size_t n) {
  return HWY_DYNAMIC_DISPATCH(DotImpl)(a, b, n);
}

float L2Squared(const float* a, const float* b, size_t n) {
  return HWY_DYNAMIC_DISPATCH(L2SquaredImpl)(a, b, n);
}

void DotMany(const float* x, const float* base, size_t count, size_t dims, float* out) {
  HWY_DYNAMIC_DISPATCH(DotManyImpl)(x, base, count, dims, out);
}

void DotRows(const float* xs, size_t nx, const float* base, size_t count, size_t dims, float* out) {
  HWY_DYNAMIC_DISPATCH(DotRowsImpl)(xs, nx, base, count, dims, out);
}

void DotSq8(const uint8_t* codes, size_t count, size_t dims, const int16_t* w, int32_t* out) {
  HWY_DYNAMIC_DISPATCH(DotSq8Impl)(codes, count, dims, w, out);
}

void DotSq8Filtered(const uint8_t* codes, const uint32_t* rows, size_t count, size_t dims,
                    const int16_t* w, const uint64_t* allowed, int32_t* out) {
  HWY_DYNAMIC_DISPATCH(DotSq8FilteredImpl)(codes, rows, count, dims, w, allowed, out);
}

const char* KernelTarget() { return HWY_DYNAMIC_DISPATCH(TargetImpl)(); }

}  // namespace gannet::index
#endif  // HWY_ONCE
