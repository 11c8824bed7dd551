// BM25 ranking over inverted indexes (index/text_index.h): the rank_by expressions
// ["attr", "BM25", "text"], Sum, Max and Product, evaluated top-k with MaxScore and
// block-max bounds; with filter, Attribute, constant, Saturate, Decay or Dist clauses
// (TextRank in gannet/request.h), every live row is evaluated.
//
// Scoring (as Lucene's classic BM25 and tantivy):
//   score(row, term) = idf · (k1 + 1) · tf / (tf + k1 · (1 − b + b · dl / avgdl))
//   idf = ln(1 + (N − df + 0.5) / (df + 0.5))
// with tf the term's frequency in the row, dl the row's token count (quantized to one
// byte, index/text_index.h), N the rows holding the attribute, avgdl their mean length
// and df the rows holding the term. N, avgdl and df are namespace-wide: summed over every
// segment and WAL entry of the snapshot (rows deleted or replaced since their segment
// was written still count until compaction rewrites it, as in Lucene). A query token
// repeated n times counts n times. A BM25 leaf scores the sum over its query tokens;
// Sum and Max combine children; Product multiplies by a weight. Rows matching no query
// token are not returned.
//
// Top-k: MaxScore over windows of rows. A window ends where the first of the posting
// lists' current blocks ends; within it each list is bounded by its block's bound, lists
// whose bounds together cannot reach the current k-th score are "non-essential" and only
// probed for rows the essential lists produce, while the row can still enter. Results
// equal exhaustive evaluation, ties broken by id.
//
// Thread safety: a TextPlan is immutable; SearchText only reads its inputs.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gannet/request.h"
#include "gannet/status.h"
#include "gannet/types.h"
#include "index/text_index.h"
#include "text/analyzer.h"

namespace gannet::query {

class TextPlan {
 public:
  struct Attr {
    std::string name;
    std::shared_ptr<const text::Analyzer> analyzer;
  };
  // Checks `expr` against `schema` (each attribute must have full_text_search) and
  // analyzes its query texts. InvalidArgument names the attribute.
  static Result<TextPlan> Make(const TextRank& expr, const Schema& schema);

  // The distinct attributes the expression reads, in a fixed order.
  const std::vector<Attr>& attrs() const { return attrs_; }
  // Whether every live row must be evaluated (pruning off) as far as the expression
  // alone tells: when a clause without BM25 (filter, Attribute, constant, Saturate,
  // Decay, Dist and their combinations) has no bound known before reading data (a bare
  // Attribute or Dist), or a BM25 clause sits under Saturate, Decay or Dist. Otherwise
  // such clauses add attribute_bound() to every row's bound: rows holding a query token
  // are pruned as usual, the others are evaluated only while that bound can still reach
  // the k-th score. A search bounds bare Attribute and Dist clauses from the data
  // (DataBound) when it can.
  bool exhaustive() const { return exhaustive_; }
  // The most the clauses without BM25 add to any row's score (the weighted sum of their
  // bounds: filters, Saturate and Decay at most 1, constants themselves).
  double attribute_bound() const { return attribute_bound_; }
  // Per attribute, the least and greatest number among the rows searched.
  using Ranges = std::map<std::string, std::pair<double, double>, std::less<>>;
  // The attributes of the expression's Attribute clauses (what DataBound needs).
  const std::vector<std::string>& ranked_attrs() const { return ranked_attrs_; }
  // attribute_bound() with each Attribute clause bounded by the greatest value of its
  // attribute (0 when that is negative or none, as a missing value counts 0) and each
  // Dist of one by the farther end of its range: infinite when a BM25 clause sits under
  // Saturate, Decay or Dist, or a Dist is of something else.
  double DataBound(const Ranges& ranges) const { return AttributeBound(0, 1.0, &ranges); }

