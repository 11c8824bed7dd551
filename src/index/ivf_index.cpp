// The IVF-SQ8 index. See ivf_index.h; the byte layout is docs/format/vector-index.md.
#include "index/ivf_index.h"

#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <queue>
#include <random>

#include "common/coding.h"
#include "format/frame.h"
#include "index/kernels.h"

namespace gannet::index {
namespace {

constexpr uint32_t kCalibrationK = 10;
// The depths (k) of the calibration curves past the first: recall@10, and the share of
// the true top-100 and top-1000 in the probed lists. Format version 5 puts a depth-1 curve
// before them (the share of searches for 10 that return the true nearest row), for a
// segment asked for only its share of a merged top k (IvfSearchParams::depth).
constexpr std::array<size_t, 3> kCalibrationDepths = {10, 100, 1000};
constexpr uint32_t kNearestK = 1;
constexpr size_t kMaxCalibrationCurves = kCalibrationDepths.size() + 1;
// Calibrated recall must exceed the target by this many standard errors of its estimate
// (the ladder is measured on a sample of queries), and by at least kMinCalibrationMargin
// (the sampled queries are rows of the index). The deeper curves (the share of the true
// top-100 or top-1000 in the probed lists, which filtered searches read) are not the
// recall of a search: what quantization and the re-rank cut lose comes on top, so their
// margin stays at least kFixedCalibrationMargin, as does every margin of an index
// without the errors (format version 3 and older).
constexpr double kCalibrationErrors = 2.0;
constexpr double kMinCalibrationMargin = 0.005;
constexpr double kFixedCalibrationMargin = 0.02;
// Standard deviations of an SQ8 estimate's error within which a candidate is re-ranked
// (see sq8_noise_). 4 re-ranked 10.7 rows a query instead of 45 on GCIDE × MiniLM and
// 13.4 instead of 44 on 200k × 128, with the same recall@10 at every nprobe.
constexpr float kSq8Sigmas = 4.0f;
// The same for the four-bit estimate, whose error model is measured, not bounded: its
// error over its modelled deviation had an RMS of 0.99 (200k × 384 clustered rows), and
// one in 20,000 beyond 4. 3 re-ranked 26 rows a query there instead of 35 at 4, with the
// same recall@10 at every nprobe.
constexpr float kSq4Sigmas = 3.0f;
// A target no nprobe reaches gets the start of the curve's plateau: the first nprobe
// whose recall is within this of the best measured.
constexpr float kPlateau = 0.002f;
constexpr uint32_t kMaxDims = 1u << 16;
constexpr size_t kMaxCalibrationEntries = 64;
// Rows compared when deciding whether a seed index fits a build's rows.
constexpr size_t kSeedFitSample = 256;

// The standard error of the mean of `values` (their sample standard deviation over the
// square root of their count); 0 for fewer than two.
float StandardError(const std::vector<double>& values) {
  const size_t n = values.size();
  if (n < 2) return 0.0f;
  double sum = 0;
  for (double v : values) sum += v;
  const double mean = sum / static_cast<double>(n);
  double squares = 0;
  for (double v : values) squares += (v - mean) * (v - mean);
  return static_cast<float>(
      std::sqrt(squares / static_cast<double>(n - 1) / static_cast<double>(n)));
}

// Lists a filtered probe reads at least before it decides whether its filter follows the
// lists (it decides once it has probed the lists its depth asked for).
constexpr size_t kDepthLists = 8;

// Whether a filter's rows lie unevenly across the lists probed, beyond what chance allows
// rows kept independently of their vectors: the sum of squared deviations of each list's
// matching rows from the pooled share is above 3 times its binomial variance (an
// independent filter's sum is about that variance). On 20k × 48 clustered rows
// (ivf_index_test), decided where the calibrated probe ends: every query under a filter
// on one coordinate's band, none under independent 10% and 50% filters.
bool FilterFollowsLists(const std::vector<std::pair<uint32_t, uint32_t>>& spread) {
  double rows = 0, matching = 0;
  for (const auto& [n, m] : spread) {
    rows += n;
    matching += m;
  }
  const double share = matching / std::max(rows, 1.0);
  const double variance = rows * share * (1 - share);
  if (!(variance > 0)) return false;
  double squares = 0;
  for (const auto& [n, m] : spread) squares += (m - share * n) * (m - share * n);
  return squares > 3 * variance;
}

bool NeighborLess(const Neighbor& a, const Neighbor& b) {
  return a.distance != b.distance ? a.distance < b.distance : a.row < b.row;
}

// Leaves one entry per row (a T has a `row`), the one of smallest distance(entry), in the
// order rows were first seen. One pass over an open-addressed table of the rows kept (a
// power of two of at least twice the entries, reused by the thread): sorting by row took
// a third of the time of a warm 768-d query over 10 segments (p50 4.0-4.4 → 2.5-3.0 ms).
template <class T, class Distance>
void KeepBestOfEachRow(std::vector<T>& v, Distance distance) {
  thread_local std::vector<uint32_t> table;  // positions in v (kept entries); empty: ~0
  size_t size = 16;
  while (size < 2 * v.size()) size *= 2;
  table.assign(size, UINT32_MAX);
  const uint32_t shift = static_cast<uint32_t>(64 - std::countr_zero(size));
  uint32_t kept = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    // Fibonacci hashing: the top bits of the row times 2^64 / φ.
    size_t h = static_cast<size_t>((uint64_t{v[i].row} * 0x9E3779B97F4A7C15ull) >> shift);
    while (true) {
      uint32_t& slot = table[h];
      if (slot == UINT32_MAX) {
        slot = kept;
        v[kept++] = v[i];
        break;
      }
      if (v[slot].row == v[i].row) {
        if (distance(v[i]) < distance(v[slot])) v[slot] = v[i];
        break;
      }
      h = (h + 1) & (size - 1);
    }
  }
  v.resize(kept);
}
void KeepBestOfEachRow(std::vector<Neighbor>& v) {
  KeepBestOfEachRow(v, [](const Neighbor& n) { return n.distance; });
}

// The best `cap` (distance, row) pairs pushed, by lazy selection: pairs accumulate up to
// twice the capacity, then the best `cap` are kept and the worst of them bounds what is
// pushed next (cheaper than a heap when most pushes are kept, as in a shortlist). With
// `distinct_rows` a row counts once (its best distance): a bound that stays sound when a
// row is seen twice (a replicated row, in both of its lists).
class Candidates {
 public:
  explicit Candidates(size_t cap, bool distinct_rows = false)
      : cap_(std::max<size_t>(cap, 1)), distinct_(distinct_rows) {
    items_.reserve(2 * cap_);
  }
  // Pairs at or beyond this distance would not be kept.
  float worst() const { return bound_; }
  // Keeps (row, d) if d < worst() (ties with the bound go to the pairs pushed first).
  void Push(uint32_t row, float d) {
    if (!(d < bound_)) return;
    items_.push_back({row, d});
    if (items_.size() == 2 * cap_) Prune();
  }
  // The cap-th best distance pushed (infinity before cap pushes).
  float Threshold() {
    Prune();
    return items_.size() < cap_ ? std::numeric_limits<float>::infinity() : bound_;
  }
  // The best min(cap, pushed) pairs, in no particular order.
  std::vector<Neighbor>& items() {
    Prune();
    return items_;
  }

 private:
  void Prune() {
    if (items_.size() <= cap_) return;
    if (distinct_) {
      KeepBestOfEachRow(items_);
      if (items_.size() < cap_) return;
    }
    std::nth_element(items_.begin(), items_.begin() + (cap_ - 1), items_.end(), NeighborLess);
    items_.resize(cap_);
    bound_ = items_.back().distance;
  }

  size_t cap_;
  bool distinct_;
  float bound_ = std::numeric_limits<float>::infinity();
  std::vector<Neighbor> items_;
};

// A (distance, list) pair as one integer that orders as the pair does: the float's bits
// made monotone (negatives flipped whole, others' sign bit set) above the list.
uint64_t OrderKey(float distance, uint32_t list) {
  uint32_t bits = std::bit_cast<uint32_t>(distance);
  bits = (bits & 0x80000000u) != 0 ? ~bits : bits | 0x80000000u;
  return (uint64_t{bits} << 32) | list;
}
uint32_t KeyList(uint64_t key) { return static_cast<uint32_t>(key); }
float KeyDistance(uint64_t key) {
  uint32_t bits = static_cast<uint32_t>(key >> 32);
  bits = (bits & 0x80000000u) != 0 ? bits & 0x7fffffffu : ~bits;
  return std::bit_cast<float>(bits);
}

// DotSq8 weights for the residual `a` (query minus the codes' origin): w = round(scale·a/β)
// with β chosen so that |w| <= max_weight (scale null: 1 for every dimension, the weights
// of DotSq4). Returns β; *a2 = Σ a². Then
// Σ_d (a[d] - scale[d]·code[d])² = a2 - 2β·DotSq8(code, w) + Σ_d (scale[d]·code[d])².
float Sq8Weights(const float* a, const float* scale, uint32_t dims, int32_t max_weight, int16_t* w,
                 float* a2) {
  float sum = 0, wmax = 0;
  for (uint32_t d = 0; d < dims; ++d) {
    sum += a[d] * a[d];
    wmax = std::max(wmax, std::abs(a[d] * (scale != nullptr ? scale[d] : 1.0f)));
  }
  *a2 = sum;
  if (!(wmax > 1e-30f) || !std::isfinite(wmax)) {  // all zero (or not finite): no dot term
    std::fill(w, w + dims, int16_t{0});
    return 1.0f;
  }
  const float beta = wmax / static_cast<float>(max_weight);
  const float inv_beta = 1.0f / beta;
  for (uint32_t d = 0; d < dims; ++d) {
    w[d] = static_cast<int16_t>(std::lrint(a[d] * (scale != nullptr ? scale[d] : 1.0f) * inv_beta));
  }
  return beta;
}

// scale[d]² of each dimension (Sq8Norm's weights).
std::vector<float> SquaredScales(const Sq8Quantizer& quantizer) {
  std::vector<float> scale2(quantizer.dims());
  for (size_t d = 0; d < scale2.size(); ++d)
    scale2[d] = quantizer.scale()[d] * quantizer.scale()[d];
  return scale2;
}

// out[i] = Σ_d (scale[d]·code_i[d])² for n codes.
std::vector<float> Sq8CodeNorms(const Sq8Quantizer& quantizer, const uint8_t* codes, size_t n) {
  const uint32_t dims = quantizer.dims();
  const std::vector<float> scale2 = SquaredScales(quantizer);
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = Sq8Norm(codes + i * dims, scale2.data(), dims);
  return out;
}

}  // namespace

// ---- RowFilter ----------------------------------------------------------------------------

RowFilter::RowFilter(size_t rows, bool allow_all)
    : rows_(rows), count_(allow_all ? rows : 0), words_((rows + 63) / 64, 0) {
  if (allow_all) {
    std::fill(words_.begin(), words_.end(), ~uint64_t{0});
    if (rows % 64 != 0) words_.back() = (uint64_t{1} << (rows % 64)) - 1;
  }
}

void RowFilter::Allow(size_t row) {
  if (!allowed(row)) ++count_;
  words_[row >> 6] |= uint64_t{1} << (row & 63);
}

void RowFilter::Deny(size_t row) {
  if (allowed(row)) --count_;
  words_[row >> 6] &= ~(uint64_t{1} << (row & 63));
}

// ---- search -------------------------------------------------------------------------------

struct IvfIndex::Query {
  const float* raw = nullptr;  // as given, for exact distances
  float raw_norm = 0;
  std::vector<float> unit;  // normalized for cosine, else a copy
  std::vector<float> a;     // the query minus the centroid quantizer's origin
  // (estimated |q - c|², list) as one integer ordered as the pair is (OrderKey): one
  // comparison instead of two cut selecting GCIDE's nearest 112 of 1416 lists from 14.7
  // to 11.4 µs.
  std::vector<uint64_t> order;
  size_t sorted = 0;
  std::vector<int16_t> w;      // DotSq8 weights: of `a`, then of the query (rows' codes)
  std::vector<int32_t> dots;   // DotSq8 of the centroids, then of one list's codes
  std::vector<float> rotated;  // P·unit (BinaryCoder)
  std::vector<int16_t> w4;     // DotSq4 weights of `rotated`
  // A shortlisted row's four-bit estimate and its error's standard deviation.
  struct Scored {
    uint32_t row;
    float estimate, sigma;
  };
  std::vector<Scored> scored;
  BinaryCoder::Query binary;
  std::vector<uint32_t> binary_dots;  // BinaryDots of one list
  std::vector<float> estimates;       // and the distance estimates
  std::vector<float> list_qr2;        // estimated |q - c|² of every list, in list order
  std::vector<float> nearer;          // a filtered probe's estimates below its k-th match
  // The allowed rows and their postings (the SQ8 scan by rows).
  std::vector<std::pair<uint32_t, uint32_t>> positions;
  double depth = 10;  // the depth of the answer nprobe is chosen for (IvfSearchParams::depth)
  // The shortlist: a posting's position, its lower bound and its list's |q - c|²; from
  // kMinBinaryDims dimensions also its row's four-bit code (slot) and the |q - c|² of
  // the list that code's residual is from (a replicated row keeps one code: sq4_slot_).
  struct Listed {
    uint32_t pos;
    float lower;
    float qr2;
    uint32_t slot = 0;
    float slot_qr2 = 0;
    uint32_t row = UINT32_MAX;  // the row, when known without list_rows_[pos]
  };
  std::vector<Listed> listed;
};

