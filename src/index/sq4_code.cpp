// Four-bit codes of rotated residuals; see sq4_code.h.
#include "index/sq4_code.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "index/kernels.h"

namespace gannet::index {
namespace {

constexpr int kLevels = 15;  // u in 0..kLevels
// The step of the uniform 16-level quantizer of least squared error for a standard
// Gaussian (Max, 1960): the start of the grid, in units of the coordinates' deviation.
constexpr double kGaussianStep = 0.3352;
// Lloyd iterations: each chooses the levels on the grid, then refits lo and step to them
// by least squares (neither step can raise the error).
constexpr int kRefits = 3;

}  // namespace

void Sq4Codes::resize(size_t rows, uint32_t b) {
  padded = b;
  codes.assign(rows * (b / 2), 0);
  lo.assign(rows, 0);
  step.assign(rows, 0);
  term.assign(rows, 0);
  noise.assign(rows, 0);
}

size_t Sq4Codes::bytes() const {
  return codes.size() + (lo.size() + step.size() + term.size() + noise.size()) * sizeof(float);
}

float EncodeSq4(const float* x, uint32_t b, uint8_t* levels, float* lo_out, float* step_out) {
  thread_local std::vector<float> ones;
  if (ones.size() < b) ones.assign(b, 1.0f);
  const float n = static_cast<float>(b), sum = Dot(x, ones.data(), b), mean = sum / n;
  const float sd = std::sqrt(std::max(0.0f, Dot(x, x, b) / n - mean * mean));
  float step = static_cast<float>(kGaussianStep) * sd, lo = mean - kLevels / 2.0f * step;
  float sums[3];      // Σ u, Σ u², Σ u·x
  if (!(step > 0)) {  // constant (or not finite): one level
    *lo_out = mean;
    *step_out = 0;
    return Sq4Pass(x, b, mean, 0, 0, sums, levels);
  }
  for (int iteration = 0; iteration < kRefits; ++iteration) {
    (void)Sq4Pass(x, b, lo, 1 / step, step, sums, nullptr);
    const float var = sums[1] - sums[0] * sums[0] / n;
    if (!(var > 0)) break;  // every coordinate on one level: keep the grid
    const float new_step = (sums[2] - sums[0] * sum / n) / var;
    if (!(new_step > 0)) break;
    step = new_step;
    lo = (sum - step * sums[0]) / n;
  }
  *lo_out = lo;
  *step_out = step;
  return Sq4Pass(x, b, lo, 1 / step, step, sums, levels);
}

void PackSq4(const uint8_t* levels, uint32_t b, uint8_t* code) {
  const uint32_t half = b / 2;
  for (uint32_t i = 0; i < half; ++i) {
    code[i] = static_cast<uint8_t>(levels[i] | (levels[half + i] << 4));
  }
}

}  // namespace gannet::index
