#include "index/quantizer.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace gannet::index {

Result<Sq8Quantizer> Sq8Quantizer::FromParams(std::vector<float> lo, std::vector<float> scale) {
  if (lo.empty() || lo.size() != scale.size()) {
    return Status::InvalidArgument("sq8: origin and scale must have the same nonzero length");
  }
  for (size_t d = 0; d < lo.size(); ++d) {
    if (!std::isfinite(lo[d]) || !std::isfinite(scale[d]) || scale[d] < 0) {
      return Status::InvalidArgument("sq8: bad range in dimension " + std::to_string(d));
    }
  }
  Sq8Quantizer q;
  q.inv_scale_.resize(lo.size());
  for (size_t d = 0; d < lo.size(); ++d) {
    q.inv_scale_[d] = scale[d] > 0 ? 1.0f / scale[d] : 0.0f;
  }
  q.lo_ = std::move(lo);
  q.scale_ = std::move(scale);
  return q;
}

Sq8Quantizer::Trainer::Trainer(uint32_t dims)
    : lo_(dims, std::numeric_limits<float>::infinity()),
      hi_(dims, -std::numeric_limits<float>::infinity()) {}

void Sq8Quantizer::Trainer::Add(const float* x) {
  for (size_t d = 0; d < lo_.size(); ++d) {
    if (!std::isfinite(x[d])) continue;
    lo_[d] = std::min(lo_[d], x[d]);
    hi_[d] = std::max(hi_[d], x[d]);
  }
}

Sq8Quantizer Sq8Quantizer::Trainer::Finish() const {
  std::vector<float> lo(lo_.size()), scale(lo_.size());
  for (size_t d = 0; d < lo_.size(); ++d) {
    if (lo_[d] > hi_[d]) {  // no finite value seen
      lo[d] = 0;
      scale[d] = 0;
      continue;
    }
    lo[d] = lo_[d];
    scale[d] = (hi_[d] - lo_[d]) / 255.0f;
    if (!std::isfinite(scale[d])) scale[d] = 0;
  }
  return *FromParams(std::move(lo), std::move(scale));
}

void Sq8Quantizer::Encode(const float* x, uint8_t* code) const {
  for (size_t d = 0; d < lo_.size(); ++d) {
    const float v = std::nearbyint((x[d] - lo_[d]) * inv_scale_[d]);
    code[d] = static_cast<uint8_t>(std::isfinite(v) ? std::clamp(v, 0.0f, 255.0f) : 0.0f);
  }
}

void Sq8Quantizer::Decode(const uint8_t* code, float* out) const {
  for (size_t d = 0; d < lo_.size(); ++d) out[d] = lo_[d] + scale_[d] * code[d];
}

}  // namespace gannet::index