double IvfIndex::NprobeOnCurve(const CalibrationCurve& c, double recall_target, uint32_t nlist) {
  const double target = std::max(0.0, recall_target);
  float best = 0;
  double below_nprobe = 0, below_excess = 0;  // the last point short of the target
  for (size_t i = 0; i < c.points.size(); ++i) {
    const auto [nprobe, recall] = c.points[i];
    const double least = c.k > kCalibrationK ? kFixedCalibrationMargin : kMinCalibrationMargin;
    const double margin = c.errors.empty() ? kFixedCalibrationMargin
                                           : std::max(least, kCalibrationErrors * c.errors[i]);
    const double excess = recall - std::min(1.0, target + margin);
    if (excess >= 0) {
      // Between the ladder's points (√2 apart), where the chord from the last point
      // short of the target reaches it: recall grows concavely with nprobe, so the
      // chord lies below the curve and does not overstate the recall there.
      if (below_nprobe == 0 || !(excess > below_excess)) return nprobe;
      const double t = -below_excess / (excess - below_excess);
      return below_nprobe + t * (nprobe - below_nprobe);
    }
    best = std::max(best, recall);
    below_nprobe = nprobe;
    below_excess = excess;
  }
  // Out of reach (the re-rank cut bounds recall@10 below 1 even over every list): the
  // smallest nprobe within kPlateau of the best the curve measured, not every list.
  for (const auto& [nprobe, recall] : c.points) {
    if (recall >= best - kPlateau) return nprobe;
  }
  return nlist;
}

uint32_t IvfIndex::NprobeFor(double recall_target, double k) const {
  const uint32_t nlist = static_cast<uint32_t>(lists());
  if (!(recall_target < 1.0)) return nlist;
  if (calibration_.empty()) return std::max<uint32_t>(1, nlist / 8);
  auto pick = [&](const CalibrationCurve& c) { return NprobeOnCurve(c, recall_target, nlist); };
  // Between two curves, interpolate nprobe geometrically in k; past the deepest,
  // extrapolate proportionally to k.
  const CalibrationCurve* lo = &calibration_.front();
  double result = pick(*lo);
  if (k > lo->k) {
    const CalibrationCurve* hi = nullptr;
    for (const CalibrationCurve& c : calibration_) {
      if (c.k >= k) {
        hi = &c;
        break;
      }
      lo = &c;
    }
    const double a = pick(*lo);
    if (hi != nullptr && hi->k == k) {
      result = pick(*hi);  // on a curve: exactly its nprobe
    } else if (hi == nullptr) {
      result = a * k / lo->k;
    } else {
      const double b = pick(*hi);
      const double t = std::log(k / lo->k) / std::log(static_cast<double>(hi->k) / lo->k);
      result = std::exp(std::log(a) + t * (std::log(b) - std::log(a)));
    }
  }
  // Below depth 10, never more than depth 10 asks for (the depth-1 curve counts one hit a
  // query where recall@10 counts ten: it is the noisier).
  if (k < kCalibrationK) {
    for (const CalibrationCurve& c : calibration_) {
      if (c.k == kCalibrationK) result = std::min(result, pick(c));
    }
  }
  return static_cast<uint32_t>(std::clamp<double>(std::ceil(result), 1.0, nlist));
}

std::vector<Neighbor> IvfIndex::SearchExact(Query& q, const VectorRows& data, uint32_t k,
                                            const RowFilter& filter, IvfSearchStats* stats) const {
  Candidates best(k);
  const uint64_t* words = filter.words();
  const size_t nwords = (filter.rows() + 63) / 64;
  size_t scanned = 0;
  // Vectors not resident: fetched 1024 rows at a time.
  constexpr size_t kBatch = 1024;
  std::vector<uint32_t> batch;
  std::vector<float> fetched;
  auto flush = [&] {
    fetched.resize(batch.size() * dims_);
    if (!data.fetch(batch.data(), batch.size(), fetched.data())) return false;
    for (size_t i = 0; i < batch.size(); ++i) {
      best.Push(batch[i],
                ExactDistance(metric_, q.raw, q.raw_norm, fetched.data() + i * dims_, dims_));
    }
    batch.clear();
    return true;
  };
  for (size_t w = 0; w < nwords; ++w) {
    for (uint64_t bits = words[w]; bits != 0; bits &= bits - 1) {
      const size_t row = w * 64 + static_cast<size_t>(std::countr_zero(bits));
      if (row >= rows_ || !data.has(row)) continue;
      ++scanned;
      if (!data.resident()) {
        batch.push_back(static_cast<uint32_t>(row));
        if (batch.size() == kBatch && !flush()) return {};
        continue;
      }
      best.Push(static_cast<uint32_t>(row),
                ExactDistance(metric_, q.raw, q.raw_norm, data.row(row), dims_));
    }
  }
  if (!batch.empty() && !flush()) return {};
  if (stats != nullptr) {
    stats->exact_fallback = true;
    stats->exact_rows += scanned;
  }
  std::vector<Neighbor> out = std::move(best.items());
  std::sort(out.begin(), out.end(), NeighborLess);
  return out;
}

void IvfIndex::PrefetchList(uint32_t list) const {
  constexpr size_t kLine = 64;
  const size_t row_bytes = coder_.words() * sizeof(uint64_t);
  const auto* bits = reinterpret_cast<const char*>(
      bits_.data() + size_t{block_offsets_[list]} * coder_.words() * kBinaryBlockRows);
  const size_t bits_bytes =
      size_t{block_offsets_[list + 1] - block_offsets_[list]} * kBinaryBlockRows * row_bytes;
  for (size_t b = 0; b < bits_bytes; b += kLine) __builtin_prefetch(bits + b);
  const uint32_t begin = list_offsets_[list], end = list_offsets_[list + 1];
  for (const float* column :
       {factors_.k0.data(), factors_.alpha.data(), factors_.ones.data(), factors_.err.data()}) {
    const auto* p = reinterpret_cast<const char*>(column + begin);
    for (size_t b = 0; b < (end - begin) * sizeof(float); b += kLine) __builtin_prefetch(p + b);
  }
}

void IvfIndex::RankLists(Query& q) const {
  const size_t nlist = lists();
  q.a.resize(dims_);
  q.w.resize(dims_);
  // Rank the lists by |query - centroid|² estimated on the centroids' SQ8 codes (a
  // quarter of the bytes of the float centroids, which dominate the cost when there are
  // thousands of lists).
  q.order.resize(nlist);
  q.dots.resize(nlist);
  const float* clo = centroid_quantizer_.lo().data();
  for (uint32_t d = 0; d < dims_; ++d) q.a[d] = q.unit[d] - clo[d];
  float a2 = 0;
  const float beta = Sq8Weights(q.a.data(), centroid_quantizer_.scale().data(), dims_,
                                MaxDotWeight(dims_), q.w.data(), &a2);
  DotSq8(centroid_codes_.data(), nlist, dims_, q.w.data(), q.dots.data());
  q.list_qr2.resize(nlist);
  for (size_t j = 0; j < nlist; ++j) {
    q.list_qr2[j] = a2 - 2 * beta * static_cast<float>(q.dots[j]) + centroid_code_norms_[j];
    q.order[j] = OrderKey(q.list_qr2[j], static_cast<uint32_t>(j));
  }
}

bool IvfIndex::Rerank(const Query& q, const VectorRows& data, uint32_t k,
                      std::vector<Neighbor>& cand, size_t* reranked) const {
  *reranked = cand.size();
  if (!data.resident()) {
    // One batched fetch of the candidates' vectors, in row order (adjacent rows share a
    // read).
    std::sort(cand.begin(), cand.end(),
              [](const Neighbor& a, const Neighbor& b) { return a.row < b.row; });
    thread_local std::vector<uint32_t> rows;
    thread_local std::vector<float> fetched;
    rows.resize(cand.size());
    for (size_t i = 0; i < cand.size(); ++i) rows[i] = cand[i].row;
    fetched.resize(cand.size() * dims_);
    if (!data.fetch(rows.data(), rows.size(), fetched.data())) return false;
    for (size_t i = 0; i < cand.size(); ++i) {
      cand[i].distance =
          ExactDistance(metric_, q.raw, q.raw_norm, fetched.data() + i * dims_, dims_);
    }
  } else {
    // The rows are scattered over the segment's vectors: fetch a few ahead.
    constexpr size_t kAhead = 8;
    auto prefetch_row = [&](size_t i) {
      if (i >= cand.size()) return;
      const auto* p = reinterpret_cast<const char*>(data.row(cand[i].row));
      for (size_t b = 0; b < dims_ * sizeof(float); b += 64) __builtin_prefetch(p + b);
    };
    for (size_t i = 0; i < kAhead; ++i) prefetch_row(i);
    for (size_t i = 0; i < cand.size(); ++i) {
      prefetch_row(i + kAhead);
      cand[i].distance = ExactDistance(metric_, q.raw, q.raw_norm, data.row(cand[i].row), dims_);
    }
  }
  std::sort(cand.begin(), cand.end(), NeighborLess);
  if (cand.size() > k) cand.resize(k);
  return true;
}

