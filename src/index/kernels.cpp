// Highway kernels, compiled for every target in HWY_TARGETS; see kernels.h.
#include "index/kernels.h"

// Compile an AVX-512 target with VPOPCNTDQ/VNNI as well (Ice Lake and later), for the
// binary-code scan; Highway 1.0 builds it only on request.
#ifndef HWY_WANT_AVX3_DL
#define HWY_WANT_AVX3_DL
#endif

#include <algorithm>
#include <cmath>
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

// Σ_t x[t]·c[t] for t in [from, dims) by std::fma (never contracted differently per
// caller), added to the reduced vector part: the tail of every DotRows product.
HWY_INLINE float FinishDot(float vector_part, const float* x, const float* c, size_t from,
                           size_t dims) {
  for (size_t u = from; u < dims; ++u) vector_part = std::fma(x[u], c[u], vector_part);
  return vector_part;
}

// Rows of xs against centroids of base, several at once (each centroid load reused by 4
// rows, each row load by 2 centroids). Every (row, centroid) product has its own
// accumulator, summed in the same order whatever the block shape, so results do not
// depend on how rows are grouped. Named accumulators, not arrays: SVE and RVV vectors are
// sizeless types that cannot be array elements.
HWY_INLINE void DotBlock4x2(const float* xs, size_t dims, const float* c0, size_t count,
                            float* out) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const float* c1 = c0 + dims;
  const float *x0 = xs, *x1 = xs + dims, *x2 = xs + 2 * dims, *x3 = xs + 3 * dims;
  auto a00 = hn::Zero(d), a01 = hn::Zero(d), a10 = hn::Zero(d), a11 = hn::Zero(d);
  auto a20 = hn::Zero(d), a21 = hn::Zero(d), a30 = hn::Zero(d), a31 = hn::Zero(d);
  size_t t = 0;
  for (; t + N <= dims; t += N) {
    const auto v0 = hn::LoadU(d, c0 + t), v1 = hn::LoadU(d, c1 + t);
    const auto y0 = hn::LoadU(d, x0 + t), y1 = hn::LoadU(d, x1 + t);
    a00 = hn::MulAdd(y0, v0, a00);
    a01 = hn::MulAdd(y0, v1, a01);
    a10 = hn::MulAdd(y1, v0, a10);
    a11 = hn::MulAdd(y1, v1, a11);
    const auto y2 = hn::LoadU(d, x2 + t), y3 = hn::LoadU(d, x3 + t);
    a20 = hn::MulAdd(y2, v0, a20);
    a21 = hn::MulAdd(y2, v1, a21);
    a30 = hn::MulAdd(y3, v0, a30);
    a31 = hn::MulAdd(y3, v1, a31);
  }
  auto put = [&](size_t r, size_t c, decltype(a00) acc, const float* x, const float* cv) {
    out[r * count + c] = FinishDot(hn::GetLane(hn::SumOfLanes(d, acc)), x, cv, t, dims);
  };
  put(0, 0, a00, x0, c0);
  put(0, 1, a01, x0, c1);
  put(1, 0, a10, x1, c0);
  put(1, 1, a11, x1, c1);
  put(2, 0, a20, x2, c0);
  put(2, 1, a21, x2, c1);
  put(3, 0, a30, x3, c0);
  put(3, 1, a31, x3, c1);
}

// One row against one centroid, summed exactly as DotBlock4x2 sums each pair.
HWY_INLINE float DotPair(const float* x, const float* c, size_t dims) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  auto acc = hn::Zero(d);
  size_t t = 0;
  for (; t + N <= dims; t += N) acc = hn::MulAdd(hn::LoadU(d, x + t), hn::LoadU(d, c + t), acc);
  return FinishDot(hn::GetLane(hn::SumOfLanes(d, acc)), x, c, t, dims);
}

