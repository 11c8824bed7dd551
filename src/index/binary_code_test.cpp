#include "index/binary_code.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <random>

#include "index/kernels.h"

namespace gannet::index {
namespace {

std::vector<float> Gaussian(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = g(rng);
  return v;
}

double DotD(const float* a, const float* b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += double{a[i]} * b[i];
  return s;
}

TEST(KernelsTest, BinaryDotsMatchScalarReference) {
  std::mt19937_64 rng(3);
  for (size_t words : {1, 2, 3, 6, 8, 12, 16, 24}) {
    const size_t nblocks = 3;
    std::vector<uint64_t> blocks(nblocks * words * kBinaryBlockRows),
        planes(kBinaryQueryBits * words);
    for (uint64_t& b : blocks) b = rng();
    for (uint64_t& p : planes) p = rng();
    blocks[0] = ~uint64_t{0};  // a full word
    std::vector<uint32_t> out(nblocks * kBinaryBlockRows, 7);
    BinaryDots(blocks.data(), nblocks, words, planes.data(), out.data());
    for (size_t b = 0; b < nblocks; ++b) {
      for (size_t t = 0; t < kBinaryBlockRows; ++t) {
        uint64_t want = 0;
        for (size_t w = 0; w < words; ++w) {
          const uint64_t code = blocks[(b * words + w) * kBinaryBlockRows + t];
          for (int j = 0; j < kBinaryQueryBits; ++j) {
            want += uint64_t(std::popcount(code & planes[j * words + w])) << j;
          }
        }
        EXPECT_EQ(out[b * kBinaryBlockRows + t], want) << words << " " << b << " " << t;
      }
    }
  }
}

TEST(KernelsTest, HadamardIsOrthogonalAndColumnsAgree) {
  for (size_t n : {1, 2, 4, 8, 16, 64, 256, 1024}) {
    std::vector<float> x = Gaussian(n, n), y = Gaussian(n, n + 1);
    const double xx = DotD(x.data(), x.data(), n), xy = DotD(x.data(), y.data(), n);
    std::vector<float> hx = x, hy = y;
    Hadamard(hx.data(), n);
    Hadamard(hy.data(), n);
    EXPECT_NEAR(DotD(hx.data(), hx.data(), n), xx, 1e-3 * xx) << n;
    EXPECT_NEAR(DotD(hx.data(), hy.data(), n), xy, 1e-3 * std::sqrt(xx * n)) << n;
    // Its own inverse.
    std::vector<float> back = hx;
    Hadamard(back.data(), n);
    for (size_t i = 0; i < n; ++i) EXPECT_NEAR(back[i], x[i], 1e-4) << n << " " << i;
    // Several vectors at once, interleaved (widths that do and do not fill a SIMD vector).
    for (size_t width : {1, 3, 16, 19}) {
      std::vector<float> cols(n * width);
      for (size_t v = 0; v < width; ++v) {
        for (size_t i = 0; i < n; ++i) cols[i * width + v] = v % 2 == 0 ? x[i] : y[i];
      }
      HadamardColumns(cols.data(), n, width);
      for (size_t v = 0; v < width; ++v) {
        for (size_t i = 0; i < n; ++i) {
          EXPECT_NEAR(cols[i * width + v], v % 2 == 0 ? hx[i] : hy[i], 1e-4) << n << " " << v;
        }
      }
    }
  }
}

TEST(BinaryCoderTest, RotationIsOrthogonalForEveryWidth) {
  for (uint32_t dims : {1u, 48u, 64u, 100u, 128u, 384u, 768u, 1536u}) {
    const BinaryCoder coder(dims);
    EXPECT_EQ(coder.padded() % 64, 0u) << dims;
    EXPECT_GE(coder.padded(), dims);
    EXPECT_LT(coder.padded(), dims + 64);
    std::vector<float> x = Gaussian(dims, dims), y = Gaussian(dims, dims + 7);
    std::vector<float> px(coder.padded()), py(coder.padded());
    coder.Rotate(x.data(), px.data());
    coder.Rotate(y.data(), py.data());
    const double xx = DotD(x.data(), x.data(), dims);
    EXPECT_NEAR(DotD(px.data(), px.data(), coder.padded()), xx, 1e-4 * xx) << dims;
    EXPECT_NEAR(DotD(px.data(), py.data(), coder.padded()), DotD(x.data(), y.data(), dims),
                1e-4 * xx)
        << dims;
    // A basis vector is spread over the coordinates, not left where it was.
    std::vector<float> e(dims, 0.0f), pe(coder.padded());
    e[0] = 1;
    coder.Rotate(e.data(), pe.data());
    float largest = 0;
    for (float v : pe) largest = std::max(largest, std::abs(v));
    if (dims >= 64) {
      EXPECT_LT(largest, 0.5f) << dims;
    }
    // RotateMany agrees with Rotate.
    const size_t count = 21;
    std::vector<float> xs = Gaussian(count * dims, dims + 1), many(count * coder.padded()),
                       one(coder.padded()), scratch;
    coder.RotateMany(xs.data(), count, many.data(), scratch);
    for (size_t v = 0; v < count; ++v) {
      coder.Rotate(xs.data() + v * dims, one.data());
      for (uint32_t i = 0; i < coder.padded(); ++i) {
        EXPECT_NEAR(many[v * coder.padded() + i], one[i], 1e-4) << dims << " " << v;
      }
    }
  }
}

// The estimate of |x - q|² from one-bit codes: unbiased, and its error shrinks with the
// code length as RaBitQ's bound says (~1/√B of |r|·|q - c|).
TEST(BinaryCoderTest, EstimateTracksTheTrueDistance) {
  for (uint32_t dims : {128u, 384u, 1024u}) {
    const BinaryCoder coder(dims);
    const size_t B = coder.padded(), rows = 400;
    std::vector<float> c = Gaussian(dims, 1), q = Gaussian(dims, 2);
    std::vector<float> pc(B), pq(B), pr(B);
    coder.Rotate(c.data(), pc.data());
    coder.Rotate(q.data(), pq.data());
    BinaryCoder::Query prepared;
    coder.PrepareQuery(pq.data(), &prepared);
    double qr2 = 0;
    for (uint32_t d = 0; d < dims; ++d) qr2 += (q[d] - c[d]) * (q[d] - c[d]);
    std::vector<uint64_t> code(coder.words());
    std::vector<uint64_t> block(coder.words() * kBinaryBlockRows);
    std::vector<uint32_t> dots(kBinaryBlockRows);
    BinaryCoder::FactorColumns factors;
    factors.resize(1);
    double sum_err = 0, sum_abs = 0;
    for (size_t i = 0; i < rows; ++i) {
      std::vector<float> r = Gaussian(dims, 100 + i);  // the residual x - c
      double truth = 0;
      for (uint32_t d = 0; d < dims; ++d) truth += (c[d] + r[d] - q[d]) * (c[d] + r[d] - q[d]);
      coder.Rotate(r.data(), pr.data());
      BinaryCoder::Factors f;
      coder.Encode(pr.data(), pc.data(), code.data(), &f);
      factors.set(0, f);
      for (size_t w = 0; w < coder.words(); ++w) block[w * kBinaryBlockRows] = code[w];
      BinaryDots(block.data(), 1, coder.words(), prepared.planes.data(), dots.data());
      float est = 0;
      BinaryCoder::Estimate(factors, 0, 1, dots.data(), static_cast<float>(qr2), prepared, &est);
      const double scale = 2 * std::sqrt(DotD(r.data(), r.data(), dims) * qr2);
      sum_err += (est - truth) / scale;
      sum_abs += std::abs(est - truth) / scale;
    }
    const double bias = sum_err / rows, mean_abs = sum_abs / rows;
    // Measured: |bias|·√B <= 0.13 and mean_abs·√B ~ 0.6 at each of these widths.
    EXPECT_LT(std::abs(bias), 0.3 / std::sqrt(static_cast<double>(B))) << dims;
    EXPECT_LT(mean_abs, 0.9 / std::sqrt(static_cast<double>(B))) << dims;
    EXPECT_GT(mean_abs, 0.0) << dims;
  }
}

// A residual of zero (a row on its centroid) estimates |q - c|² exactly.
TEST(BinaryCoderTest, ZeroResidualEstimatesTheCentroidDistance) {
  const BinaryCoder coder(40);
  std::vector<float> zero(coder.padded(), 0.0f), pc(coder.padded(), 0.5f), pq(coder.padded());
  for (size_t i = 0; i < pq.size(); ++i) pq[i] = static_cast<float>(i % 7) - 3;
  std::vector<uint64_t> code(coder.words());
  BinaryCoder::Factors f;
  coder.Encode(zero.data(), pc.data(), code.data(), &f);
  BinaryCoder::Query prepared;
  coder.PrepareQuery(pq.data(), &prepared);
  BinaryCoder::FactorColumns factors;
  factors.resize(1);
  factors.set(0, f);
  const uint32_t dot = 12345;
  float est = 0;
  BinaryCoder::Estimate(factors, 0, 1, &dot, 2.5f, prepared, &est);
  EXPECT_FLOAT_EQ(est, 2.5f);
}

}  // namespace
}  // namespace gannet::index
