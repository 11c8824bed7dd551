// IvfIndex: the approximate nearest-neighbour index of one segment's vectors.
//
// An inverted file (IVF): balanced k-means (kmeans.h) splits the indexed vectors into
// nlist ≈ lists_per_sqrt_rows·√rows clusters; each cluster's posting list holds its row
// ids (ascending) and the SQ8 codes (quantizer.h) of the rows' residuals from the
// centroid. For cosine distance the vectors are scaled to unit length first, so that
// squared Euclidean distance orders them like cosine distance. Derived from the SQ8 codes
// on load (not stored): one-bit RaBitQ-style codes of the same residuals with their
// per-row factors (binary_code.h), laid out per list in blocks for the popcount kernel,
// and, from kMinBinaryDims dimensions, four-bit codes of them (sq4_code.h), which stand in
// for the SQ8 codes in every search: an index may then drop its SQ8 codes from memory
// (ReleaseSq8Codes; the stored object keeps them, the source every derived code is
// computed from).
//
// A search ranks the centroids (estimated on SQ8 codes of the centroids, derived on
// load) and then works in three stages, each reading fewer, costlier bytes per row:
//   1. the binary codes of the nprobe nearest lists (B/8 bytes a row, B = dims rounded up
//      to 64: the scan is bound by memory bandwidth, and SQ8's dims bytes a row cost 5-8×
//      more) shortlist every row whose estimate minus its error bound is below the k-th
//      smallest estimate plus error bound of distinct rows (what the k nearest could be);
//   2. their fine codes (four-bit from kMinBinaryDims dimensions, SQ8 below) keep the
//      rows their estimate cannot rule out (within 3 standard deviations of the four-bit
//      estimate's modelled error, or 4 of SQ8's rounding error, of the k-th best), at
//      most k·rerank_factor (twice as many under a filter);
//   3. those are re-ranked with the exact f32 distance on the segment's vectors.
// A probe expected to read few rows skips stage 1 and reads the lists' fine codes.
// A row filter (RowFilter) is applied during the posting scan; the probe widens with the
// filter's selectivity (as deep as k / selectivity) and until enough matching rows were
// seen, and a filter is answered by an exact scan of just its rows when that reads at
// most about twice the bytes the probe would (or it matches few rows).
//
// The recall knob: the build measures recall@10 against exact search on sampled rows
// (outside the k-means training sample when there are enough of them) for a ladder of
// nprobe values ("calibration"), how often those searches return the true nearest row,
// and how much of the true top-100 and top-1000 the probed lists hold; a search asks for
// a recall target and gets the nprobe at which the measured recall at its depth (k, or
// IvfSearchParams::depth; over the selectivity when filtered) reaches the target
// plus a safety margin of two standard errors of that measurement (between two measured
// points, on the chord joining them).
//
// The index refers to rows by their position in the segment and never copies the f32
// vectors: searches take the segment's vectors (VectorRows) to re-rank.
//
// Cold queries: an index decoded from the head of its object alone (DecodeHead; format
// version 3 on) holds the centroids, list sizes and calibration but no posting lists; each
// search reads the lists it probes by byte range, estimates on their SQ8 codes (no
// derived codes) and re-ranks as above. The engine serves a namespace's first queries so
// while it loads the whole index in the background.
//
// Serialised as one framed object (magic GANNETVI): docs/format/vector-index.md.
//
// Thread safety: an IvfIndex is immutable; any number of searches may run at once.
// RowFilter is a plain value.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/memory.h"
#include "gannet/status.h"
#include "gannet/types.h"
#include "index/binary_code.h"
#include "index/cluster_maintenance.h"
#include "index/kmeans.h"
#include "index/quantizer.h"
#include "index/sq4_code.h"
#include "index/vectors.h"

namespace gannet {
class Reader;  // common/coding.h
}  // namespace gannet

namespace gannet::index {

// Rows a search may return: a bitmap over a segment's rows with its population count.
class RowFilter {
 public:
  // All rows denied, or all allowed.
  explicit RowFilter(size_t rows, bool allow_all = false);
  size_t rows() const { return rows_; }
  size_t count() const { return count_; }  // rows allowed
  bool allowed(size_t row) const { return (words_[row >> 6] >> (row & 63)) & 1; }
  void Allow(size_t row);
  void Deny(size_t row);
  const uint64_t* words() const { return words_.data(); }