std::vector<Neighbor> IvfIndex::SearchLists(Query& q, const VectorRows& data, uint32_t k,
                                            uint32_t nprobe, size_t candidates, double adapt_target,
                                            const RowFilter* filter, IvfScan scan,
                                            IvfSearchStats* stats) const {
  const size_t nlist = lists();
  const int32_t max_weight = MaxDotWeight(dims_);
  // Replicated rows may be seen twice (in both of their lists): every count of rows seen
  // or kept is of postings, so it grows by the replication rate to hold as many rows;
  // the four-bit stage keeps at most the unscaled count of rows (it keeps each row once).
  const size_t row_candidates = candidates;
  if (postings() != indexed_rows()) {
    candidates = static_cast<size_t>(
        std::ceil(static_cast<double>(candidates) * static_cast<double>(postings()) /
                  static_cast<double>(indexed_rows())));
  }
  RankLists(q);
  // Centroid order (distance, then list), sorted lazily: the first lists now, more if the
  // probe widens.
  q.sorted = 0;
  auto ensure_sorted = [&](size_t upto) {
    if (upto <= q.sorted) return;
    const size_t end = std::min(nlist, std::max(upto, 2 * q.sorted));
    // A heap of a few lists rejects most others with one comparison; for more lists
    // (GCIDE at recall 0.95 probes ~100 of 1416) selecting them first and sorting them
    // was ~5% faster a query.
    if (end - q.sorted <= 64) {
      std::partial_sort(q.order.begin() + q.sorted, q.order.begin() + end, q.order.end());
    } else {
      if (end < nlist) {
        std::nth_element(q.order.begin() + q.sorted, q.order.begin() + end, q.order.end());
      }
      std::sort(q.order.begin() + q.sorted, q.order.begin() + end);
    }
    q.sorted = end;
  };

  // The SQ8 estimate of the row at position `pos` of a list at qr2 = |q - c|² (stage 2
  // and the direct scan).
  // With x ≈ c + r (r the decoded residual), |q - x|² ≈ |q - c|² - 2·<q, r> + (|r|² +
  // 2·<c, r>): the last term is per row (sq8_terms_), and <q, r> = <q, lo> +
  // Σ_d q[d]·scale[d]·code[d] needs no centroid, so only the codes are read.
  // The fine codes: four-bit from kMinBinaryDims dimensions, SQ8 below.
  const bool four_bit = dims_ >= kMinBinaryDims;
  float unused = 0, beta = 0, q_lo = 0;
  if (!four_bit) {
    beta = Sq8Weights(q.unit.data(), quantizer_.scale().data(), dims_, max_weight, q.w.data(),
                      &unused);
    q_lo = Dot(q.unit.data(), quantizer_.lo().data(), dims_);
  }
  auto sq8_estimate = [&](float qr2, uint32_t pos, int32_t dot) {
    return qr2 - 2 * (q_lo + beta * static_cast<float>(dot)) + sq8_terms_[pos];
  };

  const size_t shortlist_cap = candidates * ShortlistFactor();
  const double expected_rows =
      static_cast<double>(nprobe) * static_cast<double>(postings()) / static_cast<double>(nlist);
  const bool direct = scan == IvfScan::kDirect ||
                      (scan == IvfScan::kAuto && !BinaryScanPays(expected_rows, shortlist_cap));
  // The query rotated (P·q) for the binary and four-bit estimates, quantized into bit
  // planes for the first and into DotSq4 weights for the second.
  const size_t words = coder_.words();
  const uint32_t half = coder_.padded() / 2;
  float w4_scale = 0;
  if (!direct || four_bit) {
    if (!four_bit) std::call_once(binary_once_, [this] { DeriveBinaryCodes(); });
    q.rotated.resize(coder_.padded());
    coder_.Rotate(q.unit.data(), q.rotated.data());
    coder_.PrepareQuery(q.rotated.data(), &q.binary);
    if (four_bit) {
      q.w4.resize(coder_.padded());
      float unused_norm = 0;
      w4_scale = Sq8Weights(q.rotated.data(), nullptr, coder_.padded(),
                            MaxDotWeight(coder_.padded()), q.w4.data(), &unused_norm);
    }
  }
  const uint64_t* planes = q.binary.planes.data();

  // Stage 1: the binary estimate over the probed lists keeps a shortlist (of positions in
  // the lists, not rows: stage 2 reads the fine code at the position): every row whose
  // lower bound (estimate minus error bound) is below the k-th smallest upper bound
  // (estimate plus error bound) of distinct rows. The k nearest rows probed are at most
  // that far, so no row the bounds cannot rule out is dropped: the shortlist is as long
  // as the estimate is uncertain (rows the estimate cannot tell apart, such as
  // near-equidistant members of one cluster, all reach stage 2). A direct scan
  // shortlists every allowed posting (four-bit codes) or fills `best` at once (SQ8).
  Candidates top(k, /*distinct_rows=*/true), best(candidates);
  std::vector<Query::Listed>& listed = q.listed;
  listed.clear();
  size_t prune_at = 4 * shortlist_cap;
  const bool shared_sq4 = !sq4_slot_.empty();
  auto keep = [&](uint32_t pos, float lower, float qr2) {
    Query::Listed& c = listed.emplace_back(Query::Listed{pos, lower, qr2, pos, qr2});
    if (shared_sq4) {
      c.slot = sq4_slot_[pos];
      c.slot_qr2 = q.list_qr2[sq4_list_[c.slot]];
    }
    if (listed.size() >= prune_at) {
      const float t = top.Threshold();
      std::erase_if(listed, [t](const Query::Listed& c) { return !(c.lower < t); });
      prune_at = std::max(prune_at, 2 * listed.size());
    }
  };
  // The one-bit estimates of every row of `list` (at qr2 = |q - c|²), in q.estimates.
  auto binary_estimates = [&](uint32_t list, float qr2) {
    const size_t blocks = block_offsets_[list + 1] - block_offsets_[list];
    q.binary_dots.resize(blocks * kBinaryBlockRows);
    q.estimates.resize(blocks * kBinaryBlockRows);
    BinaryDots(bits_.data() + size_t{block_offsets_[list]} * words * kBinaryBlockRows, blocks,
               words, planes, q.binary_dots.data());
    const uint32_t begin = list_offsets_[list];
    BinaryCoder::Estimate(factors_, begin, list_offsets_[list + 1] - begin, q.binary_dots.data(),
                          qr2, q.binary, q.estimates.data());
    return q.estimates.data();
  };
  size_t found = 0, probed = 0, scanned = 0;
  const uint64_t* allowed = filter != nullptr ? filter->words() : nullptr;
  // A widening filtered probe with estimates at scan time whose filter follows the lists
  // (FilterFollowsLists, decided on the lists probed to the calibrated depth, at least
  // kDepthLists of them) also counts how deep the k nearest matching rows lie among rows
  // of any kind: the k best estimates of matching rows (a max-heap), and the estimates of
  // probed postings below the k-th of them (which only falls: a posting above it now
  // never counts). Counting needs the estimate of every row, which a filtered scan
  // otherwise skips (at 128-d, 10% of 200k rows, counting always cost 40% of the queries
  // a second), so only such a filter pays it.
  const bool may_count = adapt_target > 0 && allowed != nullptr && !(direct && four_bit);
  bool by_depth = false, decided = !may_count;
  std::vector<std::pair<uint32_t, uint32_t>> spread;  // (rows, matching) of lists probed
  size_t list_found_at = 0;
  std::priority_queue<float> kbest;
  float kth = std::numeric_limits<float>::infinity();
  std::vector<float>& nearer = q.nearer;
  nearer.clear();
  auto note = [&](float est, bool matching) {
    if (!(est < kth)) return;
    nearer.push_back(est);
    if (!matching) return;
    if (kbest.size() == k) kbest.pop();
    kbest.push(est);
    if (kbest.size() == k) kth = kbest.top();
  };
  size_t counted_at = 0;
  auto is_allowed = [&](uint32_t row) {
    return allowed == nullptr || ((allowed[row >> 6] >> (row & 63)) & 1) != 0;
  };
  // Notes every row of the list at position `at` of the centroid order (one probed before
  // counting began), estimated as its scan does.
  auto note_list = [&](size_t at) {
    const uint32_t list = KeyList(q.order[at]);
    const uint32_t begin = list_offsets_[list], end = list_offsets_[list + 1];
    const size_t n = end - begin;
    if (n == 0) return;
    const float qr2 = KeyDistance(q.order[at]);
    const uint32_t* rows = list_rows_.data() + begin;
    if (direct) {
      q.dots.resize(n);
      DotSq8(codes_.data() + size_t{begin} * dims_, n, dims_, q.w.data(), q.dots.data());
      for (size_t r = 0; r < n; ++r) {
        note(sq8_estimate(qr2, static_cast<uint32_t>(begin + r), q.dots[r]), is_allowed(rows[r]));
      }
      return;
    }
    const float* est = binary_estimates(list, qr2);
    for (size_t r = 0; r < n; ++r) note(est[r], is_allowed(rows[r]));
  };
  // Every list probed with the fine codes read directly (the small filters of vectors read
  // by range): each allowed row's code is found through row_slot_ (four-bit) or
  // row_posting_ (SQ8, when the allowed rows are few: SparseRowsPay), once a row, not by
  // walking every posting's row id.
  const bool by_rows = direct && nprobe >= nlist &&
                       (four_bit || (filter != nullptr && SparseRowsPay(filter->count())));
  if (by_rows && !four_bit) {
    std::call_once(row_posting_once_, [this] { AssignRowPostings(); });
    std::vector<std::pair<uint32_t, uint32_t>>& at = q.positions;  // (row, posting)
    at.clear();
    for (size_t w = 0; w < (filter->rows() + 63) / 64; ++w) {
      for (uint64_t bits = allowed[w]; bits != 0; bits &= bits - 1) {
        const size_t row = w * 64 + static_cast<size_t>(std::countr_zero(bits));
        if (row < rows_ && row_posting_[row] != UINT32_MAX) {
          at.emplace_back(static_cast<uint32_t>(row), row_posting_[row]);
        }
      }
    }
    // The codes lie scattered over the lists: fetched a few ahead.
    constexpr size_t kAhead = 6;
    auto prefetch_code = [&](size_t i) {
      if (i >= at.size()) return;
      const uint32_t pos = at[i].second;
      const auto* code = reinterpret_cast<const char*>(codes_.data() + size_t{pos} * dims_);
      for (size_t b = 0; b < dims_; b += 64) __builtin_prefetch(code + b);
      __builtin_prefetch(sq8_terms_.data() + pos);
    };
    for (size_t i = 0; i < kAhead; ++i) prefetch_code(i);
    for (size_t i = 0; i < at.size(); ++i) {
      prefetch_code(i + kAhead);
      const auto [row, pos] = at[i];
      // The list holding posting pos: the last whose first posting is at most pos, a few
      // steps on from the one holding the first posting of pos's block.
      uint32_t list = block_list_[pos / kPostingBlock];
      while (list_offsets_[list + 1] <= pos) ++list;
      int32_t dot = 0;
      DotSq8(codes_.data() + size_t{pos} * dims_, 1, dims_, q.w.data(), &dot);
      best.Push(row, sq8_estimate(q.list_qr2[list], pos, dot));
    }
    found = scanned = at.size();
    probed = nlist;
  } else if (by_rows) {
    auto add = [&](uint32_t row) {
      if (row >= rows_ || row_slot_[row] == UINT32_MAX) return;
      const uint32_t slot = row_slot_[row];
      const float qr2 = q.list_qr2[sq4_list_[slot]];
      listed.push_back({0, 0, qr2, slot, qr2, row});
    };
    if (filter == nullptr) {
      for (uint32_t row = 0; row < rows_; ++row) add(row);
    } else {
      for (size_t w = 0; w < (filter->rows() + 63) / 64; ++w) {
        for (uint64_t bits = allowed[w]; bits != 0; bits &= bits - 1) {
          add(static_cast<uint32_t>(w * 64 + std::countr_zero(bits)));
        }
      }
    }
    found = scanned = listed.size();
    probed = nlist;
  }
  if (!by_rows) ensure_sorted(std::min<size_t>(nlist, size_t{nprobe} + 16));
  for (size_t i = 0; i < nlist && !by_rows; ++i) {
    ensure_sorted(std::min(nlist, i + 2));
    const uint32_t list = KeyList(q.order[i]);
    // The lists lie scattered in memory: fetch the next one while this one is scanned.
    if (i + 1 < nlist && !direct) PrefetchList(KeyList(q.order[i + 1]));
    if (!decided) {
      if (!spread.empty()) spread.back().second = static_cast<uint32_t>(found - list_found_at);
      if (i >= nprobe && spread.size() >= kDepthLists) {
        decided = true;
        by_depth = FilterFollowsLists(spread);
        for (size_t at = 0; at < i && by_depth; ++at) note_list(at);
      }
    }
    if (i >= nprobe && adapt_target > 0) {
      // The share of matching rows seen so far says how deep the k nearest matching
      // rows are: a filter correlated with the vectors may need many more lists.
      const double seen = static_cast<double>(std::max<size_t>(found, 1)) /
                          static_cast<double>(std::max<size_t>(scanned, 1));
      nprobe = std::max(nprobe, NprobeFor(adapt_target, q.depth / seen));
      if (by_depth && kbest.size() == k && i >= nprobe && scanned >= counted_at) {
        // Rows of any kind estimated nearer than the k-th matching row: as deep as the
        // k nearest matching rows lie (at least; only the probed lists are counted).
        // Counted again once a quarter more postings were scanned.
        counted_at = scanned + scanned / 4 + 1;
        std::erase_if(nearer, [&](float e) { return !(e < kth); });
        const double rows_nearer = static_cast<double>(nearer.size()) *
                                   static_cast<double>(indexed_rows()) /
                                   static_cast<double>(postings());
        nprobe = std::max(nprobe, NprobeFor(adapt_target, std::max<double>(k, rows_nearer)));
      }
    }
    if (i >= nprobe && found >= candidates) break;
    const uint32_t begin = list_offsets_[list], end = list_offsets_[list + 1];
    ++probed;
    if (!decided) {
      spread.emplace_back(end - begin, 0);
      list_found_at = found;
    }
    if (begin == end) continue;
    // |q - c|² as estimated on the centroid's SQ8 code: the estimate's error is far below
    // the codes', and the float centroid would be one more scattered read.
    const float qr2 = KeyDistance(q.order[i]);
    const size_t n = end - begin;
    const uint32_t* rows = list_rows_.data() + begin;
    scanned += n;
    if (direct && four_bit) {
      for (size_t r = 0; r < n; ++r) {
        if (!is_allowed(rows[r])) continue;
        ++found;
        keep(static_cast<uint32_t>(begin + r), 0, qr2);
      }
      continue;
    }
    if (direct) {
      q.dots.resize(n);
      const uint8_t* codes = codes_.data() + size_t{begin} * dims_;
      if (allowed == nullptr) {
        DotSq8(codes, n, dims_, q.w.data(), q.dots.data());
      } else if (by_depth) {
        DotSq8(codes, n, dims_, q.w.data(), q.dots.data());  // every row's, for the depth
        for (size_t r = 0; r < n; ++r) {
          const float e = sq8_estimate(qr2, static_cast<uint32_t>(begin + r), q.dots[r]);
          const bool matching = is_allowed(rows[r]);
          note(e, matching);
          if (!matching) continue;
          ++found;
          best.Push(rows[r], e);
        }
        continue;
      } else {
        // Only the allowed rows' codes are read. A dot product never reaches INT32_MIN
        // (MaxDotWeight): it marks the others.
        std::fill(q.dots.begin(), q.dots.end(), std::numeric_limits<int32_t>::min());
        DotSq8Filtered(codes, rows, n, dims_, q.w.data(), allowed, q.dots.data());
      }
      for (size_t r = 0; r < n; ++r) {
        if (q.dots[r] == std::numeric_limits<int32_t>::min()) continue;
        ++found;
        best.Push(rows[r], sq8_estimate(qr2, static_cast<uint32_t>(begin + r), q.dots[r]));
      }
      continue;
    }
    const float* est = binary_estimates(list, qr2);
    const float q_norm = std::sqrt(std::max(qr2, 0.0f));
    const float* err = factors_.err.data() + begin;
    // Most rows are ruled out by the first comparison: keep the bound in a register.
    float worst = top.worst();
    auto consider = [&](size_t r) {
      const float bound = err[r] * q_norm, lower = est[r] - bound;
      if (lower < worst) {
        top.Push(rows[r], est[r] + bound);
        keep(static_cast<uint32_t>(begin + r), lower, qr2);
        worst = top.worst();
      }
    };
    if (allowed == nullptr) {
      // Without a filter a row's id is read only when it may be kept.
      found += n;
      for (size_t r = 0; r < n; ++r) consider(r);
    } else {
      if (by_depth) {
        for (size_t r = 0; r < n; ++r) note(est[r], is_allowed(rows[r]));
      }
      for (size_t r = 0; r < n; ++r) {
        if (!is_allowed(rows[r])) continue;
        ++found;
        consider(r);
      }
    }
  }
  size_t shortlisted = 0;
  if (!direct) {
    const float t = top.Threshold();
    std::erase_if(listed, [t](const Query::Listed& c) { return !(c.lower < t); });
    shortlisted = listed.size();
  }
  // Stage 2 (and the four-bit direct scan): the fine codes' estimates of the shortlist
  // keep the candidates they cannot rule out: those whose estimate, less kSq4Sigmas (or
  // kSq8Sigmas) standard deviations of its error, is at most what the k-th best
  // estimate plus as much could be (the k nearest are at most that far); at most the
  // best `candidates` of them. The codes are scattered over the lists: fetched a few
  // ahead (asking for all of them at once stalls on the CPU's outstanding-miss buffers).
  constexpr size_t kAhead = 6;
  std::vector<Neighbor>& cand = best.items();
  if (four_bit) {
    const float two_sum = 2 * q.binary.sum;
    auto prefetch_code = [&](size_t i) {
      if (i >= listed.size()) return;
      const uint32_t pos = listed[i].pos, slot = listed[i].slot;
      const auto* code = reinterpret_cast<const char*>(sq4_.codes.data() + size_t{slot} * half);
      for (size_t b = 0; b < half; b += 64) __builtin_prefetch(code + b);
      __builtin_prefetch(list_rows_.data() + pos);
      __builtin_prefetch(sq4_.lo.data() + slot);
      __builtin_prefetch(sq4_.step.data() + slot);
      __builtin_prefetch(sq4_.term.data() + slot);
      __builtin_prefetch(sq4_.noise.data() + slot);
    };
    for (size_t i = 0; i < kAhead; ++i) prefetch_code(i);
    std::vector<Query::Scored>& scored = q.scored;
    scored.clear();
    for (size_t i = 0; i < listed.size(); ++i) {
      prefetch_code(i + kAhead);
      const Query::Listed& c = listed[i];
      // |q - c - r|² ≈ |q - c|² - 2·<P·q, x̂> + term, x̂ = lo + step·u (sq4_code.h), c the
      // centroid of the list the row's code is from.
      const uint32_t at = c.slot;
      const float dot = w4_scale * static_cast<float>(DotSq4(sq4_.codes.data() + size_t{at} * half,
                                                             half, q.w4.data()));
      const float est =
          c.slot_qr2 - (two_sum * sq4_.lo[at] + 2 * sq4_.step[at] * dot) + sq4_.term[at];
      // The four-bit rounding's error, and the SQ8 rounding's of the residual it encodes.
      const float var = c.slot_qr2 * sq4_.noise[at] + std::max(est, 0.0f) * sq8_noise_;
      scored.push_back({c.row != UINT32_MAX ? c.row : list_rows_[c.pos], est, std::sqrt(var)});
    }
    if (postings() != indexed_rows() && !by_rows) {
      // A replicated row may come from both of its lists: keep its better estimate once
      // (a scan by rows shortlisted each row once).
      KeepBestOfEachRow(scored, [](const Query::Scored& c) { return c.estimate; });
    }
    auto by_estimate = [](const Query::Scored& a, const Query::Scored& b) {
      return a.estimate != b.estimate ? a.estimate < b.estimate : a.row < b.row;
    };
    if (scored.size() > k) {
      std::nth_element(scored.begin(), scored.begin() + (k - 1), scored.end(), by_estimate);
      const float upper = scored[k - 1].estimate + kSq4Sigmas * scored[k - 1].sigma;
      std::erase_if(scored, [&](const Query::Scored& c) {
        return c.estimate - kSq4Sigmas * c.sigma > upper;
      });
    }
    const size_t cap = std::max<size_t>(row_candidates, k);
    if (scored.size() > cap) {
      std::nth_element(scored.begin(), scored.begin() + (cap - 1), scored.end(), by_estimate);
      scored.resize(cap);
    }
    cand.clear();
    for (const Query::Scored& c : scored) cand.push_back({c.row, c.estimate});
  } else {
    if (!direct) {
      auto prefetch_code = [&](size_t i) {
        if (i >= listed.size()) return;
        const auto* code =
            reinterpret_cast<const char*>(codes_.data() + size_t{listed[i].pos} * dims_);
        for (size_t b = 0; b < dims_; b += 64) __builtin_prefetch(code + b);
        __builtin_prefetch(list_rows_.data() + listed[i].pos);
        __builtin_prefetch(sq8_terms_.data() + listed[i].pos);
      };
      for (size_t i = 0; i < kAhead; ++i) prefetch_code(i);
      for (size_t i = 0; i < listed.size(); ++i) {
        prefetch_code(i + kAhead);
        const Query::Listed& c = listed[i];
        int32_t dot = 0;
        DotSq8(codes_.data() + size_t{c.pos} * dims_, 1, dims_, q.w.data(), &dot);
        best.Push(list_rows_[c.pos], sq8_estimate(c.qr2, c.pos, dot));
      }
      best.items();  // pruned to the best `candidates`: cand is its list
    }
    KeepPlausibleSq8(cand, k);
  }
  // Stage 3: re-rank the candidates with exact distances.
  size_t reranked = 0;
  if (!Rerank(q, data, k, cand, &reranked)) return {};
  if (stats != nullptr) {
    stats->lists_probed += probed;
    stats->codes_scanned += scanned;
    stats->shortlisted += shortlisted;
    stats->reranked += reranked;
  }
  return std::move(cand);
}

