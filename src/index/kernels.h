// SIMD kernels of the vector index: f32 dot products and squared distances (k-means,
// re-ranking) and the SQ8 code scan (the posting-list hot loop).
//
// kernels.cpp is compiled once per instruction set with Highway (foreach_target.h) and
// the best one the CPU supports is chosen at run time on the first call (AVX-512, AVX2,
// SSE4, NEON, SVE, or portable scalar code). Results may differ in the last bits between
// instruction sets (summation order), never more.
//
// Thread safety: stateless functions.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gannet::index {

// Σ a[i]·b[i] over n elements.
float Dot(const float* a, const float* b, size_t n);
// Σ (a[i]-b[i])² over n elements.
float L2Squared(const float* a, const float* b, size_t n);
// out[j] = Dot(x, base + j*dims, dims) for j in [0, count).
void DotMany(const float* x, const float* base, size_t count, size_t dims, float* out);

// The SQ8 code scan. For each of `count` codes of `dims` bytes each (code r at
// codes + r*dims), writes out[r] = Σ_d (a[d] - scale[d]·code[d])², i.e. the squared
// distance between a query offset `a` (query minus the decode origin) and the decoded
// vector. REQUIRES: `out` has room for `count` floats.
void ScanSq8(const uint8_t* codes, size_t count, size_t dims, const float* a, const float* scale,
             float* out);

// As ScanSq8, but only for the codes whose index i (0..count) has bit (base + i) set in
// `allowed` (64-bit words, bit b of word w is row 64w+b); other out[i] are +infinity.
// `rows[i]` maps code i to its row id (the bit tested).
void ScanSq8Filtered(const uint8_t* codes, const uint32_t* rows, size_t count, size_t dims,
                     const float* a, const float* scale, const uint64_t* allowed, float* out);

// The name of the instruction set the dispatcher picked, e.g. "AVX2" (for reports).
const char* KernelTarget();

}  // namespace gannet::index