 private:
  size_t rows_ = 0, count_ = 0;
  std::vector<uint64_t> words_;
};

class IvfIndex;

struct IvfBuildOptions {
  double lists_per_sqrt_rows = 4.0;  // nlist = round(this × √rows), at most rows / 8
  KMeansOptions kmeans;              // clusters is set by the build
  // Sampled rows the recall ladder is measured on. 64 left the estimate noisy enough to
  // pick nprobe 2 (recall 0.941 on held-out queries) where 4 was needed for 0.95 on a
  // 1M × 128 index; 256 picked nprobe 23 (0.975) on it, for about 20% more build time.
  size_t calibration_queries = 256;
  int threads = 1;  // worker threads for k-means and calibration
  // Incremental maintenance: the centroids of an index over rows like these (the largest
  // input of a compaction, or the namespace's largest index when new rows are indexed).
  // The clustering starts from them (kmeans.h) instead of from scratch when the seed has
  // the same dimensions and metric, indexes more than half as many rows as the build (or
  // has at least as many lists as the build wants), and fits these rows (and holds its
  // lists: not DecodeHead's): a sample of them sits, on average, at most seed_fit_factor
  // times as far (squared) from its nearest seed centroid as the seed's own rows sit from
  // their lists' (a seed fitted to other data, say rows re-embedded by another model of
  // the same dimensions, would start far from them, and the few seeded iterations would
  // not bring it back). Otherwise it is ignored. Not owned; must outlive Build.
  const IvfIndex* seed = nullptr;
  double seed_fit_factor = 1.5;
  // A fitting seed with more lists than this build would make (a larger segment's index,
  // when a new segment is indexed) lends it all of them, not a random subset, as long as
  // they average at least adopt_min_list_rows rows here: the lists a query needs follow
  // the data's clusters, which are the namespace's, not one segment's, and every segment
  // is probed. The seed's centroids are then refined by adopted_iterations Lloyd
  // iterations (seeded k-means's own count, 5, otherwise). 100k rows of the 1M × 128 set
  // seeded by an index over 400k others: their own 1265 lists read 14.4k codes a query for
  // recall@10 0.955 at the default knob, the seed's 2530 adopted 4.3k for 0.957.
  size_t adopt_min_list_rows = 16;
  int adopted_iterations = 1;
  // Compaction: for each row of the data (data.rows entries), the row of the seed's segment
  // holding the same vector, or kNoSeedRow. When the seed fits and holds more than half of
  // the rows, the build maintains its clustering instead of running k-means
  // (cluster_maintenance.h: the rows keep their lists, the others join their nearest, and
  // lists too large or too small are split or merged locally). Not owned; must outlive
  // Build. Checked when the seed is used: InvalidArgument when its size or a row is out
  // of range.
  const std::vector<uint32_t>* seed_rows = nullptr;
  // Boundary replication (SPANN): a row whose squared distance to another centroid is at
  // most (1 + this) times that to its own list's is posted in that list too (one replica
  // at most); negative: none. 0.1 replicated ~30% of the rows of GCIDE × MiniLM and of
  // generated clustered data, for recall 0.95 at ~15% more QPS (GCIDE; +8% memory), and
  // recall@10 at nprobe 1 of 0.947 instead of 0.853 (200k × 128).
  double replica_epsilon = 0.1;
  // A wider margin, also tried when larger than replica_epsilon (and that is not
  // negative): the build assembles and calibrates the index both ways from the same
  // clustering and keeps the one whose calibration reads fewer codes at the default
  // recall target. Measured with 0.5 instead of 0.1: GCIDE × MiniLM +17% QPS at recall
  // 0.95 and 200k × 128 +4%, but 1M × 128 (5000 overlapping centres) -15%; which one a
  // segment's data favours is what the calibration measures. Costs the assembly and the
  // calibration twice.
  double wide_replica_epsilon = 0.5;
};

// IvfBuildOptions::seed_rows for a row the seed does not hold.
inline constexpr uint32_t kNoSeedRow = UINT32_MAX;

// How a build went (IvfIndex::Build fills it when given one).
struct IvfBuildReport {
  // kAdopted: seeded, keeping all the seed's lists (IvfBuildOptions::adopt_min_list_rows).
  enum class Clustering : uint8_t { kScratch, kSeeded, kAdopted, kMaintained };
  Clustering clustering = Clustering::kScratch;
  MaintenanceStats maintenance;  // when kMaintained
  // Wall seconds: the clustering, the calibration sample's exact neighbours, and the
  // assemblies (replicas, codes, calibration; one or two, see wide_replica_epsilon).
  double clustering_s = 0, sample_s = 0, assembly_s = 0;
};

// Recall@10 the default search aims for; see IvfSearchParams::recall_target.
inline constexpr double kDefaultRecallTarget = 0.95;

// How a search reads the probed lists.
enum class IvfScan : uint8_t {
  // kBinary when the vectors have at least kMinBinaryDims dimensions and the probe is
  // expected to read enough rows for the binary stage to pay (BinaryScanPays), else
  // kDirect.
  kAuto,
  kDirect,  // the fine codes (four-bit or SQ8) of every probed row
  kBinary,  // the one-bit codes, then the fine codes of a shortlist
};
// Below this the one-bit estimate's error (~0.6/√B of 2·|r|·|q - c|) loses recall that a
// bigger shortlist would cost more to win back than the SQ8 scan: at 1M × 128 recall@10
// at nprobe 4 fell from 0.970 to 0.963, and the curve levelled off at 0.973. From it, the
// fine codes are four-bit (half the bytes of SQ8 a row; the one-bit codes derived too).
inline constexpr uint32_t kMinBinaryDims = 256;

struct IvfSearchParams {
  uint32_t k = 10;
  // Lists probed before filter widening; 0 picks it from recall_target.
  uint32_t nprobe = 0;
  // Wanted recall@10 in (0, 1]; the calibration table maps it to nprobe. 1 probes every
  // list (still approximate: the codes' estimates and their error bounds decide which
  // rows are re-ranked exactly).
  double recall_target = kDefaultRecallTarget;
  // At most k × this candidates (× 2 filtered) are re-ranked exactly: those the fine
  // codes' estimate cannot rule out.
  uint32_t rerank_factor = 4;
  const RowFilter* filter = nullptr;  // null: every indexed row is eligible
  // How deep in its top k the caller needs recall_target, in [1, k]; 0 (or more than k)
  // is k. A segment among several needs only its share of the merged top k (a tenth of
  // the rows holds about one of the top 10): nprobe is chosen for that depth (the
  // calibration's depth-1 curve to its depth-10 one), and k rows still come back.
  double depth = 0;
  IvfScan scan = IvfScan::kAuto;
  // Where a search of an index without resident lists (DecodeHead) records a failed or
  // corrupt read of a posting list; the result is then empty. Null: not recorded.
  Status* error = nullptr;
};

struct IvfSearchStats {
  size_t lists_probed = 0;
  size_t codes_scanned = 0;  // posting entries visited (filtered-out ones included)
  size_t shortlisted = 0;    // rows the binary stage passed to stage 2 (0: direct scan)
  size_t reranked = 0;       // exact distances computed for candidates
  size_t exact_rows = 0;     // rows scanned exactly by the small-filter fallback
  bool exact_fallback = false;
};

struct Neighbor {
  uint32_t row = 0;
  float distance = 0;  // exact distance (ExactDistance)
};

class IvfIndex {
 public:
  // Indexes every row of `data` that has a vector. InvalidArgument if none has one, the
  // dimensions are zero, there are 2^32 rows or more, or `data` is not resident. The
  // caller owns the index alone until it shares it (and may ReleaseSq8Codes first).
  static Result<std::shared_ptr<IvfIndex>> Build(const VectorRows& data, DistanceMetric metric,
                                                 const IvfBuildOptions& options = {},
                                                 IvfBuildReport* report = nullptr);
  // From kMinBinaryDims dimensions, frees the SQ8 codes (searches read the four-bit codes
  // derived from them; results are unchanged); below, does nothing. Encode is not
  // available afterwards. REQUIRES: no search runs at the same time (call it before the
  // index is shared).
  void ReleaseSq8Codes();
  // Whether Encode is available (the SQ8 codes are held).
  bool holds_sq8_codes() const { return codes_.size() == postings() * dims_; }
  // False for an index decoded from its head alone (DecodeHead): its posting lists stay
  // in the object and each search reads the ones it probes.
  bool lists_resident() const { return list_reader_ == nullptr; }