void IvfIndex::KeepPlausibleSq8(std::vector<Neighbor>& cand, uint32_t k) const {
  if (postings() != indexed_rows()) {
    // A replicated row may come from both of its lists: keep its better estimate once.
    KeepBestOfEachRow(cand);
  }
  // The SQ8 estimate e's error has a standard deviation of about √(e·sq8_noise_)
  // (2·<v, err> with v = q - x̂ of squared length e and err the rounding of each
  // dimension, row and centroid).
  if (cand.size() <= k) return;
  auto margin = [&](float est) { return kSq8Sigmas * std::sqrt(std::max(est, 0.0f) * sq8_noise_); };
  std::nth_element(cand.begin(), cand.begin() + (k - 1), cand.end(), NeighborLess);
  const float kth = cand[k - 1].distance;
  const float upper = kth + margin(kth);
  std::erase_if(cand, [&](const Neighbor& c) { return c.distance - margin(c.distance) > upper; });
}

std::vector<Neighbor> IvfIndex::SearchCold(Query& q, const VectorRows& data, uint32_t k,
                                           uint32_t nprobe, size_t candidates,
                                           const RowFilter* filter, Status* error,
                                           IvfSearchStats* stats) const {
  const size_t nlist = lists();
  if (postings() != indexed_rows()) {  // replicas: count postings, as SearchLists does
    candidates = static_cast<size_t>(
        std::ceil(static_cast<double>(candidates) * static_cast<double>(postings()) /
                  static_cast<double>(indexed_rows())));
  }
  RankLists(q);
  std::sort(q.order.begin(), q.order.end());
  const uint64_t* allowed = filter != nullptr ? filter->words() : nullptr;
  const float* lo = quantizer_.lo().data();
  const int32_t max_weight = MaxDotWeight(dims_);
  const std::vector<float> scale2 = SquaredScales(quantizer_);
  Candidates best(candidates, /*distinct_rows=*/true);
  size_t probed = 0, scanned = 0, seen = 0;
  size_t want = std::clamp<size_t>(nprobe, 1, nlist);
  std::vector<ByteRange> ranges;
  std::vector<std::string> got;
  while (probed < want) {
    ranges.clear();
    for (size_t i = probed; i < want; ++i) ranges.push_back(ListRange(KeyList(q.order[i])));
    Status st = list_reader_(ranges, &got);
    if (st.ok() && got.size() != ranges.size()) {
      st = Status::Internal("vector index: a read of posting lists returned too few ranges");
    }
    for (size_t i = 0; st.ok() && i < ranges.size(); ++i) {
      st = CheckList(KeyList(q.order[probed + i]), got[i]);
    }
    if (!st.ok()) {
      if (error != nullptr) *error = std::move(st);
      return {};
    }
    for (size_t i = 0; i < ranges.size(); ++i) {
      // The SQ8 estimate |a - scale·code|² of a = q - centroid - lo (quantizer.h).
      const uint32_t list = KeyList(q.order[probed + i]);
      const size_t size = list_size(list);
      const auto* codes = reinterpret_cast<const uint8_t*>(got[i].data() + size * 4);
      const float* c = centroids_.data() + size_t{list} * dims_;
      for (uint32_t d = 0; d < dims_; ++d) q.a[d] = q.unit[d] - c[d] - lo[d];
      float a2 = 0;
      const float beta =
          Sq8Weights(q.a.data(), quantizer_.scale().data(), dims_, max_weight, q.w.data(), &a2);
      q.dots.resize(size);
      DotSq8(codes, size, dims_, q.w.data(), q.dots.data());
      Reader rows(std::string_view(got[i]).substr(0, size * 4));
      for (size_t t = 0; t < size; ++t) {
        uint32_t row = 0;
        (void)rows.GetFixed32(&row);  // CheckList checked the length and the ids
        ++scanned;
        if (allowed != nullptr && ((allowed[row >> 6] >> (row & 63)) & 1) == 0) continue;
        ++seen;
        // The estimate less |scale·code|² (>= 0): a row it already rules out needs no norm.
        const float lower = a2 - 2 * beta * static_cast<float>(q.dots[t]);
        if (!(lower < best.worst())) continue;
        best.Push(row, lower + Sq8Norm(codes + t * dims_, scale2.data(), dims_));
      }
    }
    probed = want;
    // Under a filter, deeper while fewer than `candidates` allowed postings were seen.
    if (filter == nullptr || seen >= candidates) break;
    want = std::min(nlist, 2 * want);
  }
  std::vector<Neighbor> cand = std::move(best.items());
  KeepPlausibleSq8(cand, k);
  size_t reranked = 0;
  if (!Rerank(q, data, k, cand, &reranked)) return {};
  if (stats != nullptr) {
    stats->lists_probed += probed;
    stats->codes_scanned += scanned;
    stats->reranked += reranked;
  }
  return cand;
}

std::vector<Neighbor> IvfIndex::Search(const float* query, const VectorRows& data,
                                       const IvfSearchParams& p, IvfSearchStats* stats) const {
  if (p.k == 0 || indexed_rows() == 0) return {};
  Query q;
  q.raw = query;
  q.raw_norm = std::sqrt(Dot(query, query, dims_));
  q.unit.resize(dims_);
  CopyMaybeNormalized(query, dims_, metric_ == DistanceMetric::kCosineDistance, q.unit.data());
  q.depth = p.depth >= 1 ? std::min<double>(p.depth, p.k) : static_cast<double>(p.k);

  const size_t nlist = lists();
  uint32_t nprobe = p.nprobe != 0 ? std::min<uint32_t>(p.nprobe, static_cast<uint32_t>(nlist))
                                  : NprobeFor(p.recall_target, q.depth);
  nprobe = std::max<uint32_t>(nprobe, 1);
  const size_t candidates = size_t{p.k} * std::max<uint32_t>(p.rerank_factor, 1);
  if (!lists_resident()) {
    // Every list probed is a read, and so is every row an exact search scans (adjacent
    // rows share one): exact only for filters that match very few rows.
    if (p.filter == nullptr) {
      return SearchCold(q, data, p.k, nprobe, candidates, nullptr, p.error, stats);
    }
    const size_t allowed = p.filter->count();
    if (allowed == 0) return {};
    const double sel = static_cast<double>(allowed) / static_cast<double>(indexed_rows());
    if (p.nprobe == 0) nprobe = NprobeFor(p.recall_target, q.depth / sel);
    if (allowed <= 4 * candidates) return SearchExact(q, data, p.k, *p.filter, stats);
    return SearchCold(q, data, p.k, nprobe, 2 * candidates, p.filter, p.error, stats);
  }
  if (p.filter != nullptr) {
    const size_t allowed = p.filter->count();
    if (allowed == 0) return {};
    // The k nearest matching rows are about the k/selectivity nearest rows: probe as
    // the calibration curve of that depth says, and deeper while the lists probed hold
    // fewer matching rows than that (a filter correlated with the vectors).
    const double sel = static_cast<double>(allowed) / static_cast<double>(indexed_rows());
    if (p.nprobe == 0) nprobe = NprobeFor(p.recall_target, q.depth / sel);
    // Exact search over the allowed rows when that is about as cheap as probing: it reads
    // 4 bytes per dimension of each allowed row; the probe reads the binary code, factors
    // and row id (or the fine code, its terms and row id) of each row in nprobe lists (and
    // widens when the filter is correlated with the vectors).
    const double probed_rows =
        static_cast<double>(nprobe) * static_cast<double>(postings()) / nlist;
    const bool binary = p.scan == IvfScan::kBinary ||
                        (p.scan == IvfScan::kAuto &&
                         BinaryScanPays(probed_rows, 2 * candidates * ShortlistFactor()));
    const double fine_bytes = dims_ >= kMinBinaryDims ? coder_.padded() / 2 + 16 : dims_ + 4;
    const double probe_bytes =
        probed_rows * (binary ? static_cast<double>(coder_.padded() / 8 + 16) : fine_bytes);
    // Vectors not resident: an exact search reads every allowed row (a read each, where
    // they are not adjacent; a system call is worth ~8 KiB of memory bandwidth here: at
    // 128-d, 1% of 200k rows, 1.2k QPS exact). Past a few rows, the allowed rows' fine
    // codes are estimated instead (every list's, as a probe of every list: recall 0.9999
    // on GCIDE), and only the candidates their estimate cannot rule out are read to
    // re-rank. The allowed rows' codes are found through row_slot_ or row_posting_ (no
    // walk over the postings; SQ8 codes only while SparseRowsPay), so that is counted as
    // what it reads: the filter's bitmap and the codes, scattered (three times a streamed
    // byte, as BinaryScanPays counts them); otherwise every posting's row id and the
    // allowed rows' codes. GCIDE at 1% then takes it with or without boundary replicas
    // (which make the depth-1000 probe shorter), at 10% the probe.
    const bool scan_every_list = !data.resident() && allowed > 4 * candidates;
    const double row_bytes = static_cast<double>(dims_ * sizeof(float));
    // What the alternative to the probe reads: the exact search or the every-list scan.
    double other_bytes =
        static_cast<double>(allowed) * (data.resident() ? row_bytes : std::max(row_bytes, 8192.0));
    if (scan_every_list) {
      other_bytes =
          dims_ >= kMinBinaryDims || SparseRowsPay(allowed)
              ? static_cast<double>(rows_) / 8 + 3 * static_cast<double>(allowed) * fine_bytes
              : static_cast<double>(postings()) * sizeof(uint32_t) +
                    static_cast<double>(allowed) * fine_bytes;
    }
    const size_t few = data.resident() ? std::max(4 * candidates, nlist) : 4 * candidates;
    if (allowed <= few || nprobe >= nlist / 2 || other_bytes <= 2.0 * probe_bytes) {
      if (scan_every_list) {
        return SearchLists(q, data, p.k, static_cast<uint32_t>(nlist), 2 * candidates, 0, p.filter,
                           IvfScan::kDirect, stats);
      }
      return SearchExact(q, data, p.k, *p.filter, stats);
    }
    return SearchLists(q, data, p.k, nprobe, 2 * candidates, p.nprobe == 0 ? p.recall_target : 0,
                       p.filter, p.scan, stats);
  }
  return SearchLists(q, data, p.k, nprobe, candidates, 0, nullptr, p.scan, stats);
}

