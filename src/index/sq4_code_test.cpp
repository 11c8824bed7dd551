#include "index/sq4_code.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "index/kernels.h"

namespace gannet::index {
namespace {

int Level(const std::vector<uint8_t>& code, size_t i) {
  const size_t half = code.size();
  return i < half ? code[i] & 15 : code[i - half] >> 4;
}

TEST(KernelsTest, DotSq4MatchesScalarReference) {
  std::mt19937_64 rng(5);
  for (size_t half : {1, 7, 32, 96, 192, 200, 512}) {
    std::vector<uint8_t> code(half);
    std::vector<int16_t> w(2 * half);
    for (uint8_t& c : code) c = static_cast<uint8_t>(rng());
    const int16_t max_w = static_cast<int16_t>(MaxDotWeight(2 * half));
    for (int16_t& x : w) {
      x = static_cast<int16_t>(std::uniform_int_distribution<int>(-max_w, max_w)(rng));
    }
    w[0] = max_w;
    code[0] = 0xff;  // both nibbles at their largest
    int64_t want = 0;
    for (size_t i = 0; i < 2 * half; ++i) want += int64_t{w[i]} * Level(code, i);
    EXPECT_EQ(DotSq4(code.data(), half, w.data()), want) << "half " << half;
  }
}

// A rotated residual's coordinates are about Gaussian: a four-bit grid fitted per row
// leaves about a tenth of the vector's length as error, and the error it reports is the
// error it made.
TEST(Sq4CodeTest, EncodesGaussianCoordinatesToATenthOfTheirLength) {
  std::mt19937_64 rng(9);
  std::normal_distribution<float> g(0.3f, 2.0f);
  constexpr uint32_t kB = 384;
  std::vector<float> x(kB);
  for (float& v : x) v = g(rng);
  std::vector<uint8_t> levels(kB), code(kB / 2);
  float lo = 0, step = 0;
  // The relative error of the code of x.
  auto relative_error = [&] {
    const float err2 = EncodeSq4(x.data(), kB, levels.data(), &lo, &step);
    PackSq4(levels.data(), kB, code.data());
    double got_err2 = 0, norm2 = 0;
    for (size_t i = 0; i < kB; ++i) {
      const double d = x[i] - (lo + step * Level(code, i));
      got_err2 += d * d;
      norm2 += double{x[i]} * x[i];
    }
    EXPECT_NEAR(err2, got_err2, 1e-3 * got_err2);
    return std::sqrt(got_err2 / norm2);
  };
  // The best uniform 16-level grid for a Gaussian errs by 0.107 of its σ.
  EXPECT_LT(relative_error(), 0.12);
  // An outlier (6σ; rotation makes them rare) is clamped to the last level, and the error
  // the code reports still is its error.
  x[17] = 12.0f;
  EXPECT_LT(relative_error(), 0.2);
  EXPECT_EQ(Level(code, 17), 15);
  // A constant vector is exact.
  std::vector<float> flat(kB, -1.5f);
  EXPECT_EQ(EncodeSq4(flat.data(), kB, levels.data(), &lo, &step), 0.0f);
  EXPECT_FLOAT_EQ(lo, -1.5f);
}

}  // namespace
}  // namespace gannet::index
