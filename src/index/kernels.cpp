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

// One code: Σ (a - scale·code)².
HWY_INLINE float OneCode(const uint8_t* code, size_t dims, const float* a, const float* scale) {
  const hn::ScalableTag<float> df;
  const hn::Rebind<int32_t, decltype(df)> di;
  const hn::Rebind<uint8_t, decltype(df)> du8;
  const size_t N = hn::Lanes(df);
  auto acc0 = hn::Zero(df), acc1 = hn::Zero(df);
  size_t i = 0;
  for (; i + 2 * N <= dims; i += 2 * N) {
    const auto c0 = hn::ConvertTo(df, hn::PromoteTo(di, hn::LoadU(du8, code + i)));
    const auto c1 = hn::ConvertTo(df, hn::PromoteTo(di, hn::LoadU(du8, code + i + N)));
    const auto d0 = hn::NegMulAdd(hn::LoadU(df, scale + i), c0, hn::LoadU(df, a + i));
    const auto d1 = hn::NegMulAdd(hn::LoadU(df, scale + i + N), c1, hn::LoadU(df, a + i + N));
    acc0 = hn::MulAdd(d0, d0, acc0);
    acc1 = hn::MulAdd(d1, d1, acc1);
  }
  for (; i + N <= dims; i += N) {
    const auto c0 = hn::ConvertTo(df, hn::PromoteTo(di, hn::LoadU(du8, code + i)));
    const auto d0 = hn::NegMulAdd(hn::LoadU(df, scale + i), c0, hn::LoadU(df, a + i));
    acc0 = hn::MulAdd(d0, d0, acc0);
  }
  float sum = hn::GetLane(hn::SumOfLanes(df, hn::Add(acc0, acc1)));
  for (; i < dims; ++i) {
    const float e = a[i] - scale[i] * static_cast<float>(code[i]);
    sum += e * e;
  }
  return sum;
}

void ScanSq8Impl(const uint8_t* codes, size_t count, size_t dims, const float* a,
                 const float* scale, float* out) {
  for (size_t r = 0; r < count; ++r) out[r] = OneCode(codes + r * dims, dims, a, scale);
}

void ScanSq8FilteredImpl(const uint8_t* codes, const uint32_t* rows, size_t count, size_t dims,
                         const float* a, const float* scale, const uint64_t* allowed, float* out) {
  for (size_t r = 0; r < count; ++r) {
    const uint32_t row = rows[r];
    out[r] = ((allowed[row >> 6] >> (row & 63)) & 1) != 0
                 ? OneCode(codes + r * dims, dims, a, scale)
                 : std::numeric_limits<float>::infinity();
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
HWY_EXPORT(ScanSq8Impl);
HWY_EXPORT(ScanSq8FilteredImpl);
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

void ScanSq8(const uint8_t* codes, size_t count, size_t dims, const float* a, const float* scale,
             float* out) {
  HWY_DYNAMIC_DISPATCH(ScanSq8Impl)(codes, count, dims, a, scale, out);
}

void ScanSq8Filtered(const uint8_t* codes, const uint32_t* rows, size_t count, size_t dims,
                     const float* a, const float* scale, const uint64_t* allowed, float* out) {
  HWY_DYNAMIC_DISPATCH(ScanSq8FilteredImpl)(codes, rows, count, dims, a, scale, allowed, out);
}

const char* KernelTarget() { return HWY_DYNAMIC_DISPATCH(TargetImpl)(); }

}  // namespace gannet::index
#endif  // HWY_ONCE