// ---- build --------------------------------------------------------------------------------

namespace {

constexpr uint32_t kNoReplica = UINT32_MAX;
constexpr size_t kReplicaBatch = 64;

}  // namespace

std::vector<IvfIndex::Boundary> IvfIndex::NearestOtherLists(
    const VectorRows& data, const std::vector<uint32_t>& ids, bool normalize,
    const std::vector<float>& centroids, const std::vector<uint32_t>& assignment, int threads) {
  const uint32_t dims = data.dims;
  const size_t n = ids.size(), nlist = centroids.size() / dims;
  std::vector<Boundary> out(n);
  if (nlist < 2) return out;
  std::vector<float> norms(nlist);
  for (size_t j = 0; j < nlist; ++j) {
    norms[j] = Dot(centroids.data() + j * dims, centroids.data() + j * dims, dims);
  }
  ParallelFor(n, threads, [&](size_t begin, size_t end) {
    std::vector<float> xs(kReplicaBatch * dims), scratch;
    uint32_t best[2 * kReplicaBatch];
    float best_dist[2 * kReplicaBatch];
    for (size_t i = begin; i < end; i += kReplicaBatch) {
      const size_t m = std::min(kReplicaBatch, end - i);
      for (size_t t = 0; t < m; ++t) {
        CopyMaybeNormalized(data.row(ids[i + t]), dims, normalize, xs.data() + t * dims);
      }
      NearestCentroidsOfRows(xs.data(), m, centroids.data(), norms.data(), nlist, dims, 2, scratch,
                             best, best_dist);
      for (size_t t = 0; t < m; ++t) {
        const uint32_t own = assignment[i + t];
        const uint32_t* b = best + 2 * t;
        const float* bd = best_dist + 2 * t;
        // The nearest centroid other than the row's own list's (balancing may have put the
        // row in a list that is not its nearest), and the distance to its own.
        const size_t other = b[0] == own ? 1 : 0;
        float own_dist = 0;
        if (b[0] == own || b[1] == own) {
          own_dist = bd[b[0] == own ? 0 : 1];
        } else {
          const float* x = xs.data() + t * dims;
          const float* c = centroids.data() + size_t{own} * dims;
          own_dist = Dot(x, x, dims) + norms[own] - 2 * Dot(x, c, dims);
        }
        out[i + t] = {b[other], std::max(own_dist, 0.0f), bd[other]};
      }
    }
  });
  return out;
}

Result<std::shared_ptr<IvfIndex>> IvfIndex::Build(const VectorRows& data, DistanceMetric metric,
                                                  const IvfBuildOptions& options,
                                                  IvfBuildReport* report) {
  if (data.dims == 0 || data.dims > kMaxDims) {
    return Status::InvalidArgument("vector index: unsupported dimensions " +
                                   std::to_string(data.dims));
  }
  if (data.rows >= (uint64_t{1} << 32)) {
    return Status::InvalidArgument("vector index: too many rows");
  }
  if (!data.resident()) return Status::InvalidArgument("vector index: vectors not resident");
  std::vector<uint32_t> ids;
  ids.reserve(data.rows);
  for (size_t r = 0; r < data.rows; ++r) {
    if (data.has(r)) ids.push_back(static_cast<uint32_t>(r));
  }
  if (ids.empty()) return Status::InvalidArgument("vector index: no row has a vector");
  const size_t n = ids.size();
  const bool normalize = metric == DistanceMetric::kCosineDistance;
  const uint32_t dims = data.dims;
  IvfBuildReport local_report;
  IvfBuildReport& rep = report != nullptr ? *report : local_report;
  rep = IvfBuildReport{};
  using Clock = std::chrono::steady_clock;
  Clock::time_point t0 = Clock::now();
  auto lap = [&t0]() {
    const Clock::time_point t = Clock::now();
    const double s = std::chrono::duration<double>(t - t0).count();
    t0 = t;
    return s;
  };

  KMeansOptions km = options.kmeans;
  km.threads = options.threads;
  const double want = std::round(options.lists_per_sqrt_rows * std::sqrt(static_cast<double>(n)));
  km.clusters =
      std::clamp<size_t>(static_cast<size_t>(std::max(want, 1.0)), 1, std::max<size_t>(1, n / 8));
  // A seed that covers at most half the rows, with fewer lists than the build wants, would
  // leave the rest of the centroids to k-means++ with only the seeded run's few
  // iterations: build from scratch then. (One with lists enough is a full starting point,
  // however many rows it covers: five segments that adopted one index's lists, merged.)
  const IvfIndex* seed = options.seed;
  const bool seed_fits = seed != nullptr && seed->lists_resident() && seed->dims() == dims &&
                         seed->metric() == metric &&
                         (2 * seed->indexed_rows() > n || seed->lists() >= km.clusters) &&
                         seed->MeanSquaredDistanceOf(data, ids, kSeedFitSample) <=
                             options.seed_fit_factor * seed->MeanSquaredResidual(kSeedFitSample);
  Clustering cl;
  if (seed_fits && options.seed_rows != nullptr) {
    GANNET_ASSIGN_OR_RETURN(std::vector<uint32_t> prior,
                            seed->PriorLists(data, ids, normalize, *options.seed_rows));
    const size_t kept = n - static_cast<size_t>(std::count(prior.begin(), prior.end(), kNoCluster));
    if (2 * kept > n) {  // most rows keep their lists: maintain the seed's clustering
      MaintenanceOptions mo;
      mo.target_clusters = km.clusters;
      mo.seed = km.seed;
      mo.threads = options.threads;
      GANNET_ASSIGN_OR_RETURN(cl, MaintainClusters(data, ids, normalize, seed->centroids(), prior,
                                                   mo, &rep.maintenance));
      rep.clustering = IvfBuildReport::Clustering::kMaintained;
    }
  }
  if (rep.clustering != IvfBuildReport::Clustering::kMaintained) {
    if (seed_fits) {
      km.initial_centroids = &seed->centroids();
      rep.clustering = IvfBuildReport::Clustering::kSeeded;
      const size_t seed_lists = seed->lists();
      if (seed_lists > km.clusters &&
          seed_lists * std::max<size_t>(options.adopt_min_list_rows, 1) <= n) {
        km.clusters = seed_lists;
        km.seeded_iterations = options.adopted_iterations;
        rep.clustering = IvfBuildReport::Clustering::kAdopted;
      }
    }
    GANNET_ASSIGN_OR_RETURN(cl, BalancedKMeans(data, ids, normalize, km));
  }
  rep.clustering_s = lap();

  std::vector<uint32_t> held_out;
  held_out.reserve(cl.held_out.size());
  for (uint32_t i : cl.held_out) held_out.push_back(ids[i]);
  // One sample (and its exact neighbours) calibrates every assembly.
  const CalibrationSample sample = SampleCalibration(data, metric, ids, options, held_out);
  rep.sample_s = lap();
  // Each row's nearest other list, for boundary replication at either margin.
  const std::vector<Boundary> boundary =
      options.replica_epsilon >= 0
          ? NearestOtherLists(data, ids, normalize, cl.centroids, cl.assignment, options.threads)
          : std::vector<Boundary>(n);
  auto assemble = [&](double epsilon) {
    std::shared_ptr<IvfIndex> idx(new IvfIndex());
    idx->metric_ = metric;
    idx->dims_ = dims;
    idx->rows_ = data.rows;
    idx->centroids_ = cl.centroids;
    idx->Assemble(data, ids, normalize, cl.assignment, boundary, epsilon, options, sample);
    return idx;
  };
  std::shared_ptr<IvfIndex> idx = assemble(options.replica_epsilon);
  // The wider margin pays on some data and not on other (docs/ann.md): keep the one whose
  // calibration says it reads fewer codes at the default recall target.
  if (options.replica_epsilon >= 0 && options.wide_replica_epsilon > options.replica_epsilon) {
    std::shared_ptr<IvfIndex> wide = assemble(options.wide_replica_epsilon);
    if (wide->CodesAtDefaultTarget() < idx->CodesAtDefaultTarget()) idx = std::move(wide);
  }
  rep.assembly_s = lap();
  return idx;
}

Result<std::vector<uint32_t>> IvfIndex::PriorLists(const VectorRows& data,
                                                   const std::vector<uint32_t>& ids, bool normalize,
                                                   const std::vector<uint32_t>& seed_rows) const {
  if (seed_rows.size() != data.rows) {
    return Status::InvalidArgument("vector index: " + std::to_string(seed_rows.size()) +
                                   " seed rows for " + std::to_string(data.rows) + " rows");
  }
  const std::vector<std::array<uint32_t, 2>> lists_of_row = ListsOfRows();
  std::vector<uint32_t> prior(ids.size(), kNoCluster);
  std::vector<float> x(dims_);
  for (size_t i = 0; i < ids.size(); ++i) {
    const uint32_t s = seed_rows[ids[i]];
    if (s == kNoSeedRow) continue;
    if (s >= rows_) {
      return Status::InvalidArgument("vector index: seed row " + std::to_string(s) +
                                     " out of range (the seed's segment has " +
                                     std::to_string(rows_) + " rows)");
    }
    const std::array<uint32_t, 2>& of = lists_of_row[s];
    prior[i] = of[0];  // kNoCluster when the seed did not index the row
    if (of[1] != kNoCluster) {
      CopyMaybeNormalized(data.row(ids[i]), dims_, normalize, x.data());
      const float* a = centroids_.data() + size_t{of[0]} * dims_;
      const float* b = centroids_.data() + size_t{of[1]} * dims_;
      if (L2Squared(x.data(), b, dims_) < L2Squared(x.data(), a, dims_)) prior[i] = of[1];
    }
  }
  return prior;
}

std::vector<std::array<uint32_t, 2>> IvfIndex::ListsOfRows() const {
  std::vector<std::array<uint32_t, 2>> of_row(rows_, {UINT32_MAX, UINT32_MAX});
  for (size_t j = 0; j < lists(); ++j) {
    for (uint32_t pos = list_offsets_[j]; pos < list_offsets_[j + 1]; ++pos) {
      std::array<uint32_t, 2>& of = of_row[list_rows_[pos]];
      of[of[0] == UINT32_MAX ? 0 : 1] = static_cast<uint32_t>(j);
    }
  }
  return of_row;
}

void IvfIndex::ReleaseSq8Codes() {
  if (dims_ < kMinBinaryDims) return;
  HugeVector<uint8_t>().swap(codes_);
}

void IvfIndex::Assemble(const VectorRows& data, const std::vector<uint32_t>& ids, bool normalize,
                        const std::vector<uint32_t>& assignment,
                        const std::vector<Boundary>& boundary, double epsilon,
                        const IvfBuildOptions& options, const CalibrationSample& sample) {
  const uint32_t dims = dims_;
  const size_t n = ids.size(), nlist = centroids_.size() / dims;
  centroid_norms_.resize(nlist);
  for (size_t j = 0; j < nlist; ++j) {
    const float* c = centroids_.data() + j * dims;
    centroid_norms_[j] = Dot(c, c, dims);
  }
  // Boundary replication (SPANN): a row about as close to another centroid as to its own
  // list's (squared distance within 1 + epsilon) is posted in that list too, so that a
  // query probing either list finds it.
  indexed_rows_ = n;
  std::vector<uint32_t> replica(n, kNoReplica);
  if (epsilon >= 0) {
    const float factor = static_cast<float>(1 + epsilon);
    for (size_t i = 0; i < n; ++i) {
      const Boundary& b = boundary[i];
      if (b.list != kNoReplica && b.other <= factor * b.own) replica[i] = b.list;
    }
  }
  // Posting lists: a counting sort of the postings by list (rows stay ascending within).
  list_offsets_.assign(nlist + 1, 0);
  for (size_t i = 0; i < n; ++i) {
    ++list_offsets_[assignment[i] + 1];
    if (replica[i] != kNoReplica) ++list_offsets_[replica[i] + 1];
  }
  for (size_t j = 0; j < nlist; ++j) list_offsets_[j + 1] += list_offsets_[j];
  const size_t postings = list_offsets_[nlist];
  list_rows_.resize(postings);
  std::vector<uint32_t> list_of(postings);
  {
    std::vector<uint32_t> next(list_offsets_.begin(), list_offsets_.end() - 1);
    auto post = [&](size_t i, uint32_t list) {
      const uint32_t pos = next[list]++;
      list_rows_[pos] = ids[i];
      list_of[pos] = list;
    };
    for (size_t i = 0; i < n; ++i) {  // ids ascend, so rows ascend within each list
      post(i, assignment[i]);
      if (replica[i] != kNoReplica) post(i, replica[i]);
    }
  }
  // Residual ranges, then codes.
  std::vector<float> x(dims), res(dims);
  auto residual = [&](size_t pos) {
    CopyMaybeNormalized(data.row(list_rows_[pos]), dims, normalize, x.data());
    const float* c = centroids_.data() + size_t{list_of[pos]} * dims;
    for (uint32_t d = 0; d < dims; ++d) res[d] = x[d] - c[d];
  };
  Sq8Quantizer::Trainer trainer(dims);
  for (size_t pos = 0; pos < postings; ++pos) {
    residual(pos);
    trainer.Add(res.data());
  }
  quantizer_ = trainer.Finish();
  codes_.resize(postings * dims);
  for (size_t pos = 0; pos < postings; ++pos) {
    residual(pos);
    quantizer_.Encode(res.data(), codes_.data() + pos * dims);
  }
  DeriveFromCodes(options.threads);
  Calibrate(data, options, sample);
}

double IvfIndex::CodesAtDefaultTarget() const {
  return static_cast<double>(NprobeFor(kDefaultRecallTarget)) * static_cast<double>(postings()) /
         static_cast<double>(std::max<size_t>(lists(), 1));
}