void DotRowsImpl(const float* xs, size_t nx, const float* base, size_t count, size_t dims,
                 float* out) {
  size_t i = 0;
  for (; i + 4 <= nx; i += 4) {
    const float* x = xs + i * dims;
    float* o = out + i * count;
    size_t j = 0;
    for (; j + 2 <= count; j += 2) DotBlock4x2(x, dims, base + j * dims, count, o + j);
    for (; j < count; ++j) {
      for (size_t r = 0; r < 4; ++r)
        o[r * count + j] = DotPair(x + r * dims, base + j * dims, dims);
    }
  }
  for (; i < nx; ++i) {
    for (size_t j = 0; j < count; ++j) {
      out[i * count + j] = DotPair(xs + i * dims, base + j * dims, dims);
    }
  }
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

int32_t DotSq4Impl(const uint8_t* code, size_t half, const int16_t* w) {
  const hn::ScalableTag<int16_t> d16;
  const hn::RepartitionToWide<decltype(d16)> d32;
  const hn::Rebind<uint8_t, decltype(d16)> du8;
  const size_t N = hn::Lanes(d16);
  const auto mask = hn::Set(d16, int16_t{15});
  auto a0 = hn::Zero(d32), a1 = hn::Zero(d32), b0 = hn::Zero(d32), b1 = hn::Zero(d32);
  size_t i = 0;
  for (; i + N <= half; i += N) {
    const auto bytes = hn::PromoteTo(d16, hn::LoadU(du8, code + i));
    a0 = hn::ReorderWidenMulAccumulate(d32, hn::And(bytes, mask), hn::LoadU(d16, w + i), a0, a1);
    b0 = hn::ReorderWidenMulAccumulate(d32, hn::ShiftRight<4>(bytes), hn::LoadU(d16, w + half + i),
                                       b0, b1);
  }
  const auto sum = hn::Add(hn::RearrangeToOddPlusEven(a0, a1), hn::RearrangeToOddPlusEven(b0, b1));
  int32_t total = hn::GetLane(hn::SumOfLanes(d32, sum));
  for (; i < half; ++i) {
    total += int32_t{w[i]} * (code[i] & 15) + int32_t{w[half + i]} * (code[i] >> 4);
  }
  return total;
}

float Sq8NormImpl(const uint8_t* code, const float* scale2, size_t dims) {
  const hn::ScalableTag<float> d;
  const hn::RebindToSigned<decltype(d)> di;
  const hn::Rebind<uint8_t, decltype(di)> du8;
  const size_t N = hn::Lanes(d);
  auto acc = hn::Zero(d);
  size_t i = 0;
  for (; i + N <= dims; i += N) {
    const auto c = hn::ConvertTo(d, hn::PromoteTo(di, hn::LoadU(du8, code + i)));
    acc = hn::MulAdd(hn::Mul(c, c), hn::LoadU(d, scale2 + i), acc);
  }
  float sum = hn::GetLane(hn::SumOfLanes(d, acc));
  for (; i < dims; ++i) {
    const float c = static_cast<float>(code[i]);
    sum += scale2[i] * c * c;
  }
  return sum;
}

float Sq4PassImpl(const float* x, size_t n, float lo, float inv, float step, float* out,
                  uint8_t* levels) {
  const hn::ScalableTag<float> d;
  const hn::RebindToSigned<decltype(d)> di;
  const size_t N = hn::Lanes(d);
  const auto vlo = hn::Set(d, lo), vinv = hn::Set(d, inv), vstep = hn::Set(d, step);
  const auto half = hn::Set(d, 0.5f), top = hn::Set(d, 15.5f), zero = hn::Zero(d);
  auto su = hn::Zero(d), suu = hn::Zero(d), sux = hn::Zero(d), err = hn::Zero(d);
  HWY_ALIGN int32_t lanes[HWY_MAX_BYTES / sizeof(int32_t)];
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto v = hn::LoadU(d, x + i);
    // Non-negative after the clamp: truncation rounds to nearest.
    const auto u = hn::Floor(hn::Min(hn::Max(hn::MulAdd(hn::Sub(v, vlo), vinv, half), zero), top));
    su = hn::Add(su, u);
    suu = hn::MulAdd(u, u, suu);
    sux = hn::MulAdd(u, v, sux);
    if (levels != nullptr) {
      const auto e = hn::Sub(v, hn::MulAdd(vstep, u, vlo));
      err = hn::MulAdd(e, e, err);
      hn::Store(hn::ConvertTo(di, u), di, lanes);
      for (size_t l = 0; l < N; ++l) levels[i + l] = static_cast<uint8_t>(lanes[l]);
    }
  }
  out[0] = hn::GetLane(hn::SumOfLanes(d, su));
  out[1] = hn::GetLane(hn::SumOfLanes(d, suu));
  out[2] = hn::GetLane(hn::SumOfLanes(d, sux));
  float total_err = hn::GetLane(hn::SumOfLanes(d, err));
  for (; i < n; ++i) {  // n is a multiple of 8; wider vectors leave a tail
    const float u = std::floor(std::min(std::max((x[i] - lo) * inv + 0.5f, 0.0f), 15.5f));
    out[0] += u;
    out[1] += u * u;
    out[2] += u * x[i];
    if (levels != nullptr) {
      levels[i] = static_cast<uint8_t>(u);
      const float e = x[i] - (lo + step * u);
      total_err += e * e;
    }
  }
  return total_err;
}