  // The k nearest allowed rows to `query` (dims() floats), nearest first, ties by row.
  // REQUIRES: `data` is the vectors the index was built from (rows() and dims() match,
  // see CheckCompatible) and, when given, params.filter->rows() == rows(). When `data` is
  // not resident, the rows to re-rank are fetched in one batch (an exact search: in
  // batches of 1024); if a fetch fails the result is empty. Without resident lists
  // (DecodeHead) the probed lists are read first; a failed or damaged read gives an empty
  // result and sets *params.error.
  std::vector<Neighbor> Search(const float* query, const VectorRows& data,
                               const IvfSearchParams& params,
                               IvfSearchStats* stats = nullptr) const;

  // Corruption unless the index fits a segment of `rows` rows of `dims` dimensions.
  Status CheckCompatible(size_t rows, uint32_t dims) const;

  // The framed object (docs/format/vector-index.md), and back. Decode verifies the
  // checksums and bounds-checks every count and row id: Corruption on any damage; without
  // `keep_sq8_codes` the decoded index has released them (ReleaseSq8Codes). Decode
  // derives the search codes from the stored ones on `threads` threads (the calling one
  // included; ~3 µs a row at 384 dimensions on one).
  // Encode REQUIRES holds_sq8_codes(); it writes format version 5 (a head, then the
  // lists, each with its checksum in the head; version 4 adds the calibration's standard
  // errors to version 3, version 5 its depth-1 curve). EncodeVersion writes an older
  // version for compatibility tests: 4, 3, 2, or 1 (REQUIRES: no replicas).
  std::string Encode() const;
  std::string EncodeVersion(uint32_t version) const;
  static Result<std::shared_ptr<const IvfIndex>> Decode(std::string_view bytes,
                                                        bool keep_sq8_codes = true,
                                                        int threads = 1);

