// RaBitQ-style one-bit codes; see binary_code.h.
#include "index/binary_code.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <random>

#include "index/kernels.h"

namespace gannet::index {
namespace {

// Rounds of sign flips + Hadamard transforms. One round maps a vector that is sparse in
// the Hadamard basis to a sparse one; three make the transform behave like a random
// rotation for the estimate.
constexpr int kRounds = 3;
// The rotation is part of what a code means: a fixed seed, so that every build derives
// the same codes from the same index.
constexpr uint64_t kRotationSeed = 0x6761'6e6e'6574'7262;

}  // namespace

BinaryCoder::BinaryCoder(uint32_t dims)
    : dims_(dims), padded_((dims + 63) / 64 * 64), block_(std::bit_floor(padded_)) {
  signs_.resize(size_t{kRounds} * padded_);
  std::mt19937_64 rng(kRotationSeed);
  for (size_t i = 0; i < signs_.size(); i += 64) {
    const uint64_t bits = rng();
    for (size_t b = 0; b < 64 && i + b < signs_.size(); ++b) {
      signs_[i + b] = ((bits >> b) & 1) != 0 ? -1.0f : 1.0f;
    }
  }
}

void BinaryCoder::Rotate(const float* x, float* out) const {
  std::copy(x, x + dims_, out);
  std::fill(out + dims_, out + padded_, 0.0f);
  for (int round = 0; round < kRounds; ++round) {
    const float* s = signs_.data() + size_t(round) * padded_;
    for (uint32_t i = 0; i < padded_; ++i) out[i] *= s[i];
    // Power-of-two blocks at both ends, overlapping unless B is a power of two itself.
    Hadamard(out, block_);
    if (block_ != padded_) Hadamard(out + (padded_ - block_), block_);
  }
}

void BinaryCoder::RotateMany(const float* xs, size_t count, float* out,
                             std::vector<float>& scratch) const {
  constexpr size_t kWidth = 16;  // vectors transformed together
  scratch.resize(size_t{padded_} * kWidth);
  for (size_t first = 0; first < count; first += kWidth) {
    const size_t width = std::min(kWidth, count - first);
    // Transposed: coordinate i of vector v at scratch[i·width + v].
    std::fill(scratch.begin(), scratch.end(), 0.0f);
    for (size_t v = 0; v < width; ++v) {
      const float* x = xs + (first + v) * dims_;
      for (uint32_t i = 0; i < dims_; ++i) scratch[i * width + v] = x[i];
    }
    for (int round = 0; round < kRounds; ++round) {
      const float* s = signs_.data() + size_t(round) * padded_;
      for (uint32_t i = 0; i < padded_; ++i) {
        for (size_t v = 0; v < width; ++v) scratch[i * width + v] *= s[i];
      }
      HadamardColumns(scratch.data(), block_, width);
      if (block_ != padded_) {
        HadamardColumns(scratch.data() + (padded_ - block_) * width, block_, width);
      }
    }
    for (size_t v = 0; v < width; ++v) {
      float* o = out + (first + v) * padded_;
      for (uint32_t i = 0; i < padded_; ++i) o[i] = scratch[i * width + v];
    }
  }
}

void BinaryCoder::Encode(const float* rr, const float* rc, uint64_t* code, Factors* f) const {
  const size_t nw = words();
  // Eight independent sums per quantity (B is a multiple of 64): no long dependency chain.
  constexpr int kLanes = 8;
  float abs_sum[kLanes] = {}, c_set[kLanes] = {}, c_all[kLanes] = {};
  uint32_t ones = 0;
  for (size_t w = 0; w < nw; ++w) {
    uint64_t bits = 0;
    for (uint32_t b = 0; b < 64; b += kLanes) {
      for (int l = 0; l < kLanes; ++l) {
        const float v = rr[w * 64 + b + l], c = rc[w * 64 + b + l];
        const bool set = v > 0;
        bits |= uint64_t{set} << (b + l);
        abs_sum[l] += std::abs(v);
        c_all[l] += c;
        c_set[l] += set ? c : 0.0f;
      }
    }
    code[w] = bits;
    ones += static_cast<uint32_t>(std::popcount(bits));
  }
  float abs_total = 0, c_set_total = 0, c_sum = 0;
  for (int l = 0; l < kLanes; ++l) {
    abs_total += abs_sum[l];
    c_set_total += c_set[l];
    c_sum += c_all[l];
  }
  const float norm2 = Dot(rr, rr, padded_);
  const float sqrt_b = std::sqrt(static_cast<float>(padded_));
  const float norm = std::sqrt(norm2);
  f->ones = static_cast<float>(ones);
  if (!(norm > 0)) {  // the row is its centroid: the estimate is |q - c|²
    f->k0 = 0;
    f->alpha = 0;
    f->err = 0;
    return;
  }
  // <ō, o> >= 1/√B (Cauchy–Schwarz): never zero.
  const float ip = abs_total / (sqrt_b * norm);
  const float c_dot = (2 * c_set_total - c_sum) / sqrt_b;  // <ō, P·c>
  f->k0 = norm2 + 2 * norm * c_dot / ip;
  f->alpha = 2 * norm / (ip * sqrt_b);
  f->err = 2 * norm * kErrorBound * std::sqrt(std::max(0.0f, 1 - ip * ip)) /
           (ip * std::sqrt(static_cast<float>(padded_ - 1)));
}

void BinaryCoder::PrepareQuery(const float* rq, Query* q) const {
  const size_t nw = words();
  float lo = rq[0], hi = rq[0];
  double sum = 0;
  for (uint32_t i = 0; i < padded_; ++i) {
    lo = std::min(lo, rq[i]);
    hi = std::max(hi, rq[i]);
    sum += rq[i];
  }
  constexpr float kLevels = static_cast<float>((1 << kBinaryQueryBits) - 1);
  q->lo = lo;
  q->delta = hi > lo ? (hi - lo) / kLevels : 0.0f;
  q->sum = static_cast<float>(sum);
  q->planes.assign(size_t{kBinaryQueryBits} * nw, 0);
  if (q->delta == 0) return;
  const float inv = 1.0f / q->delta;
  for (uint32_t i = 0; i < padded_; ++i) {
    const auto u = static_cast<uint32_t>(
        std::clamp(std::lrint((rq[i] - lo) * inv), 0L, static_cast<long>(kLevels)));
    for (int j = 0; j < kBinaryQueryBits; ++j) {
      q->planes[size_t(j) * nw + i / 64] |= uint64_t{(u >> j) & 1} << (i % 64);
    }
  }
}

void BinaryCoder::Estimate(const FactorColumns& f, size_t begin, size_t n, const uint32_t* dots,
                           float qr2, const Query& q, float* out) {
  // k0 + qr2 - alpha·(2·(lo·ones + delta·dot) - sum), in one loop the compiler vectorizes.
  const float* k0 = f.k0.data() + begin;
  const float* alpha = f.alpha.data() + begin;
  const float* ones = f.ones.data() + begin;
  const float two_lo = 2 * q.lo, two_delta = 2 * q.delta;
  for (size_t r = 0; r < n; ++r) {
    out[r] = k0[r] + qr2 -
             alpha[r] * (two_lo * ones[r] + two_delta * static_cast<float>(dots[r]) - q.sum);
  }
}

}  // namespace gannet::index
