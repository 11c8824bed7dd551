// SIMD kernels of the vector index: f32 dot products and squared distances (k-means,
// re-ranking), the binary-code scan (the posting-list hot loop) with popcounts, the SQ8
// code scan (ranking centroids, refining the shortlist) in integers, and the Hadamard
// transform.
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
// out[i·count + j] = Σ_d xs[i·dims + d]·base[j·dims + d] for i < nx, j < count: a block of
// rows against every centroid, several rows and centroids per pass (k-means' inner loop,
// about twice DotMany's speed). A row's results do not depend on nx or on its place in xs.
void DotRows(const float* xs, size_t nx, const float* base, size_t count, size_t dims, float* out);

// The SQ8 code scan (ranking the centroids, refining a shortlist): out[r] = Σ_d w[d]·code_r[d] for
// each of `count` codes, exactly, in 32-bit arithmetic. REQUIRES: dims·255·max|w[d]| < 2^31 (see
// MaxDotWeight). With w = round(scale·a / β), Σ_d (a[d] - scale[d]·c[d])² =
// Σ a² - 2β·out[r] + Σ (scale·c)² up to the rounding of w: the estimate without
// converting a single code to float.
void DotSq8(const uint8_t* codes, size_t count, size_t dims, const int16_t* w, int32_t* out);
// Σ_d scale2[d]·code[d]² over an SQ8 code: with scale2 = scale², the |scale·code|² term
// of the SQ8 estimate above (a cold search computes it per row it cannot rule out).
float Sq8Norm(const uint8_t* code, const float* scale2, size_t dims);
// The four-bit code estimate (sq4_code.h): Σ_j w[j]·u_j over the B = 2·half levels of a
// code (byte j holds u_j in its low nibble and u_{j + half} in its high one), exactly, in
// 32-bit arithmetic. REQUIRES: 2·half·15·max|w[j]| < 2^31 (MaxDotWeight(2·half) is).
int32_t DotSq4(const uint8_t* code, size_t half, const int16_t* w);
// One pass of the four-bit grid fit (sq4_code.h) over x[0..n): each x[i] takes the
// level u_i = clamp(round((x[i] - lo)·inv), 0, 15); out[0..3) := Σ u, Σ u², Σ u·x. With
// `levels` non-null also stores the u_i there and returns Σ (x[i] - lo - step·u_i)²
// (else returns 0). REQUIRES: n a multiple of 8.
float Sq4Pass(const float* x, size_t n, float lo, float inv, float step, float* out,
              uint8_t* levels);
// The binary-code scan (RaBitQ-style 1-bit codes, binary_code.h), the posting-list hot
// loop: for each code r, out[r] = Σ_j 2^j · popcount(code_r & plane_j) over its `words`
// 64-bit words, for the kBinaryQueryBits bit planes of a query quantized to unsigned
// integers (plane j at planes + j·words): the sum of the query's integers over the bits
// set in the code. Codes come in blocks of kBinaryBlockRows, interleaved by word (word w
// of the block's row t at blocks[(b·words + w)·kBinaryBlockRows + t]), so that one
// vector holds the same word of several rows and no per-row horizontal sum is needed;
// `out` receives kBinaryBlockRows values per block.
inline constexpr int kBinaryQueryBits = 4;
inline constexpr size_t kBinaryBlockRows = 8;
void BinaryDots(const uint64_t* blocks, size_t nblocks, size_t words, const uint64_t* planes,
                uint32_t* out);
// In place, the normalized Walsh–Hadamard transform of x[0..n): n a power of two; the
// transform is orthogonal and its own inverse.
void Hadamard(float* x, size_t n);
// The same transform of `width` vectors at once, stored interleaved: element i of vector
// v at x[i·width + v] (every butterfly a whole-vector operation, whatever n).
void HadamardColumns(float* x, size_t n, size_t width);

// As DotSq8, only for the codes whose row (rows[i]) has its bit set in `allowed`; the
// other out[i] are left unchanged.
void DotSq8Filtered(const uint8_t* codes, const uint32_t* rows, size_t count, size_t dims,
                    const int16_t* w, const uint64_t* allowed, int32_t* out);
// The largest |w[d]| DotSq8 allows for `dims` dimensions (at most 32767).
inline int32_t MaxDotWeight(size_t dims) {
  const int64_t limit = ((int64_t{1} << 31) - 1) / (static_cast<int64_t>(dims) * 255 + 1);
  return static_cast<int32_t>(limit < 32767 ? limit : 32767);
}

// The name of the instruction set the dispatcher picked, e.g. "AVX2" (for reports).
const char* KernelTarget();

}  // namespace gannet::index