  // Cold queries (format version 3 on). An object's head (everything but the posting lists:
  // centroids, list sizes and checksums, calibration) is a prefix of it. HeadPrefixBytes
  // says how long that prefix is, given at least its first kHeadProbeBytes bytes (fewer
  // only when the object is shorter), or 0 for a version 1 or 2 object, which has no head
  // (decode it whole). DecodeHead parses the prefix into an index without resident lists:
  // each search reads the lists it probes through `reader` (one batch of ranges a probe;
  // each list verified against its checksum and bounds-checked), estimates distances on
  // their SQ8 codes and re-ranks like any search. Corruption on damage. `object_size` is
  // the whole object's size. HeadBytesGuess: a prefix length likely to hold the head of an
  // index of `rows` rows of `dims` dimensions (what a loader asks for before it knows).
  using RangeReader = format::SegmentRangeReader;
  static constexpr size_t kHeadProbeBytes = 64;
  static Result<uint64_t> HeadPrefixBytes(std::string_view prefix, uint64_t object_size);
  static Result<std::shared_ptr<const IvfIndex>> DecodeHead(std::string_view prefix,
                                                            uint64_t object_size,
                                                            RangeReader reader);
  static uint64_t HeadBytesGuess(uint64_t rows, uint32_t dims);

  DistanceMetric metric() const { return metric_; }
  uint32_t dims() const { return dims_; }
  size_t rows() const { return rows_; }                     // rows of the segment
  size_t indexed_rows() const { return indexed_rows_; }     // rows with a vector
  size_t postings() const { return list_offsets_.back(); }  // with replicas (>= indexed_rows)
  size_t lists() const { return list_offsets_.size() - 1; }
  size_t list_size(size_t list) const { return list_offsets_[list + 1] - list_offsets_[list]; }
  // Calibration curves, by depth k ascending: k = 10 holds the measured recall@10 of
  // searches per nprobe, and k = 1 (format version 5 on) the share of those searches that
  // return the true nearest row; deeper ones (100, 1000; up to the rows there are) the
  // share of the true top-k found in the nprobe nearest lists. nprobe ascending in each.
  struct CalibrationCurve {
    uint32_t k = 0;
    std::vector<std::pair<uint32_t, float>> points;  // (nprobe, recall)
    // The standard error of each point's recall over the sampled queries (format version
    // 4 on, one a point); empty for an index of an older version.
    std::vector<float> errors;
    bool operator==(const CalibrationCurve&) const = default;
  };
  const std::vector<CalibrationCurve>& calibration() const { return calibration_; }
  // The nprobe the calibration picks for `recall_target` at depth `k` (a filtered search
  // asks for k / selectivity): where the measured recall less its margin reaches the target
  // (linearly between the ladder's two points around it; interpolated between curves); a
  // target no measured point reaches gets the smallest nprobe within 0.002 of the curve's
  // best. 1.0 (or more) means every list.
  uint32_t NprobeFor(double recall_target, double k = 10) const;
  // The same on one curve, unrounded (at most nlist). A point's margin is two standard
  // errors of its recall (the recall measured exceeds the target by that much with about
  // 97.5% confidence, for queries like the sampled rows), at least 0.005 on the recall@10
  // curve and 0.02 on the deeper ones (a share of rows in the probed lists, not a
  // search's recall); a curve without errors (format version 3 and older) keeps the fixed
  // margin of 0.02.
  static double NprobeOnCurve(const CalibrationCurve& curve, double recall_target, uint32_t nlist);
  // The expected shortlist of the binary scan, in re-rank candidates (what the choice of
  // scan counts it to cost): its estimate's error grows as the code's bits B shrink
  // (~1/√B), so short vectors shortlist more: max(2, 384 / B).
  uint32_t ShortlistFactor() const;
  // Bytes held in memory (centroids, codes, row ids), excluding the segment's vectors.
  size_t MemoryBytes() const;
  // The mean squared distance of indexed rows (up to `sample` of them, evenly spread)
  // from their list's centroid, from their codes (from kMinBinaryDims a replicated row
  // counts once, from its nearer list, whose four-bit code it keeps; below, every posting
  // counts); and that of rows of `data` (`ids`, the same sampling) from their nearest
  // centroid. Distances as the index measures them (of unit-length vectors for cosine
  // distance). 0 without rows.
  double MeanSquaredResidual(size_t sample) const;
  double MeanSquaredDistanceOf(const VectorRows& data, const std::vector<uint32_t>& ids,
                               size_t sample) const;
  // lists() × dims() floats, row-major (for cosine distance, of unit-length vectors).
  const std::vector<float>& centroids() const { return centroids_; }

