// The request model shared by the C++ API, the CLI and the HTTP server. Shapes follow
// turbopuffer's v2 HTTP API; the JSON codec is in gannet/json.h.
//
// Thread safety: plain values.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gannet/types.h"

namespace gannet {

// Query-time state a bound full-text filter carries (its analyzer and query tokens);
// defined by the query layer.
struct FullTextFilterBinding;
// Query-time state a bound full-text ranking carries (its analyzed plan); defined by the
// query layer.
struct TextRankBinding;

// A filter expression: ["attr", "Op", value], ["And", [...]], ["Or", [...]], ["Not", f].
struct Filter {
  enum class Op : uint8_t {
    kAnd,
    kOr,
    kNot,
    kEq,
    kNotEq,
    kIn,
    kNotIn,
    kLt,
    kLte,
    kGt,
    kGte,
    kContains,  // array attribute contains value
    kNotContains,
    kContainsAny,  // array attribute contains any of values
    kNotContainsAny,
    kGlob,  // Unix glob on strings, case-sensitive
    kNotGlob,
    kIGlob,  // case-insensitive glob
    kNotIGlob,
    // Full-text filters on a full_text_search attribute; the operand is query text,
    // analyzed like the attribute.
    kContainsAllTokens,      // every query token occurs
    kContainsAnyToken,       // at least one query token occurs
    kContainsTokenSequence,  // the query tokens occur consecutively (a phrase)
  };
  Op op = Op::kAnd;
  std::string attr;                    // for comparison ops; "id" addresses the document id
  Value value;                         // operand; for In/NotIn/ContainsAny an array
  std::optional<std::string> ref_new;  // operand is {"$ref_new": "attr"} (conditions only)
  std::vector<Filter> children;        // for And/Or (any number) and Not (exactly one)
  // Full-text filters: {"last_as_prefix": true} makes the last query token match any token
  // it is a prefix of (type-ahead search).
  bool last_as_prefix = false;
  std::shared_ptr<const FullTextFilterBinding> full_text;  // set by binding

  bool is_logical() const { return op == Op::kAnd || op == Op::kOr || op == Op::kNot; }
};

std::string_view FilterOpName(Filter::Op op);
Result<Filter::Op> ParseFilterOp(std::string_view name);

// A write: applied atomically (all or nothing) in this order: delete_by_filter, then
// upserts, patches and deletes. A duplicate id across upserts/patches/deletes of one
// request is InvalidArgument.
struct WriteRequest {
  std::vector<Document> upserts;
  std::vector<Document> patches;  // vectors cannot be patched; null removes an attribute
  std::vector<Id> deletes;
  std::optional<Filter> delete_by_filter;
  // Applied per row against the row's current version; $ref_new refers to the new row.
  std::optional<Filter> upsert_condition;
  std::optional<Filter> patch_condition;
  std::optional<Filter> delete_condition;
  std::optional<DistanceMetric> distance_metric;
  // Declared attribute types; merged into the namespace schema. A declared type that
  // differs from an existing one is InvalidArgument.
  std::optional<Schema> schema;
  bool return_affected_ids = false;