void BinaryDotsImpl(const uint64_t* blocks, size_t nblocks, size_t words, const uint64_t* planes,
                    uint32_t* out) {
  // Lanes are rows of a block: up to kBinaryBlockRows at once, fewer on narrow targets.
  const hn::CappedTag<uint64_t, kBinaryBlockRows> d;
  const size_t N = hn::Lanes(d);
  HWY_ALIGN uint64_t sums[kBinaryBlockRows];
  for (size_t b = 0; b < nblocks; ++b) {
    const uint64_t* block = blocks + b * words * kBinaryBlockRows;
    for (size_t g = 0; g < kBinaryBlockRows; g += N) {
      auto acc = hn::Zero(d);
      for (size_t w = 0; w < words; ++w) {
        const auto c = hn::LoadU(d, block + w * kBinaryBlockRows + g);
        for (int j = 0; j < kBinaryQueryBits; ++j) {
          const auto ones = hn::PopulationCount(hn::And(c, hn::Set(d, planes[j * words + w])));
          acc = hn::Add(acc, hn::ShiftLeftSame(ones, j));
        }
      }
      hn::Store(acc, d, sums + g);
    }
    for (size_t t = 0; t < kBinaryBlockRows; ++t) {
      out[b * kBinaryBlockRows + t] = static_cast<uint32_t>(sums[t]);
    }
  }
}

void HadamardImpl(float* x, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  for (size_t h = 1; h < n; h <<= 1) {
    for (size_t i = 0; i < n; i += 2 * h) {
      size_t j = i;
      if (h >= N) {
        for (; j + N <= i + h; j += N) {
          const auto a = hn::LoadU(d, x + j), b = hn::LoadU(d, x + j + h);
          hn::StoreU(hn::Add(a, b), d, x + j);
          hn::StoreU(hn::Sub(a, b), d, x + j + h);
        }
      }
      for (; j < i + h; ++j) {
        const float a = x[j], b = x[j + h];
        x[j] = a + b;
        x[j + h] = a - b;
      }
    }
  }
  const auto scale = hn::Set(d, 1.0f / std::sqrt(static_cast<float>(n)));
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(hn::Mul(hn::LoadU(d, x + i), scale), d, x + i);
  for (; i < n; ++i) x[i] *= 1.0f / std::sqrt(static_cast<float>(n));
}

void HadamardColumnsImpl(float* x, size_t n, size_t width) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  for (size_t h = 1; h < n; h <<= 1) {
    for (size_t i = 0; i < n; i += 2 * h) {
      for (size_t j = i; j < i + h; ++j) {
        float* a = x + j * width;
        float* b = x + (j + h) * width;
        size_t v = 0;
        for (; v + N <= width; v += N) {
          const auto va = hn::LoadU(d, a + v), vb = hn::LoadU(d, b + v);
          hn::StoreU(hn::Add(va, vb), d, a + v);
          hn::StoreU(hn::Sub(va, vb), d, b + v);
        }
        for (; v < width; ++v) {
          const float p = a[v], q = b[v];
          a[v] = p + q;
          b[v] = p - q;
        }
      }
    }
  }
  const float inv = 1.0f / std::sqrt(static_cast<float>(n));
  const auto scale = hn::Set(d, inv);
  const size_t total = n * width;
  size_t i = 0;
  for (; i + N <= total; i += N) hn::StoreU(hn::Mul(hn::LoadU(d, x + i), scale), d, x + i);
  for (; i < total; ++i) x[i] *= inv;
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
HWY_EXPORT(DotSq4Impl);
HWY_EXPORT(Sq4PassImpl);
HWY_EXPORT(Sq8NormImpl);
HWY_EXPORT(BinaryDotsImpl);
HWY_EXPORT(HadamardImpl);
HWY_EXPORT(HadamardColumnsImpl);
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

void BinaryDots(const uint64_t* blocks, size_t nblocks, size_t words, const uint64_t* planes,
                uint32_t* out) {
  HWY_DYNAMIC_DISPATCH(BinaryDotsImpl)(blocks, nblocks, words, planes, out);
}

int32_t DotSq4(const uint8_t* code, size_t half, const int16_t* w) {
  return HWY_DYNAMIC_DISPATCH(DotSq4Impl)(code, half, w);
}

float Sq8Norm(const uint8_t* code, const float* scale2, size_t dims) {
  return HWY_DYNAMIC_DISPATCH(Sq8NormImpl)(code, scale2, dims);
}

float Sq4Pass(const float* x, size_t n, float lo, float inv, float step, float* out,
              uint8_t* levels) {
  return HWY_DYNAMIC_DISPATCH(Sq4PassImpl)(x, n, lo, inv, step, out, levels);
}

void Hadamard(float* x, size_t n) { HWY_DYNAMIC_DISPATCH(HadamardImpl)(x, n); }

void HadamardColumns(float* x, size_t n, size_t width) {
  HWY_DYNAMIC_DISPATCH(HadamardColumnsImpl)(x, n, width);
}

const char* KernelTarget() { return HWY_DYNAMIC_DISPATCH(TargetImpl)(); }

}  // namespace gannet::index
#endif  // HWY_ONCE