 private:
  IvfIndex() = default;
  struct Query;  // a prepared query (search-local scratch)
  // Probes at least `nprobe` lists, and more until `candidates` eligible rows were seen;
  // re-ranks the best `candidates`. adapt_target > 0: widen while the share of eligible
  // rows seen implies the nearest are deeper (NprobeFor(adapt_target, q.depth / share)).
  std::vector<Neighbor> SearchLists(Query& q, const VectorRows& data, uint32_t k, uint32_t nprobe,
                                    size_t candidates, double adapt_target, const RowFilter* filter,
                                    IvfScan scan, IvfSearchStats* stats) const;
  // Whether kAuto reads the lists through the binary codes: enough dimensions, and more
  // rows expected than the shortlist's scattered fine-code reads cost (counted at three
  // times a streamed byte).
  bool BinaryScanPays(double expected_rows, size_t shortlist) const;
  // Asks the CPU to fetch `list`'s binary codes and factors into its caches.
  void PrefetchList(uint32_t list) const;
  std::vector<Neighbor> SearchExact(Query& q, const VectorRows& data, uint32_t k,
                                    const RowFilter& filter, IvfSearchStats* stats) const;
  // Lists not resident: reads the `nprobe` nearest lists (one batch), and under a filter
  // twice as many more each round until `candidates` allowed rows were seen; keeps the
  // `candidates` best SQ8 estimates that the estimate's error cannot rule out and
  // re-ranks them.
  std::vector<Neighbor> SearchCold(Query& q, const VectorRows& data, uint32_t k, uint32_t nprobe,
                                   size_t candidates, const RowFilter* filter, Status* error,
                                   IvfSearchStats* stats) const;
  // q.order: every list's (estimated |q - centroid|², list) key, unsorted (OrderKey).
  void RankLists(Query& q) const;
  // Keeps one estimate a row (replicas), and only the candidates whose SQ8 estimate's
  // error could put them among the k nearest.
  void KeepPlausibleSq8(std::vector<Neighbor>& cand, uint32_t k) const;
  // Replaces each candidate's distance by its exact one, then keeps the k nearest, nearest
  // first (false: a fetch failed). *reranked: the candidates re-ranked.
  bool Rerank(const Query& q, const VectorRows& data, uint32_t k, std::vector<Neighbor>& cand,
              size_t* reranked) const;
  // The byte range of `list` in the object (lists not resident), and a check of its bytes
  // against the head: length, checksum, row ids in range and ascending.
  ByteRange ListRange(size_t list) const;
  Status CheckList(size_t list, std::string_view bytes) const;
  // Parses the payload fields from the metric to the list sizes (version 3 on: through the
  // calibration) into `idx`.
  static Status ParseHead(Reader& r, uint32_t version, IvfIndex& idx);
  static Status ParseCalibration(Reader& r, uint32_t version, IvfIndex& idx);
  // The rows a build calibrates on and their exact nearest other rows (nearest first,
  // as deep as the deepest curve): the same for every assembly of one clustering.
  struct CalibrationSample {
    std::vector<uint32_t> queries;
    std::vector<std::vector<uint32_t>> truth;
  };
  // Queries are sampled from `held_out` (rows the clustering was not trained on) when it
  // holds enough of them, else from every indexed row (`ids`).
  static CalibrationSample SampleCalibration(const VectorRows& data, DistanceMetric metric,
                                             const std::vector<uint32_t>& ids,
                                             const IvfBuildOptions& options,
                                             const std::vector<uint32_t>& held_out);
  // A row's nearest list other than its own, and its squared distances to both
  // centroids: it is replicated there when other <= (1 + epsilon) · own.
  struct Boundary {
    uint32_t list = UINT32_MAX;  // none (a single list)
    float own = 0, other = 0;
  };
  // Per row ids[i] (in list assignment[i] of `centroids`), computed once a build and shared
  // by its assemblies.
  static std::vector<Boundary> NearestOtherLists(const VectorRows& data,
                                                 const std::vector<uint32_t>& ids, bool normalize,
                                                 const std::vector<float>& centroids,
                                                 const std::vector<uint32_t>& assignment,
                                                 int threads);

