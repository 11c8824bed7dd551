// Query execution over one snapshot: segments (with deletion vectors) plus the unindexed
// WAL tail. Ranking by vector distance (exhaustive for kNN; for ANN through each
// segment's vector index where it has one, the tail always exhaustive), by attribute, or
// by id; filters; top_k; attribute selection; Count aggregations with group_by.
//
// Thread safety: Execute only reads its inputs; many queries may run at once.
#pragma once

#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include "format/segment.h"
#include "gannet/request.h"
#include "gannet/status.h"
#include "gannet/types.h"
#include "index/ivf_index.h"
#include "index/text_index.h"
#include "query/filter.h"

namespace gannet::query {

// The inverted index of attribute `attr` analyzed by `analyzer` over some rows, built
// when the caller holds none (a schema change, an unindexed tail) and cached by it.
using TextFieldSource = std::function<std::shared_ptr<const index::TextFieldIndex>(
    const std::string& attr, const std::shared_ptr<const text::Analyzer>& analyzer)>;

// id -> its newest version in the WAL tail; nullptr is a tombstone. A segment row whose
// id is a key here is shadowed (the tail holds its newer version or its deletion).
using TailMap = std::unordered_map<Id, std::shared_ptr<const Document>, IdHash>;

struct SegmentInput {
  const format::Segment* segment = nullptr;
  const std::vector<bool>* deleted = nullptr;  // null or empty: no row deleted
  // |vector| per row (VectorNorms), or null to compute them during the scan.
  const std::vector<float>* norms = nullptr;
  // The segment's vector index, or null. rank_by ANN searches it instead of scanning the
  // segment (REQUIRES: built from this segment; one of another metric is ignored).
  const index::IvfIndex* ann = nullptr;
  // The segment's text indexes; when empty, BM25 builds them from the segment's column
  // for the one query.
  TextFieldSource text = {};
  // Set by Execute: the query's full-text filter leaves evaluated through `text`.
  const FullTextMatches* full_text = nullptr;
};

// A WAL tail entry's documents, for BM25: changes[i] is (id, document or null). A
// document counts only while it is the tail's newest version of its id.
struct TailEntryInput {
  const std::vector<std::pair<Id, std::shared_ptr<const Document>>>* changes = nullptr;
  TextFieldSource text = {};  // index over changes' rows; empty: built for the one query
};

// The Euclidean norm of every row's vector (0 for rows without one), so cosine distance
// costs one dot product per row. REQUIRES: segment.vectors_resident().
std::vector<float> VectorNorms(const format::Segment& segment);

struct ExecInput {
  std::vector<SegmentInput> segments;
  const TailMap* tail = nullptr;  // may be null (no tail)
  const Schema* schema = nullptr;
  // The tail's entries, for BM25's per-entry indexes. When empty while `tail` is not,
  // BM25 indexes the tail map's documents for the one query.
  std::vector<TailEntryInput> tail_entries = {};
};

// Read access to one row of a segment.
class SegmentRowAccessor final : public RowAccessor {
 public:
  explicit SegmentRowAccessor(const format::Segment& segment,
                              const FullTextMatches* full_text = nullptr)
      : segment_(segment), full_text_(full_text) {}
  void set_row(size_t row) { row_ = row; }
  const Id& id() const override { return segment_.id(row_); }
  const Value* Get(std::string_view attr) const override;
  const FullTextMatches* full_text_matches() const override { return full_text_; }
  size_t row_index() const override { return row_; }

 private:
  const format::Segment& segment_;
  const FullTextMatches* full_text_;
  size_t row_ = 0;
};

// Checks `request` against `schema` and binds it: filters' operands coerced, the query
// vector's dimension checked, order-by and group-by attributes known. InvalidArgument
// names the field and the reason.
Status BindQuery(QueryRequest& request, const Schema& schema);

// Calls `fn(row accessor)` for every live row (segments, then tail). Stops early when
// fn returns false. Returns the number of rows visited.
template <typename Fn>
uint64_t ForEachLiveRow(const ExecInput& in, Fn&& fn);

// REQUIRES: BindQuery succeeded on `request` with `*in.schema`.
Result<QueryResponse> Execute(const QueryRequest& request, const ExecInput& in);

// ---- implementation of the template ----
template <typename Fn>
uint64_t ForEachLiveRow(const ExecInput& in, Fn&& fn) {
  uint64_t visited = 0;
  for (const SegmentInput& s : in.segments) {
    SegmentRowAccessor acc(*s.segment, s.full_text);
    const bool has_deletes = s.deleted != nullptr && !s.deleted->empty();
    for (size_t row = 0; row < s.segment->rows(); ++row) {
      if (has_deletes && (*s.deleted)[row]) continue;
      if (in.tail != nullptr && in.tail->count(s.segment->id(row)) != 0) continue;
      acc.set_row(row);
      ++visited;
      if (!fn(static_cast<const RowAccessor&>(acc))) return visited;
    }
  }
  if (in.tail != nullptr) {
    for (const auto& [id, doc] : *in.tail) {
      if (doc == nullptr) continue;
      DocumentAccessor acc(*doc);
      ++visited;
      if (!fn(static_cast<const RowAccessor&>(acc))) return visited;
    }
  }
  return visited;
}

}  // namespace gannet::query
