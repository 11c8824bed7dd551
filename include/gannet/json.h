// JSON codec for the request model (gannet/request.h), following turbopuffer's v2 API.
//
// Parsing checks shape and syntax and names the offending field in InvalidArgument
// ("upsert_rows[3].price: ..."); type checking against a namespace's schema happens at
// write time (the schema may change between parse and commit).
//
// Thread safety: free functions without shared state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gannet/request.h"

namespace gannet {

// POST /v2/namespaces/{ns} body: upsert_rows, upsert_columns, patch_rows, patch_columns,
// deletes, delete_by_filter, *_condition, distance_metric, schema, return_affected_ids.
Result<WriteRequest> ParseWriteRequest(std::string_view json);

// POST /v2/namespaces/{ns}/query body (a single query; not `queries[]`).
Result<QueryRequest> ParseQueryRequest(std::string_view json);

// POST /v2/namespaces/{ns}/query body, either form: a single query (multi = false, one
// entry) or a multi-query {"queries": [...], "consistency": ..., "vector_encoding": ...}
// (multi = true; the top-level options are copied into every sub-query; errors in a
// sub-query are prefixed "queries[i]: ").
struct QueryBody {
  std::vector<QueryRequest> queries;
  bool multi = false;
  // Multi-queries only. turbopuffer's `rerank_by: ["RRF", {"rank_constant": 60,
  // "weights": [...]}]` with `limit` (default 10) and `offset`: the response's results are
  // one result, the fused rows (rerank = true). Or Gannet's `rank_fusion: {"method":
  // "rrf"|"linear", "rank_constant", "weights", "top_k"}`: the per-query results plus
  // "fused" rows.
  std::optional<RankFusion> fusion;
  bool rerank = false;
  uint32_t offset = 0;  // rerank: fused rows skipped before the limit
};
Result<QueryBody> ParseQueryBody(std::string_view json);

// A filter expression alone, e.g. ["And", [["a","Eq",1], ["b","Gt",2]]].
Result<Filter> ParseFilter(std::string_view json);

// {"attr": {"type": "string", "filterable": true, "full_text_search": ...}, ...}
// plus optional "id": {"type": "uint"|"uuid"|"string"}.
Result<Schema> ParseSchema(std::string_view json);
std::string SchemaToJson(const Schema& schema);

// A JSON document as a stream of events in document order: what the response writers
// emit. The serializer behind the *ToJson functions is one consumer; the Python binding
// builds its objects from the same events, so both see the same document. Every Key is
// followed by exactly one value (a scalar, or Begin ... End).
class JsonEvents {
 public:
  virtual ~JsonEvents() = default;
  virtual void BeginObject() = 0;
  virtual void EndObject() = 0;
  virtual void BeginArray() = 0;
  virtual void EndArray() = 0;
  virtual void Key(std::string_view key) = 0;
  virtual void Null() = 0;
  virtual void Bool(bool b) = 0;
  virtual void Int(int64_t v) = 0;
  virtual void Uint(uint64_t v) = 0;
  virtual void Double(double d) = 0;  // the serializer writes non-finite values as null
  virtual void Float(float f) = 0;    // a vector element; likewise
  // UTF-8 as stored; the serializer replaces invalid sequences with U+FFFD.
  virtual void String(std::string_view s) = 0;
};

std::string WriteResponseToJson(const WriteResponse& response);
// {"rows": [...], "aggregations": ..., "performance": {...}}.
std::string QueryResponseToJson(const QueryResponse& response, bool vector_base64 = false);

// {"results": [{"rows": [...]} | {"aggregations": ...}, ...], "performance": {...},
// "billing": {...}}: the response to a multi-query, results in request order; with
// `fused` (rank_fusion) also "fused": [rows], each "$dist" holding the fused score; with
// `fused_only` (rerank_by) "results" is the one fused result instead.
std::string MultiQueryResponseToJson(const std::vector<QueryResponse>& responses,
                                     bool vector_base64 = false,
                                     const std::vector<ResultRow>* fused = nullptr,
                                     bool fused_only = false);

// The response to a multi-query body: its results, fused as the body asks (rerank_by or
// rank_fusion, with offset applied). REQUIRES: responses answer body.queries in order.
std::string MultiQueryBodyResponseToJson(const QueryBody& body,
                                         const std::vector<QueryResponse>& responses,
                                         bool vector_base64 = false);

// The events of QueryResponseToJson and MultiQueryBodyResponseToJson.
void QueryResponseToEvents(const QueryResponse& response, bool vector_base64, JsonEvents& out);
void MultiQueryBodyResponseToEvents(const QueryBody& body,
                                    const std::vector<QueryResponse>& responses, bool vector_base64,
                                    JsonEvents& out);

// One document as a JSON object {"id": ..., "attr": ...}.
std::string DocumentToJson(const Document& doc);
std::string ValueToJson(const Value& value);
std::string IdToJson(const Id& id);

}  // namespace gannet