  // Posting lists, codes and calibration of the clustering (centroids_ set; `assignment`
  // the list of each of `ids`) with boundary replicas within `epsilon` (none when
  // negative; `boundary` from NearestOtherLists otherwise).
  void Assemble(const VectorRows& data, const std::vector<uint32_t>& ids, bool normalize,
                const std::vector<uint32_t>& assignment, const std::vector<Boundary>& boundary,
                double epsilon, const IvfBuildOptions& options, const CalibrationSample& sample);
  // For each ids[i]: the list of this index that holds row seed_rows[ids[i]] (the one
  // whose centroid is nearer the row's vector in `data` when it is replicated), or
  // kNoCluster. InvalidArgument when seed_rows does not fit `data` and this index.
  Result<std::vector<uint32_t>> PriorLists(const VectorRows& data, const std::vector<uint32_t>& ids,
                                           bool normalize,
                                           const std::vector<uint32_t>& seed_rows) const;
  // The lists holding each row of the segment (two for a replicated row; UINT32_MAX for
  // none), by row.
  std::vector<std::array<uint32_t, 2>> ListsOfRows() const;
  // Postings a search at the default recall target reads, by the calibration.
  double CodesAtDefaultTarget() const;
  void Calibrate(const VectorRows& data, const IvfBuildOptions& options,
                 const CalibrationSample& sample);
  // The centroid codes and, below kMinBinaryDims dimensions, the SQ8 terms, from it the
  // binary and four-bit codes, derived from codes_, the quantizer and the centroids
  // (after Build's encoding and after Decode), the lists split over `threads` threads.
  void DeriveFromCodes(int threads = 1);
  // The one-bit codes (bits_, block_offsets_, factors_) and, from kMinBinaryDims
  // dimensions, the four-bit ones (sq4_), the lists split over `threads` threads.
  // Called once: by DeriveFromCodes, or under binary_once_.
  void DeriveBinaryCodes(int threads = 1) const;
  DistanceMetric metric_ = DistanceMetric::kCosineDistance;
  uint32_t dims_ = 0;
  size_t rows_ = 0;
  size_t indexed_rows_ = 0;
  std::vector<float> centroids_;        // lists × dims
  std::vector<float> centroid_norms_;   // |centroid|²
  Sq8Quantizer quantizer_;              // of residuals
  std::vector<uint32_t> list_offsets_;  // lists + 1 entries into list_rows_
  // Row ids, grouped by list, ascending within; a replicated row is in two lists.
  HugeVector<uint32_t> list_rows_;
  // postings × dims, parallel to list_rows_; empty once released (ReleaseSq8Codes).
  HugeVector<uint8_t> codes_;
  // One-bit codes of the decoded SQ8 residuals (not stored): the posting scan's estimate.
  // Derived on load from kMinBinaryDims dimensions; below, where the automatic scan does
  // not use them, by the first search that does (IvfScan::kBinary), once.
  BinaryCoder coder_;
  mutable std::once_flag binary_once_;
  mutable std::vector<uint32_t> block_offsets_;  // lists + 1 entries into bits_, in blocks
  mutable HugeVector<uint64_t> bits_;            // each list's codes in blocks (BinaryDots)
  mutable BinaryCoder::FactorColumns factors_;   // parallel to list_rows_
  // Four-bit codes of the same rotated residuals (the fine codes from kMinBinaryDims
  // dimensions); derived with the one-bit codes. One a posting without replicas (the
  // posting's position is its slot); with them one a row, kept by the row's posting with
  // the shorter residual: sq4_slot_[pos] is posting pos's slot (empty without replicas),
  // sq4_list_[slot] the list whose centroid that code's residual is from. A replica
  // then costs its one-bit code and two slot indexes instead of a four-bit code as well.
  mutable Sq4Codes sq4_;
  mutable HugeVector<uint32_t> sq4_slot_;
  mutable std::vector<uint32_t> sq4_list_;  // from kMinBinaryDims: every slot's list
  // From kMinBinaryDims: each segment row's slot (UINT32_MAX without a vector), so that a
  // small filter's rows are estimated without walking every posting.
  mutable HugeVector<uint32_t> row_slot_;
  // Fills sq4_slot_, sq4_list_ and row_slot_ (REQUIRES the SQ8 codes).
  void AssignSq4Slots(int threads) const;
  // Their bytes, set once they are derived (MemoryBytes may run beside the derivation).
  mutable std::atomic<size_t> binary_bytes_{0};
  // Below kMinBinaryDims: each segment row's posting (the first of a replicated row's
  // two; UINT32_MAX without a vector), so that a small filter's rows are estimated on
  // their SQ8 codes without walking every posting. Filled under row_posting_once_ by the
  // first search that scans every list under such a filter (as those of vectors read by
  // range do), so an index searched otherwise never holds it.
  mutable std::once_flag row_posting_once_;
  mutable HugeVector<uint32_t> row_posting_;
  // The list holding the first posting of each block of kPostingBlock.
  static constexpr size_t kPostingBlock = 64;
  mutable std::vector<uint32_t> block_list_;
  mutable std::atomic<size_t> row_posting_bytes_{0};
  void AssignRowPostings() const;
  // Whether reading `allowed` rows' codes scattered costs less than streaming every list.
  bool SparseRowsPay(size_t allowed) const;
  // |r|² + 2·<c, r> of each row's decoded residual r and its list's centroid c (the SQ8
  // estimate's per-row term; derived on load below kMinBinaryDims), parallel to
  // list_rows_.
  HugeVector<float> sq8_terms_;
  // The variance of an SQ8 estimate e's error, per unit of e (derived on load; the
  // four-bit estimate adds it, for the SQ8 rounding of the residual it encodes):
  // Σ_d (scale[d]² + centroid scale[d]²) / (3·dims).
  float sq8_noise_ = 0;
  // The centroids quantized (ranking the lists; not stored, derived on load).
  Sq8Quantizer centroid_quantizer_;
  HugeVector<uint8_t> centroid_codes_;  // lists × dims
  std::vector<float> centroid_code_norms_;
  std::vector<CalibrationCurve> calibration_;
  // Version 3: XXH3-64 of each list's bytes (kept only by an index without resident
  // lists), where the lists start in the object, and how to read them (null: resident).
  std::vector<uint64_t> list_checksums_;
  uint64_t lists_at_ = 0;
  RangeReader list_reader_;
};

}  // namespace gannet::index