void IvfIndex::DeriveFromCodes(int threads) {
  coder_ = BinaryCoder(dims_);
  // The SQ8 estimate's per-row terms where searches read SQ8 codes (lists not resident:
  // a search computes what it needs from the lists it reads).
  sq8_terms_.resize(dims_ < kMinBinaryDims ? list_rows_.size() : 0);
  if (dims_ < kMinBinaryDims && lists_resident()) {
    ParallelFor(lists(), threads, [&](size_t first, size_t last) {
      std::vector<float> res(dims_);
      for (size_t j = first; j < last; ++j) {
        const uint32_t begin = list_offsets_[j], size = list_offsets_[j + 1] - begin;
        const float* centroid = centroids_.data() + j * dims_;
        for (uint32_t t = 0; t < size; ++t) {
          quantizer_.Decode(codes_.data() + size_t{begin + t} * dims_, res.data());
          sq8_terms_[begin + t] =
              Dot(res.data(), res.data(), dims_) + 2 * Dot(centroid, res.data(), dims_);
        }
      }
    });
  }
  // The one-bit and four-bit codes where searches use them; below kMinBinaryDims the
  // one-bit ones on the first search that asks for them (IvfScan::kBinary).
  if (dims_ >= kMinBinaryDims && lists_resident()) DeriveBinaryCodes(threads);
  // The centroids' own SQ8 codes, for ranking the lists without reading their floats.
  const size_t nlist = lists();
  Sq8Quantizer::Trainer trainer(dims_);
  for (size_t j = 0; j < nlist; ++j) trainer.Add(centroids_.data() + j * dims_);
  centroid_quantizer_ = trainer.Finish();
  centroid_codes_.resize(nlist * dims_);
  for (size_t j = 0; j < nlist; ++j) {
    centroid_quantizer_.Encode(centroids_.data() + j * dims_, centroid_codes_.data() + j * dims_);
  }
  centroid_code_norms_ = Sq8CodeNorms(centroid_quantizer_, centroid_codes_.data(), nlist);
  // The SQ8 estimate's error (see sq8_noise_): each decoded value is off by up to half a
  // step, spread evenly (variance step²/12), in the row's code and in its centroid's.
  double steps = 0;
  for (uint32_t d = 0; d < dims_; ++d) {
    const double s = quantizer_.scale()[d], c = centroid_quantizer_.scale()[d];
    steps += s * s + c * c;
  }
  sq8_noise_ = static_cast<float>(steps / (3.0 * dims_));
}

void IvfIndex::DeriveBinaryCodes(int threads) const {
  // From the SQ8 codes (so that a decoded index searches exactly as the built one did
  // when it was calibrated).
  const size_t n = list_rows_.size(), words = coder_.words(), padded = coder_.padded();
  // Each list's codes in blocks of kBinaryBlockRows (BinaryDots), the last one padded.
  block_offsets_.assign(lists() + 1, 0);
  for (size_t j = 0; j < lists(); ++j) {
    block_offsets_[j + 1] =
        block_offsets_[j] +
        static_cast<uint32_t>((list_size(j) + kBinaryBlockRows - 1) / kBinaryBlockRows);
  }
  bits_.assign(size_t{block_offsets_.back()} * words * kBinaryBlockRows, 0);
  factors_.resize(n);
  const bool four_bit = dims_ >= kMinBinaryDims;
  if (four_bit) AssignSq4Slots(threads);
  if (four_bit) sq4_.resize(sq4_slot_.empty() ? n : indexed_rows_, static_cast<uint32_t>(padded));
  const size_t half = padded / 2;
  // Each list's codes are its own (rows, blocks): lists split over the threads.
  ParallelFor(lists(), threads, [&](size_t first, size_t last) {
    std::vector<uint8_t> levels(padded);
    std::vector<float> level_values(padded);
    std::vector<float> res, rotated_res, rotated_centroid(padded), scratch;
    std::vector<uint64_t> code(words);
    for (size_t j = first; j < last; ++j) {
      coder_.Rotate(centroids_.data() + j * dims_, rotated_centroid.data());
      const uint32_t begin = list_offsets_[j], size = list_offsets_[j + 1] - begin;
      res.resize(size_t{size} * dims_);
      rotated_res.resize(size_t{size} * padded);
      for (uint32_t t = 0; t < size; ++t) {
        quantizer_.Decode(codes_.data() + size_t{begin + t} * dims_,
                          res.data() + size_t{t} * dims_);
      }
      coder_.RotateMany(res.data(), size, rotated_res.data(), scratch);
      float c_sum = 0;  // Σ (P·c)_i
      for (size_t i = 0; i < padded; ++i) c_sum += rotated_centroid[i];
      for (uint32_t t = 0; t < size; ++t) {
        BinaryCoder::Factors f;
        coder_.Encode(rotated_res.data() + size_t{t} * padded, rotated_centroid.data(), code.data(),
                      &f);
        factors_.set(begin + t, f);
        uint64_t* block =
            bits_.data() + (block_offsets_[j] + t / kBinaryBlockRows) * words * kBinaryBlockRows;
        for (size_t w = 0; w < words; ++w)
          block[w * kBinaryBlockRows + t % kBinaryBlockRows] = code[w];
        if (!four_bit) continue;
        // The four-bit code of the same rotated residual x, and its per-row terms (once a
        // row: by the posting that holds its slot).
        const size_t pos = sq4_slot_.empty() ? begin + t : sq4_slot_[begin + t];
        if (!sq4_slot_.empty() && sq4_list_[pos] != j) continue;
        const float* x = rotated_res.data() + size_t{t} * padded;
        const float err2 = EncodeSq4(x, static_cast<uint32_t>(padded), levels.data(), &sq4_.lo[pos],
                                     &sq4_.step[pos]);
        PackSq4(levels.data(), static_cast<uint32_t>(padded), sq4_.codes.data() + pos * half);
        for (size_t i = 0; i < padded; ++i) level_values[i] = levels[i];
        const float c_dot = Dot(rotated_centroid.data(), level_values.data(), padded);
        sq4_.term[pos] = Dot(x, x, padded) + 2 * (sq4_.lo[pos] * c_sum + sq4_.step[pos] * c_dot);
        sq4_.noise[pos] = 4 * err2 / static_cast<float>(padded);
      }
    }
  });
  binary_bytes_.store(
      bits_.size() * sizeof(uint64_t) + block_offsets_.size() * sizeof(uint32_t) +
          factors_.bytes() + sq4_.bytes() +
          (sq4_slot_.size() + sq4_list_.size() + row_slot_.size()) * sizeof(uint32_t),
      std::memory_order_release);
}

bool IvfIndex::SparseRowsPay(size_t allowed) const {
  // A code read scattered costs about three streamed (as BinaryScanPays counts them).
  return 3 * allowed < postings();
}

void IvfIndex::AssignRowPostings() const {
  row_posting_.assign(rows_, UINT32_MAX);
  for (size_t pos = list_rows_.size(); pos-- > 0;) {
    row_posting_[list_rows_[pos]] = static_cast<uint32_t>(pos);
  }
  block_list_.assign((list_rows_.size() + kPostingBlock - 1) / kPostingBlock, 0);
  for (uint32_t j = 0; j < lists(); ++j) {
    for (size_t b = (list_offsets_[j] + kPostingBlock - 1) / kPostingBlock;
         b * kPostingBlock < list_offsets_[j + 1]; ++b) {
      block_list_[b] = j;
    }
  }
  row_posting_bytes_.store((row_posting_.size() + block_list_.size()) * sizeof(uint32_t),
                           std::memory_order_release);
}

void IvfIndex::AssignSq4Slots(int threads) const {
  sq4_slot_.clear();
  sq4_list_.clear();
  row_slot_.assign(rows_, UINT32_MAX);
  const size_t n = list_rows_.size();
  if (n == indexed_rows_) {  // no replicas: a posting's slot is its position
    sq4_list_.resize(n);
    for (uint32_t j = 0; j < lists(); ++j) {
      for (uint32_t pos = list_offsets_[j]; pos < list_offsets_[j + 1]; ++pos) {
        sq4_list_[pos] = j;
        row_slot_[list_rows_[pos]] = pos;
      }
    }
    return;
  }
  // |r|² of every posting, from its SQ8 code.
  std::vector<float> r2(n);
  ParallelFor(lists(), threads, [&](size_t first, size_t last) {
    std::vector<float> res(dims_);
    for (size_t pos = list_offsets_[first]; pos < list_offsets_[last]; ++pos) {
      quantizer_.Decode(codes_.data() + pos * dims_, res.data());
      r2[pos] = Dot(res.data(), res.data(), dims_);
    }
  });
  // Each row's holder: its posting with the shorter residual (the better estimate).
  std::vector<uint32_t> holder(rows_, UINT32_MAX);
  for (size_t pos = 0; pos < n; ++pos) {
    uint32_t& h = holder[list_rows_[pos]];
    if (h == UINT32_MAX || r2[pos] < r2[h]) h = static_cast<uint32_t>(pos);
  }
  sq4_slot_.resize(n);
  sq4_list_.reserve(indexed_rows_);
  for (uint32_t j = 0; j < lists(); ++j) {
    for (uint32_t pos = list_offsets_[j]; pos < list_offsets_[j + 1]; ++pos) {
      if (holder[list_rows_[pos]] != pos) continue;
      sq4_slot_[pos] = static_cast<uint32_t>(sq4_list_.size());
      sq4_list_.push_back(j);
    }
  }
  for (size_t pos = 0; pos < n; ++pos) {
    const uint32_t h = holder[list_rows_[pos]];
    if (h != pos) sq4_slot_[pos] = sq4_slot_[h];
    row_slot_[list_rows_[pos]] = sq4_slot_[h];
  }
}

IvfIndex::CalibrationSample IvfIndex::SampleCalibration(const VectorRows& data,
                                                        DistanceMetric metric,
                                                        const std::vector<uint32_t>& ids,
                                                        const IvfBuildOptions& options,
                                                        const std::vector<uint32_t>& held_out) {
  CalibrationSample s;
  const size_t n = ids.size();
  const size_t nq = std::min(options.calibration_queries, n);
  if (nq == 0 || n <= kCalibrationK) return s;
  std::mt19937_64 rng(options.kmeans.seed ^ 0x63616c6962);
  // Rows the centroids were fitted to sit closer to them than a new query would.
  const std::vector<uint32_t>& pool = held_out.size() >= nq ? held_out : ids;
  s.queries.resize(nq);
  for (uint32_t& r : s.queries) {
    r = pool[std::uniform_int_distribution<size_t>(0, pool.size() - 1)(rng)];
  }
  // Ground truth: the exact nearest other rows of each sampled row, as deep as the
  // deepest curve. One pass over the rows scores them against every sampled row at once
  // (DotRows on blocks of rows: per-pair distances took 20 s of a 1M × 384 build); each
  // thread keeps a few more than `depth` per query by those scores, and the merged
  // candidates are ranked again by ExactDistance (what searches rank by; the two differ
  // only by rounding), ties by row.
  const size_t depth = std::min<size_t>(kCalibrationDepths.back(), n - 1);
  const size_t keep = std::min(depth + 32, n - 1);
  const uint32_t dims = data.dims;
  const bool euclidean = metric == DistanceMetric::kEuclideanSquared;
  std::vector<float> qs(nq * dims), qnorm(nq);
  for (size_t i = 0; i < nq; ++i) {
    std::copy_n(data.row(s.queries[i]), dims, qs.data() + i * dims);
    qnorm[i] = std::sqrt(Dot(qs.data() + i * dims, qs.data() + i * dims, dims));
  }
  std::vector<std::vector<Neighbor>> pooled(nq);
  std::mutex pool_mu;
  constexpr size_t kTruthBlock = 32;
  ParallelFor(data.rows, options.threads, [&](size_t b, size_t e) {
    std::vector<Candidates> best(nq, Candidates(keep));
    std::vector<float> xs(kTruthBlock * dims), dots(kTruthBlock * nq), xnorm(kTruthBlock);
    std::vector<uint32_t> rows(kTruthBlock);
    for (size_t r = b; r < e;) {
      size_t m = 0;
      for (; r < e && m < kTruthBlock; ++r) {
        if (!data.has(r)) continue;
        std::copy_n(data.row(r), dims, xs.data() + m * dims);
        xnorm[m] = std::sqrt(Dot(xs.data() + m * dims, xs.data() + m * dims, dims));
        rows[m++] = static_cast<uint32_t>(r);
      }
      if (m == 0) continue;
      DotRows(xs.data(), m, qs.data(), nq, dims, dots.data());
      for (size_t t = 0; t < m; ++t) {
        for (size_t i = 0; i < nq; ++i) {
          if (rows[t] == s.queries[i]) continue;
          const float dot = dots[t * nq + i];
          const float d = euclidean
                              ? std::max(0.0f, qnorm[i] * qnorm[i] + xnorm[t] * xnorm[t] - 2 * dot)
                          : qnorm[i] == 0 || xnorm[t] == 0 ? 1.0f
                                                           : 1.0f - dot / (qnorm[i] * xnorm[t]);
          if (d < best[i].worst()) best[i].Push(rows[t], d);
        }
      }
    }
    std::lock_guard<std::mutex> lock(pool_mu);
    for (size_t i = 0; i < nq; ++i) {
      const std::vector<Neighbor>& got = best[i].items();
      pooled[i].insert(pooled[i].end(), got.begin(), got.end());
    }
  });
  s.truth.resize(nq);  // nearest first
  ParallelFor(nq, options.threads, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      std::vector<Neighbor>& got = pooled[i];
      // The threads' candidates in an order that does not depend on the thread count.
      std::sort(got.begin(), got.end(), NeighborLess);
      if (got.size() > keep) got.resize(keep);
      for (Neighbor& nb : got) {
        nb.distance = ExactDistance(metric, qs.data() + i * dims, qnorm[i], data.row(nb.row), dims);
      }
      std::sort(got.begin(), got.end(), NeighborLess);
      if (got.size() > depth) got.resize(depth);
      for (const Neighbor& nb : got) s.truth[i].push_back(nb.row);
    }
  });
  return s;
}

