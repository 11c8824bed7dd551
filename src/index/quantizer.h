// Sq8Quantizer: per-dimension 8-bit scalar quantization.
//
// Each dimension d has an origin lo[d] and a step scale[d] = (hi[d] - lo[d]) / 255, learnt
// from the min and max of the training vectors; a value x encodes as
// round((x - lo[d]) / scale[d]) clamped to [0, 255] and decodes as lo[d] + scale[d]·code.
// The IVF index quantizes residuals (vector minus its list's centroid), whose range is
// much narrower than the vectors', so the 256 levels are spent where the data is.
//
// Distances are estimated on codes without decoding: for a query (residual) q,
// |q - decode(c)|² = Σ_d (a[d] - scale[d]·c[d])² with a = q - lo, which the IVF index
// evaluates as Σ a² - 2·Σ (scale·a)·c + Σ (scale·c)², the middle term in integers
// (DotSq8, kernels.h).
//
// Thread safety: immutable after construction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "gannet/status.h"

namespace gannet::index {

class Sq8Quantizer {
 public:
  Sq8Quantizer() = default;
  // From explicit parameters. InvalidArgument unless both have `dims` > 0 finite
  // entries and every scale is >= 0.
  static Result<Sq8Quantizer> FromParams(std::vector<float> lo, std::vector<float> scale);

  // Learns ranges from vectors fed one at a time. REQUIRES: Add() at least once before
  // Finish().
  class Trainer {
   public:
    explicit Trainer(uint32_t dims);
    void Add(const float* x);
    Sq8Quantizer Finish() const;

   private:
    std::vector<float> lo_, hi_;
  };

  uint32_t dims() const { return static_cast<uint32_t>(lo_.size()); }
  const std::vector<float>& lo() const { return lo_; }
  const std::vector<float>& scale() const { return scale_; }

  // code[0..dims) := the code of x.
  void Encode(const float* x, uint8_t* code) const;
  // out[0..dims) := the decoded vector.
  void Decode(const uint8_t* code, float* out) const;

 private:
  std::vector<float> lo_, scale_, inv_scale_;
};

}  // namespace gannet::index
