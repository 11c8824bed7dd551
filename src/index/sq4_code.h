// Four-bit codes of rotated residuals: the estimate a search refines its binary shortlist
// with (stage 2, ivf_index.h) without reading the SQ8 codes.
//
// The residual r of a row from its list's centroid is rotated by the BinaryCoder's P
// (binary_code.h); the rotation spreads r's length evenly over the B coordinates, so one
// uniform grid per row fits every coordinate: x = P·r ≈ lo + step·u with u in 0..15 (the
// grid's ends chosen per row to minimise the squared error, then lo and step refitted by
// least squares). With v = P·(q - c) (q the query, c the centroid),
//
//   |q - c - r|² = |q - c|² - 2·<P·q, x> + (|r|² + 2·<P·c, x>)
//              ≈ |q - c|² - 2·(lo·Σ(P·q) + step·<P·q, u>) + term
//
// where term = |r|² + 2·<P·c, x̂> is per row, so a row's estimate reads its B/2 bytes of
// code and four floats and no centroid. Its error is 2·<v, x - x̂>: for the row's
// reconstruction error e = x - x̂ spread over the coordinates, of variance
// |v|²·|e|²/B·4 (`noise` per unit of |q - c|²).
//
// A code is B/2 bytes: byte j holds u_j in its low nibble and u_{j + B/2} in its high one
// (so the kernel, DotSq4, reads both halves of the query with unit stride).
//
// Thread safety: plain data and stateless functions.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/memory.h"

namespace gannet::index {

// Per-row columns of many rows' four-bit codes (row i at index i).
struct Sq4Codes {
  uint32_t padded = 0;               // B
  HugeVector<uint8_t> codes;         // rows × B/2
  HugeVector<float> lo, step, term;  // x̂ = lo + step·u; term as above
  HugeVector<float> noise;           // the estimate's error variance per unit of |q - c|²

  size_t code_bytes() const { return padded / 2; }
  void resize(size_t rows, uint32_t b);
  size_t bytes() const;
};

// The levels u[0..B) (each 0..15) of `x` (B floats, B a multiple of 8) on the grid lo + step·u it
// fits; sets *lo and *step. Returns the squared reconstruction error |x - x̂|².
float EncodeSq4(const float* x, uint32_t b, uint8_t* levels, float* lo, float* step);
// The code of B levels: B/2 bytes, level j in byte j's low nibble and level j + B/2 in
// byte j's high nibble.
void PackSq4(const uint8_t* levels, uint32_t b, uint8_t* code);

}  // namespace gannet::index