void IvfIndex::Calibrate(const VectorRows& data, const IvfBuildOptions& options,
                         const CalibrationSample& sample) {
  const std::vector<uint32_t>& queries = sample.queries;
  const std::vector<std::vector<uint32_t>>& truth = sample.truth;
  const size_t nq = queries.size();
  calibration_.clear();
  if (nq == 0) return;
  const size_t depth = std::min<size_t>(kCalibrationDepths.back(), indexed_rows() - 1);
  const uint32_t nlist = static_cast<uint32_t>(lists());
  std::vector<uint32_t> ladder;
  for (double p = 1; ladder.empty() || ladder.back() < nlist; p *= std::sqrt(2.0)) {
    const uint32_t v = std::min(nlist, static_cast<uint32_t>(std::round(p)));
    if (ladder.empty() || v > ladder.back()) ladder.push_back(v);
    if (ladder.size() >= kMaxCalibrationEntries) break;
  }
  auto new_query = [&](size_t i) {
    Query q;
    q.raw = data.row(queries[i]);
    q.raw_norm = std::sqrt(Dot(q.raw, q.raw, dims_));
    q.unit.resize(dims_);
    CopyMaybeNormalized(q.raw, dims_, metric_ == DistanceMetric::kCosineDistance, q.unit.data());
    return q;
  };

  // Depth 10: the recall@10 of real searches (quantization and re-ranking included); depth
  // 1, from the same searches: the share of them that return the true nearest row.
  CalibrationCurve top1{kNearestK, {}, {}}, top10{kCalibrationK, {}, {}};
  for (uint32_t nprobe : ladder) {
    std::vector<size_t> hits(nq, 0);
    std::vector<uint8_t> nearest(nq, 0);
    ParallelFor(nq, options.threads, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) {
        Query q = new_query(i);
        const uint32_t k = kCalibrationK + 1;  // the row itself comes back too
        const size_t cand = size_t{k} * IvfSearchParams{}.rerank_factor;
        const size_t want = std::min<size_t>(kCalibrationK, truth[i].size());
        for (const Neighbor& nb :
             SearchLists(q, data, k, nprobe, cand, 0, nullptr, IvfScan::kAuto, nullptr)) {
          if (std::find(truth[i].begin(), truth[i].begin() + want, nb.row) !=
              truth[i].begin() + want) {
            ++hits[i];
          }
          if (want > 0 && nb.row == truth[i][0]) nearest[i] = 1;
        }
      }
    });
    size_t total = 0, want = 0, found = 0, asked = 0;
    std::vector<double> shares, found_nearest;  // each query's recall; 0 or 1
    for (size_t i = 0; i < nq; ++i) {
      const size_t m = std::min<size_t>(kCalibrationK, truth[i].size());
      total += hits[i];
      want += m;
      if (m > 0) {
        shares.push_back(static_cast<double>(hits[i]) / static_cast<double>(m));
        found_nearest.push_back(nearest[i]);
        found += nearest[i];
        ++asked;
      }
    }
    const float recall = want == 0 ? 1.0f : static_cast<float>(total) / static_cast<float>(want);
    top10.points.emplace_back(nprobe, recall);
    top10.errors.push_back(StandardError(shares));
    top1.points.emplace_back(
        nprobe, asked == 0 ? 1.0f : static_cast<float>(found) / static_cast<float>(asked));
    top1.errors.push_back(StandardError(found_nearest));
    if (recall >= 1.0f) break;
  }
  calibration_.push_back(std::move(top1));
  calibration_.push_back(std::move(top10));

  // Deeper curves (for filtered and large-k searches): the share of the true top-K that
  // lies in the nprobe nearest lists, from each row's lists (two for a replicated row: the
  // nearer one counts) and each list's rank.
  const std::vector<std::array<uint32_t, 2>> lists_of_row = ListsOfRows();
  std::vector<std::vector<uint32_t>> ranks(nq);  // list rank of each truth row, in order
  ParallelFor(nq, options.threads, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      Query q = new_query(i);
      std::vector<float> dist(nlist);
      DotMany(q.unit.data(), centroids_.data(), nlist, dims_, dist.data());
      for (size_t j = 0; j < nlist; ++j) dist[j] = centroid_norms_[j] - 2 * dist[j];
      std::vector<uint32_t> order(nlist), rank(nlist);
      for (uint32_t j = 0; j < nlist; ++j) order[j] = j;
      std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t c) {
        return dist[a] != dist[c] ? dist[a] < dist[c] : a < c;
      });
      for (uint32_t r = 0; r < nlist; ++r) rank[order[r]] = r;
      for (uint32_t row : truth[i]) {
        const std::array<uint32_t, 2>& of = lists_of_row[row];
        ranks[i].push_back(of[1] == UINT32_MAX ? rank[of[0]] : std::min(rank[of[0]], rank[of[1]]));
      }
    }
  });
  for (size_t di = 1; di < kCalibrationDepths.size(); ++di) {
    const size_t k = kCalibrationDepths[di];
    if (k > depth) break;
    CalibrationCurve curve{static_cast<uint32_t>(k), {}, {}};
    for (uint32_t nprobe : ladder) {
      size_t total = 0, want = 0;
      std::vector<double> shares;
      for (size_t i = 0; i < nq; ++i) {
        const size_t m = std::min(k, ranks[i].size());
        size_t found = 0;
        for (size_t t = 0; t < m; ++t) found += ranks[i][t] < nprobe ? 1 : 0;
        want += m;
        total += found;
        if (m > 0) shares.push_back(static_cast<double>(found) / static_cast<double>(m));
      }
      const float recall = want == 0 ? 1.0f : static_cast<float>(total) / static_cast<float>(want);
      curve.points.emplace_back(nprobe, recall);
      curve.errors.push_back(StandardError(shares));
      if (recall >= 1.0f) break;
    }
    calibration_.push_back(std::move(curve));
  }
}

// ---- accessors ------------------------------------------------------------------------

bool IvfIndex::BinaryScanPays(double expected_rows, size_t shortlist) const {
  if (dims_ < kMinBinaryDims) return false;
  // Bytes a row: its four-bit code and terms, or its one-bit code and factors.
  const double fine = static_cast<double>(coder_.padded() / 2 + 16);
  const double saved = fine - static_cast<double>(coder_.words() * 8 + 16);
  return expected_rows * saved > 3.0 * static_cast<double>(shortlist) * fine;
}

uint32_t IvfIndex::ShortlistFactor() const { return std::max<uint32_t>(2, 384 / coder_.padded()); }

double IvfIndex::MeanSquaredResidual(size_t sample) const {
  const size_t n = postings();
  const size_t m = std::min(sample, n);
  if (m == 0) return 0;
  double sum = 0;
  if (!sq4_.lo.empty()) {  // the four-bit codes (the SQ8 ones may be released)
    // One a row (a replicated row's shorter residual), or one a posting without replicas.
    const size_t half = sq4_.code_bytes(), slots = sq4_.lo.size();
    const size_t m4 = std::min(sample, slots);
    for (size_t i = 0; i < m4; ++i) {
      const size_t pos = i * slots / m4;
      const uint8_t* code = sq4_.codes.data() + pos * half;
      for (size_t j = 0; j < 2 * half; ++j) {
        const double r =
            sq4_.lo[pos] + sq4_.step[pos] * (j < half ? code[j] & 15 : code[j - half] >> 4);
        sum += r * r;
      }
    }
    return sum / static_cast<double>(m4);
  }
  const std::vector<float>& lo = quantizer_.lo();
  const std::vector<float>& scale = quantizer_.scale();
  for (size_t i = 0; i < m; ++i) {
    const uint8_t* code = codes_.data() + (i * n / m) * dims_;
    for (uint32_t d = 0; d < dims_; ++d) {
      const double r = lo[d] + scale[d] * code[d];
      sum += r * r;
    }
  }
  return sum / static_cast<double>(m);
}

double IvfIndex::MeanSquaredDistanceOf(const VectorRows& data, const std::vector<uint32_t>& ids,
                                       size_t sample) const {
  const size_t m = std::min(sample, ids.size());
  if (m == 0 || data.dims != dims_) return 0;
  std::vector<float> xs(m * dims_);
  for (size_t i = 0; i < m; ++i) {
    CopyMaybeNormalized(data.row(ids[i * ids.size() / m]), dims_,
                        metric_ == DistanceMetric::kCosineDistance, xs.data() + i * dims_);
  }
  std::vector<uint32_t> best(m);
  std::vector<float> dist(m), scratch;
  NearestCentroidsOfRows(xs.data(), m, centroids_.data(), centroid_norms_.data(), lists(), dims_, 1,
                         scratch, best.data(), dist.data());
  double sum = 0;
  for (float d : dist) sum += d;
  return sum / static_cast<double>(m);
}

Status IvfIndex::CheckCompatible(size_t rows, uint32_t dims) const {
  if (rows != rows_ || dims != dims_) {
    return Status::Corruption("vector index: built for " + std::to_string(rows_) + " rows of " +
                              std::to_string(dims_) + " dimensions, segment has " +
                              std::to_string(rows) + " rows of " + std::to_string(dims));
  }
  return Status::OK();
}

size_t IvfIndex::MemoryBytes() const {
  return sizeof(*this) + centroids_.size() * sizeof(float) +
         centroid_norms_.size() * sizeof(float) + 3 * dims_ * sizeof(float) +
         list_offsets_.size() * sizeof(uint32_t) + list_rows_.size() * sizeof(uint32_t) +
         codes_.size() + binary_bytes_.load(std::memory_order_acquire) +
         row_posting_bytes_.load(std::memory_order_acquire) + sq8_terms_.size() * sizeof(float) +
         3 * dims_ * sizeof(float) + centroid_codes_.size() +
         centroid_code_norms_.size() * sizeof(float) +
         calibration_.size() * sizeof(CalibrationCurve) +
         kMaxCalibrationEntries * sizeof(std::pair<uint32_t, float>) * calibration_.size() +
         list_checksums_.size() * sizeof(uint64_t);
}

// ---- serialisation ----------------------------------------------------------------------

std::string IvfIndex::Encode() const { return EncodeVersion(5); }

std::string IvfIndex::EncodeVersion(uint32_t version) const {
  const bool replicas = postings() != indexed_rows();
  if (!holds_sq8_codes() || version < 1 || version > 5 || (version == 1 && replicas)) {
    // A broken precondition: the codes were released, or the version cannot hold them.
    std::fputs("gannet: IvfIndex::EncodeVersion: codes released or bad version\n", stderr);
    std::abort();
  }
  Writer head;
  head.PutU8(static_cast<uint8_t>(metric_));
  head.PutVarint(dims_);
  head.PutVarint(rows_);
  head.PutVarint(lists());
  head.PutVarint(indexed_rows());
  // Version 2 and 3: the postings, replicas included.
  if (version >= 2) head.PutVarint(postings());
  for (float v : quantizer_.lo()) head.PutFloat(v);
  for (float v : quantizer_.scale()) head.PutFloat(v);
  for (float v : centroids_) head.PutFloat(v);
  for (size_t j = 0; j < lists(); ++j) head.PutVarint(list_size(j));
  // Each posting list contiguous (row ids, then codes): one ranged read per list.
  Writer lists_w;
  std::vector<uint64_t> sums(lists());
  for (size_t j = 0; j < lists(); ++j) {
    const size_t at = lists_w.buffer().size();
    for (uint32_t pos = list_offsets_[j]; pos < list_offsets_[j + 1]; ++pos) {
      lists_w.PutFixed32(list_rows_[pos]);
    }
    lists_w.PutRaw(std::string_view(
        reinterpret_cast<const char*>(codes_.data()) + size_t{list_offsets_[j]} * dims_,
        list_size(j) * dims_));
    sums[j] = Checksum64(std::string_view(lists_w.buffer()).substr(at));
  }
  Writer curves;
  // Before version 5 the curves start at depth 10.
  auto written = [version](const CalibrationCurve& c) {
    return version >= 5 || c.k >= kCalibrationK;
  };
  curves.PutVarint(std::count_if(calibration_.begin(), calibration_.end(), written));
  for (const CalibrationCurve& c : calibration_) {
    if (!written(c)) continue;
    curves.PutVarint(c.k);
    curves.PutVarint(c.points.size());
    for (size_t i = 0; i < c.points.size(); ++i) {
      curves.PutVarint(c.points[i].first);
      curves.PutFloat(c.points[i].second);
      // Version 4: the point's standard error. An index decoded from an older version has
      // none: half the fixed margin, which keeps its knob where it was.
      if (version >= 4) {
        curves.PutFloat(c.errors.empty()
                            ? static_cast<float>(kFixedCalibrationMargin / kCalibrationErrors)
                            : c.errors[i]);
      }
    }
  }
  Writer payload;
  if (version >= 3) {
    // The head (list checksums and calibration included) first, with its length and
    // checksum: a cold reader fetches a prefix of the object, then lists by range.
    for (uint64_t sum : sums) head.PutFixed64(sum);
    head.PutRaw(curves.buffer());
    payload.PutVarint(head.buffer().size());
    payload.PutFixed64(Checksum64(head.buffer()));
    payload.PutRaw(head.buffer());
    payload.PutRaw(lists_w.buffer());
  } else {
    payload.PutRaw(head.buffer());
    payload.PutRaw(lists_w.buffer());
    payload.PutRaw(curves.buffer());
  }
  return format::EncodeFrame(format::ObjectKind::kVectorIndex, payload.buffer(),
                             format::Compression::kNone, version);
}

namespace {
Status BadIndex(const std::string& what) { return Status::Corruption("vector index: " + what); }
}  // namespace

