// BinaryCoder: RaBitQ-style one-bit codes of residual vectors, and the query side of
// their distance estimate (Gao & Long, "RaBitQ", SIGMOD 2024).
//
// Vectors of `dims` dimensions are padded with zeros to B = dims rounded up to a multiple
// of 64 and rotated by a fixed pseudo-random orthogonal transform P: three rounds of
// random sign flips, each followed by normalized Walsh–Hadamard transforms of the
// largest power-of-two block at the start and at the end of the vector (one block when B
// is a power of two; overlapping ones otherwise, which mix the two ends): O(B log B).
// The code of a residual r = x - c (x a row, c its list's centroid) is the sign bit of
// each coordinate of P·r: ō = sign(P·r)/√B, a unit vector. With o = P·r/|r|, RaBitQ
// estimates <o, y> for any y as <ō, y> / <ō, o>, so
//
//   |x - q|² = |r|² + |q - c|² - 2·|r|·<o, P(q - c)>
//            ≈ |r|² + |q - c|² - 2·|r|·(<ō, P·q> - <ō, P·c>) / <ō, o>
//
// The per-row constants (|r|, <ō, o>, <ō, P·c>) fold into Factors; the query is rotated
// once per search and quantized to kBinaryQueryBits-bit unsigned integers u (P·q ≈
// lo + delta·u), so that <ō, P·q> needs only popcounts of the code against the bit planes
// of u (BinaryDots, kernels.h). A code of B bits stands in for the 8·dims bits of an SQ8
// code: the posting scan reads 4-8× fewer bytes, and memory bandwidth is what bounds it
// once the lists outgrow the CPU caches; the estimate is coarser, so a search refines a
// shortlist (every row its error bound, Factors::err, cannot rule out) with SQ8.
//
// Thread safety: immutable after construction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/memory.h"

namespace gannet::index {

// RaBitQ's ε0: the estimate of <o, y> is within ε0·√((1 - <ō, o>²)/<ō, o>²)/√(B - 1)
// with high probability (1.9 in the paper for ~99.9%).
inline constexpr float kErrorBound = 1.9f;

class BinaryCoder {
 public:
  BinaryCoder() = default;
  explicit BinaryCoder(uint32_t dims);

  uint32_t dims() const { return dims_; }
  uint32_t padded() const { return padded_; }    // B
  size_t words() const { return padded_ / 64; }  // 64-bit words per code

  // out[0..B) := P·x, x being dims() floats.
  void Rotate(const float* x, float* out) const;
  // out[i·B..(i+1)·B) := P·x_i for the `count` vectors x_i = xs + i·dims() (several at
  // once: faster than Rotate per vector). `scratch` is reused between calls.
  void RotateMany(const float* xs, size_t count, float* out, std::vector<float>& scratch) const;

  // The per-row constants of the estimate (see above).
  struct Factors {
    float k0 = 0;     // |r|² + 2·|r|·<ō, P·c> / <ō, o>
    float alpha = 0;  // 2·|r| / (<ō, o>·√B)
    float ones = 0;   // bits set in the code
    // The estimate's error bound per unit of |q - c|: 2·|r|·kErrorBound·√(1 - <ō, o>²) /
    // (<ō, o>·√(B - 1)) (RaBitQ's bound; the estimate is off by more rarely).
    float err = 0;
  };
  // code[0..words()) and *f for the residual whose rotation is `rotated_residual` (B
  // floats), in the list whose rotated centroid is `rotated_centroid` (B floats).
  void Encode(const float* rotated_residual, const float* rotated_centroid, uint64_t* code,
              Factors* f) const;

  // A rotated query (P·q) quantized for BinaryDots.
  struct Query {
    std::vector<uint64_t> planes;  // kBinaryQueryBits × words()
    float lo = 0, delta = 0;       // P·q ≈ lo + delta·u
    float sum = 0;                 // Σ_i (P·q)_i
  };
  void PrepareQuery(const float* rotated_query, Query* q) const;

  // Per-row constants of many rows, by field (Factors of row i at index i).
  struct FactorColumns {
    HugeVector<float> k0, alpha, ones, err;
    void resize(size_t n) {
      k0.resize(n);
      alpha.resize(n);
      ones.resize(n);
      err.resize(n);
    }
    void set(size_t i, const Factors& f) {
      k0[i] = f.k0;
      alpha[i] = f.alpha;
      ones[i] = f.ones;
      err[i] = f.err;
    }
    size_t bytes() const { return 4 * k0.size() * sizeof(float); }
  };
  // out[r] := the estimate of |x_r - q|² for rows [begin, begin + n) of `f`, from their
  // BinaryDots `dots` and qr2 = |q - c|², c their list's centroid.
  static void Estimate(const FactorColumns& f, size_t begin, size_t n, const uint32_t* dots,
                       float qr2, const Query& q, float* out);

 private:
  uint32_t dims_ = 0, padded_ = 0;
  uint32_t block_ = 0;        // the Hadamard block: the largest power of two <= B
  std::vector<float> signs_;  // kRounds × B of ±1
};

}  // namespace gannet::index