 private:
  friend class TextSearcher;
  struct Leaf {
    size_t attr = 0;
    std::vector<std::pair<std::string, uint32_t>> terms;  // token, repetitions
    std::string prefix;      // last_as_prefix: the last token, expanded per search
    double path_weight = 1;  // product of the Product weights above it
  };
  struct Node {
    TextRank::Op op = TextRank::Op::kBM25;
    double weight = 1;                     // kProduct; kConst: the constant
    double midpoint = 1, exponent = 1;     // kSaturate, kDecay
    double origin = 0;                     // kDist
    size_t leaf = 0;                       // kBM25
    std::shared_ptr<const Filter> filter;  // kFilter (a bound copy of the expression's)
    std::string attr;                      // kAttribute
    std::vector<size_t> children;          // node indexes
  };
  size_t AddNode(const TextRank& expr, double path_weight, const Schema& schema, Status* st);
  bool HasBm25(size_t node) const;
  // An upper bound of a node without BM25, from the expression and, when given, the
  // ranges of the attributes (without them, infinite for an Attribute or Dist value).
  double Bound(size_t node, const Ranges* ranges) const;
  // The sum of path weight × Bound over the maximal subtrees without BM25 that sit under
  // only Sum, Max and Product (infinite when another node holds a BM25 clause).
  double AttributeBound(size_t node, double path_weight, const Ranges* ranges) const;

  std::vector<Attr> attrs_;
  std::vector<std::string> ranked_attrs_;
  std::vector<Leaf> leaves_;
  std::vector<Node> nodes_;  // nodes_[0] is the root
  bool exhaustive_ = false;
  double attribute_bound_ = 0;
};

// Binds the filters inside a ranking expression (kFilter clauses) against `schema`.
Status BindTextRankFilters(TextRank& expr, const Schema& schema);

}  // namespace gannet::query

namespace gannet {

// A bound ranking's plan (RankBy::text_binding), made once per query by BindQuery.
struct TextRankBinding {
  query::TextPlan plan;
};

}  // namespace gannet

namespace gannet::query {

// One place rows come from (a segment, or documents of the WAL tail).
struct TextSource {
  // The index of each of the plan's attrs() (same order); null when none of its rows has
  // the attribute.
  std::vector<std::shared_ptr<const index::TextFieldIndex>> fields;
  // Whether a row may be returned (live, not replaced, matching the query's filters).
  std::function<bool(uint32_t row)> eligible;
  std::function<Id(uint32_t row)> id;
  // Whether `id` ascends with the row number (a segment's rows are in id order): ties
  // between two rows of this source are then broken without reading their ids.
  bool ids_ascend = false;
  // For filter and attribute clauses: the source's row count, a row's value of an
  // attribute (or null), and whether a row matches a filter.
  uint32_t rows = 0;
  std::function<const Value*(uint32_t row, const std::string& attr)> value;
  // The least and greatest number (Value::AsNumber) of `attr` among the source's rows,
  // deleted ones included (a bound may be loose); false when no row has one.
  std::function<bool(const std::string& attr, double* lo, double* hi)> range;
  std::function<bool(uint32_t row, const Filter& filter)> match;
  // Posting lists every eligible row is in (the tokens of a ContainsAllTokens or phrase
  // filter the query requires): candidates leap to rows present in all of them.
  std::vector<index::PostingCursor> required;
  // The phrases among those filters: per phrase, the index in `required` of the list of
  // the token at each query position. A row the leap lands on is a candidate only when
  // every phrase holds there (checked on the lists' positions).
  std::vector<std::vector<uint32_t>> phrases;
  std::vector<std::shared_ptr<const index::TextFieldIndex>> required_fields;  // keep alive
  bool none_eligible = false;  // a required token is absent here
};

struct TextHit {
  double score = 0;
  size_t source = 0;
  uint32_t row = 0;
  Id id;
};

struct TextSearchStats {
  uint64_t candidates = 0;  // rows whose bound was checked
  uint64_t scored = 0;      // rows fully scored
};

// The best k rows by score (descending; ties by ascending id). Advances the sources'
// required cursors.
std::vector<TextHit> SearchText(const TextPlan& plan, std::vector<TextSource>& sources, uint32_t k,
                                TextSearchStats* stats);

}  // namespace gannet::query