Status IvfIndex::ParseHead(Reader& r, uint32_t version, IvfIndex& idx) {
  uint8_t metric;
  uint64_t dims, rows, nlist, n, postings;
  if (!r.GetU8(&metric) || !r.GetVarint(&dims) || !r.GetVarint(&rows) || !r.GetVarint(&nlist) ||
      !r.GetVarint(&n)) {
    return BadIndex("truncated header");
  }
  postings = n;
  if (version >= 2) {
    if (!r.GetVarint(&postings)) return BadIndex("truncated header");
    // At most one replica per row (version 2 is written only with replicas).
    if (postings < n || postings > 2 * n || (version == 2 && postings == n)) {
      return BadIndex("posting count out of range");
    }
  }
  if (metric != static_cast<uint8_t>(DistanceMetric::kCosineDistance) &&
      metric != static_cast<uint8_t>(DistanceMetric::kEuclideanSquared)) {
    return BadIndex("unknown distance metric " + std::to_string(metric));
  }
  if (dims == 0 || dims > kMaxDims) return BadIndex("dimensions out of range");
  if (rows >= (uint64_t{1} << 32) || n == 0 || n > rows) return BadIndex("row counts out of range");
  if (nlist == 0 || nlist > n) return BadIndex("list count out of range");
  // Fixed-size sections must fit in what remains before anything is allocated.
  const uint64_t floats = (2 + nlist) * dims;
  if (floats > r.remaining() / 4) return BadIndex("truncated centroids");
  idx.metric_ = static_cast<DistanceMetric>(metric);
  idx.dims_ = static_cast<uint32_t>(dims);
  idx.rows_ = rows;
  idx.indexed_rows_ = n;
  std::vector<float> lo(dims), scale(dims);
  for (float& v : lo) (void)r.GetFloat(&v);
  for (float& v : scale) (void)r.GetFloat(&v);
  Result<Sq8Quantizer> qz = Sq8Quantizer::FromParams(std::move(lo), std::move(scale));
  if (!qz.ok()) return BadIndex(qz.status().message());
  idx.quantizer_ = std::move(qz).value();
  idx.centroids_.resize(nlist * dims);
  for (float& v : idx.centroids_) {
    (void)r.GetFloat(&v);
    if (!std::isfinite(v)) return BadIndex("centroid is not finite");
  }
  idx.centroid_norms_.resize(nlist);
  for (size_t j = 0; j < nlist; ++j) {
    const float* c = idx.centroids_.data() + j * dims;
    idx.centroid_norms_[j] = Dot(c, c, dims);
  }
  // Every list size is at least one byte, so nlist <= remaining bounds this loop.
  if (nlist > r.remaining()) return BadIndex("truncated list sizes");
  idx.list_offsets_.assign(nlist + 1, 0);
  uint64_t total = 0;
  for (size_t j = 0; j < nlist; ++j) {
    uint64_t size;
    if (!r.GetVarint(&size)) return BadIndex("truncated list sizes");
    if (size > postings - total) return BadIndex("list sizes exceed the posting count");
    total += size;
    idx.list_offsets_[j + 1] = static_cast<uint32_t>(total);
  }
  if (total != postings) return BadIndex("list sizes do not add up to the posting count");
  if (version < 3) return Status::OK();
  if (nlist > r.remaining() / 8) return BadIndex("truncated list checksums");
  idx.list_checksums_.resize(nlist);
  for (uint64_t& sum : idx.list_checksums_) (void)r.GetFixed64(&sum);
  return ParseCalibration(r, version, idx);
}

Status IvfIndex::ParseCalibration(Reader& r, uint32_t version, IvfIndex& idx) {
  uint64_t curves;
  if (!r.GetVarint(&curves) ||
      curves > (version >= 5 ? kMaxCalibrationCurves : kCalibrationDepths.size())) {
    return BadIndex("bad calibration table");
  }
  for (uint64_t ci = 0; ci < curves; ++ci) {
    uint64_t k, entries;
    if (!r.GetVarint(&k) || !r.GetVarint(&entries)) return BadIndex("truncated calibration");
    if (k == 0 || k > kCalibrationDepths.back() || (version < 5 && k < kCalibrationK) ||
        entries == 0 || entries > kMaxCalibrationEntries ||
        (!idx.calibration_.empty() && k <= idx.calibration_.back().k)) {
      return BadIndex("bad calibration curve");
    }
    CalibrationCurve curve{static_cast<uint32_t>(k), {}, {}};
    for (uint64_t i = 0; i < entries; ++i) {
      uint64_t nprobe;
      float recall;
      if (!r.GetVarint(&nprobe) || !r.GetFloat(&recall)) return BadIndex("truncated calibration");
      if (nprobe == 0 || nprobe > idx.lists() || !(recall >= 0.0f && recall <= 1.0f) ||
          (!curve.points.empty() && nprobe <= curve.points.back().first)) {
        return BadIndex("bad calibration entry");
      }
      curve.points.emplace_back(static_cast<uint32_t>(nprobe), recall);
      if (version >= 4) {
        float error;
        if (!r.GetFloat(&error)) return BadIndex("truncated calibration");
        if (!(error >= 0.0f && error <= 1.0f)) return BadIndex("bad calibration error");
        curve.errors.push_back(error);
      }
    }
    idx.calibration_.push_back(std::move(curve));
  }
  return Status::OK();
}

ByteRange IvfIndex::ListRange(size_t list) const {
  const uint64_t entry = uint64_t{4} + dims_;
  return ByteRange{lists_at_ + list_offsets_[list] * entry, list_size(list) * entry};
}

Status IvfIndex::CheckList(size_t list, std::string_view bytes) const {
  const std::string what = "posting list " + std::to_string(list);
  if (bytes.size() != list_size(list) * (uint64_t{4} + dims_)) {
    return BadIndex(what + " has the wrong length");
  }
  if (format::kVerifyChecksums && Checksum64(bytes) != list_checksums_[list]) {
    return BadIndex(what + " does not match its checksum");
  }
  Reader r(bytes);
  uint32_t prev = 0;
  for (size_t t = 0; t < list_size(list); ++t) {
    uint32_t row;
    (void)r.GetFixed32(&row);
    if (row >= rows_) return BadIndex("row id out of range");
    if (t > 0 && row <= prev) return BadIndex("row ids not ascending");
    prev = row;
  }
  return Status::OK();
}

Result<std::shared_ptr<const IvfIndex>> IvfIndex::Decode(std::string_view bytes,
                                                         bool keep_sq8_codes, int threads) {
  std::string storage;
  format::FrameHeader header;
  GANNET_ASSIGN_OR_RETURN(
      std::string_view payload,
      format::DecodeFrame(format::ObjectKind::kVectorIndex, bytes, &storage, &header));
  Reader r(payload);
  std::shared_ptr<IvfIndex> idx(new IvfIndex());
  if (header.version >= 3) {
    uint64_t head_len, head_sum;
    std::string_view head_bytes;
    if (!r.GetVarint(&head_len) || !r.GetFixed64(&head_sum) || !r.GetRaw(head_len, &head_bytes)) {
      return BadIndex("truncated head");
    }
    if (format::kVerifyChecksums && Checksum64(head_bytes) != head_sum) {
      return BadIndex("head does not match its checksum");
    }
    Reader head(head_bytes);
    GANNET_RETURN_IF_ERROR(ParseHead(head, header.version, *idx));
    if (!head.done()) return BadIndex("trailing bytes in the head");
  } else {
    GANNET_RETURN_IF_ERROR(ParseHead(r, header.version, *idx));
  }
  const size_t nlist = idx->lists(), dims = idx->dims_, postings = idx->postings();
  if (postings > r.remaining() / (4 + dims)) return BadIndex("truncated posting lists");
  idx->list_rows_.resize(postings);
  idx->codes_.resize(postings * dims);
  for (size_t j = 0; j < nlist; ++j) {
    const uint32_t begin = idx->list_offsets_[j], end = idx->list_offsets_[j + 1];
    std::string_view list;
    if (!r.GetRaw((end - begin) * (4 + dims), &list)) return BadIndex("truncated posting list");
    // Version 3: CheckList checks the row ids with the list's checksum; older ones here.
    const bool checked = header.version >= 3;
    if (checked) GANNET_RETURN_IF_ERROR(idx->CheckList(j, list));
    Reader lr(list);
    for (uint32_t pos = begin; pos < end; ++pos) {
      uint32_t row;
      (void)lr.GetFixed32(&row);
      if (!checked && row >= idx->rows_) return BadIndex("row id out of range");
      if (!checked && pos > begin && row <= idx->list_rows_[pos - 1]) {
        return BadIndex("row ids not ascending");
      }
      idx->list_rows_[pos] = row;
    }
    const std::string_view codes = list.substr((end - begin) * 4);
    std::copy(codes.begin(), codes.end(), idx->codes_.begin() + size_t{begin} * dims);
  }
  {  // n distinct rows, each in one list, or (versions 2 and 3) in two at most
    std::vector<uint32_t> sorted(idx->list_rows_.begin(), idx->list_rows_.end());
    std::sort(sorted.begin(), sorted.end());
    size_t distinct = 0;
    for (size_t i = 0; i < sorted.size(); ++i) {
      if (i > 0 && sorted[i] == sorted[i - 1]) {
        if (header.version < 2) return BadIndex("row id in more than one list");
        if (i > 1 && sorted[i] == sorted[i - 2]) return BadIndex("row id in more than two lists");
        continue;
      }
      ++distinct;
    }
    if (distinct != idx->indexed_rows_) {
      return BadIndex("posting lists do not hold the indexed row count");
    }
  }
  if (header.version < 3) GANNET_RETURN_IF_ERROR(ParseCalibration(r, header.version, *idx));
  if (!r.done()) return BadIndex("trailing bytes");
  // The resident index keeps no list checksums (Encode recomputes them).
  std::vector<uint64_t>().swap(idx->list_checksums_);
  idx->DeriveFromCodes(threads);
  if (!keep_sq8_codes) idx->ReleaseSq8Codes();
  return std::shared_ptr<const IvfIndex>(std::move(idx));
}

Result<uint64_t> IvfIndex::HeadPrefixBytes(std::string_view prefix, uint64_t object_size) {
  if (prefix.size() < std::min<uint64_t>(kHeadProbeBytes, object_size)) {
    return Status::InvalidArgument("vector index: head probe too short");
  }
  if (prefix.size() < format::kFrameHeaderBytes) return BadIndex("truncated frame header");
  GANNET_ASSIGN_OR_RETURN(
      format::FrameHeader header,
      format::ParseFrameHeader(format::ObjectKind::kVectorIndex,
                               prefix.substr(0, format::kFrameHeaderBytes), object_size));
  if (header.version < 3) return uint64_t{0};
  if (header.flags != 0) return BadIndex("an index with a head must not be compressed");
  Reader r(prefix.substr(format::kFrameHeaderBytes));
  uint64_t head_len, head_sum;
  if (!r.GetVarint(&head_len) || !r.GetFixed64(&head_sum)) return BadIndex("truncated head");
  const uint64_t at = prefix.size() - r.remaining();
  if (head_len > object_size - at) return BadIndex("head beyond the object");
  return at + head_len;
}

Result<std::shared_ptr<const IvfIndex>> IvfIndex::DecodeHead(std::string_view prefix,
                                                             uint64_t object_size,
                                                             RangeReader reader) {
  GANNET_ASSIGN_OR_RETURN(uint64_t need, HeadPrefixBytes(prefix, object_size));
  if (need == 0) return Status::InvalidArgument("vector index: format version 1 or 2 has no head");
  if (prefix.size() < need) return Status::InvalidArgument("vector index: prefix misses the head");
  if (reader == nullptr) return Status::InvalidArgument("vector index: no reader");
  GANNET_ASSIGN_OR_RETURN(
      format::FrameHeader header,
      format::ParseFrameHeader(format::ObjectKind::kVectorIndex,
                               prefix.substr(0, format::kFrameHeaderBytes), object_size));
  Reader r(prefix.substr(format::kFrameHeaderBytes));
  uint64_t head_len, head_sum;
  (void)r.GetVarint(&head_len);
  (void)r.GetFixed64(&head_sum);
  std::string_view head_bytes;
  (void)r.GetRaw(head_len, &head_bytes);
  if (format::kVerifyChecksums && Checksum64(head_bytes) != head_sum) {
    return BadIndex("head does not match its checksum");
  }
  std::shared_ptr<IvfIndex> idx(new IvfIndex());
  Reader head(head_bytes);
  GANNET_RETURN_IF_ERROR(ParseHead(head, header.version, *idx));
  if (!head.done()) return BadIndex("trailing bytes in the head");
  // The lists fill the object from the head to the frame's checksum.
  idx->lists_at_ = need;
  const unsigned __int128 lists_bytes =
      static_cast<unsigned __int128>(idx->postings()) * (4 + idx->dims_);
  if (object_size < need + format::kFrameTrailerBytes ||
      lists_bytes != object_size - need - format::kFrameTrailerBytes) {
    return BadIndex("posting lists do not fill the object");
  }
  idx->list_reader_ = std::move(reader);
  idx->DeriveFromCodes();
  return std::shared_ptr<const IvfIndex>(std::move(idx));
}

uint64_t IvfIndex::HeadBytesGuess(uint64_t rows, uint32_t dims) {
  // A build's lists: 4·√rows, and maintenance may add some (at most rows / 8).
  const uint64_t lists =
      std::min<uint64_t>(std::max<uint64_t>(1, rows / 8),
                         static_cast<uint64_t>(6.0 * std::sqrt(static_cast<double>(rows))) + 16);
  return format::kFrameHeaderBytes + 32 + uint64_t{8} * dims + lists * (uint64_t{4} * dims + 13) +
         2048;
}

}  // namespace gannet::index