  bool empty() const {
    return upserts.empty() && patches.empty() && deletes.empty() && !delete_by_filter &&
           !distance_metric && !schema;
  }
};

struct WriteResponse {
  uint64_t rows_affected = 0;
  uint64_t rows_upserted = 0;
  uint64_t rows_patched = 0;
  uint64_t rows_deleted = 0;
  std::optional<std::vector<Id>> upserted_ids, patched_ids, deleted_ids;
  uint64_t wal_sequence = 0;  // the WAL entry that made this write durable
};

// A full-text ranking expression (turbopuffer's RankByText):
//   ["attr", "BM25", "query text" | ["token", ...], {"last_as_prefix": bool}?]
//       BM25 of the query's tokens in attr (an array is analyzed element by element;
//       last_as_prefix expands the last token to the terms it starts, up to 64);
//   ["Sum", [e, ...]], ["Max", [e, ...]] (or ["Sum", e, e, ...]; an element may be a
//       number, a constant); ["Product", weight, e] (or [weight, e] / e, weight;
//       weight >= 0);
//   a filter, e.g. ["genre", "Eq", "news"]: 1 for rows matching it, else 0;
//   ["Attribute", "attr"]: the row's numeric value of attr (int, uint, float; datetimes
//       as ms since the epoch; must be >= 0 to rank). A missing value adds nothing: Sum
//       and Max count it as 0, Dist of it is missing too, Saturate and Decay of it are 0;
//   ["Saturate", e, {"midpoint": m, "exponent": p}]: x^p / (x^p + m^p), x = max(e, 0):
//       rises from 0 towards 1, 0.5 at m;
//   ["Decay", e, {"midpoint": m, "exponent": p}]: m^p / (x^p + m^p), x = max(e, 0):
//       falls from 1 towards 0, 0.5 at m (m > 0; a number, or a duration such as "6h",
//       "30d": ms; p > 0, default 1);
//   ["Dist", e, origin]: |e - origin|; origin a number or a datetime string (ms).
// Expressions with filters, attributes or constants are evaluated for every live row;
// the others only for rows holding a query token (with top-k pruning).
struct TextRank {
  enum class Op : uint8_t {
    kBM25,
    kSum,
    kMax,
    kProduct,
    kFilter,
    kAttribute,
    kConst,
    kSaturate,
    kDecay,
    kDist,
  };
  Op op = Op::kBM25;
  std::string attr;                       // kBM25, kAttribute
  std::string query;                      // kBM25 (text form)
  std::vector<std::string> query_tokens;  // kBM25 (array form)
  bool query_is_array = false;
  bool last_as_prefix = false;  // kBM25
  double weight = 1;            // kProduct; kConst: the constant
  double midpoint = 1;          // kSaturate, kDecay
  double exponent = 1;          // kSaturate, kDecay
  double origin = 0;            // kDist
  std::vector<TextRank> children;
  std::vector<Filter> filter;  // kFilter: exactly one
};

struct RankBy {
  enum class Kind : uint8_t { kNone, kVector, kAttribute, kText };
  Kind kind = Kind::kNone;
  std::string attr;  // "vector" for vector ranking; attribute for ordering
  // "ANN" (true): indexed segments are searched with their vector index (approximate);
  // "kNN" (false): exhaustive and exact.
  bool approximate = false;
  std::vector<float> vector;        // query vector
  bool descending = false;          // for attribute ordering
  std::vector<TextRank> text = {};  // kText: one expression; results carry its score
  std::shared_ptr<const TextRankBinding> text_binding = {};  // kText: set by binding
};

// include_attributes: true (all), false/absent (none but id), or a list.
struct AttributeSelection {
  bool all = false;
  std::vector<std::string> names;
};

enum class Consistency : uint8_t { kStrong, kEventual };

struct QueryRequest {
  RankBy rank_by;
  std::optional<Filter> filters;
  uint32_t top_k = 10;  // "top_k" or "limit"
  AttributeSelection include_attributes;
  std::vector<std::string> exclude_attributes;
  // aggregate_by: label -> aggregate; only ["Count"] so far.
  std::map<std::string, std::string> aggregate_by;
  std::vector<std::string> group_by;
  Consistency consistency = Consistency::kStrong;
  bool vector_encoding_base64 = false;  // response vectors as base64 f32
  // Gannet extension ("ann_recall"), for rank_by ANN only: the recall@10 the vector index
  // search aims for, in (0, 1]. Lower is faster; 1 probes every posting list. Unset: 0.95.
  std::optional<double> ann_recall;
};

// What a query cost: reported with every result.
struct QueryStats {
  uint64_t rows_scanned = 0;             // rows examined (segments + WAL tail)
  uint64_t exhaustive_search_count = 0;  // rows examined by exhaustive (non-index) search
  uint64_t tail_rows = 0;                // rows read from unindexed WAL entries
  uint64_t objects_fetched = 0;          // object-store GETs/HEADs/LISTs issued
  uint64_t round_trips = 0;              // sequential waves of object-store requests
  uint64_t bytes_read = 0;               // bytes fetched from the object store
  // Objects the query needed without an object-store request: reused from the previous
  // snapshot, or served by the memory or disk cache tier.
  uint64_t cache_hits = 0;
  uint64_t approx_namespace_size = 0;
  double query_execution_ms = 0;
  double total_ms = 0;
};

struct ResultRow {
  Id id;
  std::optional<double> dist;  // "$dist": distance for vector ranking, score for BM25
  std::vector<std::pair<std::string, Value>> attrs;
};

struct QueryResponse {
  std::vector<ResultRow> rows;
  // For aggregate_by without group_by: label -> value. With group_by: one row per group,
  // each holding the group_by attributes plus the aggregate labels.
  std::map<std::string, Value> aggregations;
  std::vector<std::vector<std::pair<std::string, Value>>> aggregation_groups;
  QueryStats stats;
};

// Gannet extension of multi-queries ("rank_fusion"): one ranking fused from the
// sub-queries' rankings, for hybrid search (e.g. BM25 + vector) in one request on one
// snapshot.
//   rrf     score(id) = sum_i weight_i / (rank_constant + rank_i(id)), rank from 1
//   linear  score(id) = sum_i weight_i * norm_i(id), where norm_i scales sub-query i's
//           scores to [0, 1] by min-max over its rows (1 = its best row); distances
//           count lower-better, BM25 scores higher-better, other orders by rank
// Sub-queries must rank (not aggregate). A row missing from a sub-query contributes 0.
struct RankFusion {
  enum class Method : uint8_t { kRrf, kLinear };
  Method method = Method::kRrf;
  double rank_constant = 60;
  std::vector<double> weights;  // one per sub-query (>= 0); missing ones count 1
  uint32_t top_k = 10;
};

// The fused ranking of `responses` (the results of `queries`, in order): rows ordered
// by fused score (in `dist`), ties by id, at most fusion.top_k. Each row's attributes
// come from the first sub-query that returned it.
std::vector<ResultRow> FuseRankings(const std::vector<QueryRequest>& queries,
                                    const std::vector<QueryResponse>& responses,
                                    const RankFusion& fusion);

}  // namespace gannet
