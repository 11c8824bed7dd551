// JSON codec for the request model (gannet/request.h), following turbopuffer's v2 API.
//
// Parsing checks shape and syntax and names the offending field in InvalidArgument
// ("upsert_rows[3].price: ..."); type checking against a namespace's schema happens at
// write time (the schema may change between parse and commit).
//
// Thread safety: free functions without shared state.
#pragma once

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
  // Multi-queries only: {"rank_fusion": {"method": "rrf"|"linear", "rank_constant": 60,
  // "weights": [...], "top_k": 10}} (Gannet extension; see RankFusion).
  std::optional<RankFusion> fusion;
};
Result<QueryBody> ParseQueryBody(std::string_view json);

// A filter expression alone, e.g. ["And", [["a","Eq",1], ["b","Gt",2]]].
Result<Filter> ParseFilter(std::string_view json);

// {"attr": {"type": "string", "filterable": true, "full_text_search": ...}, ...}
// plus optional "id": {"type": "uint"|"uuid"|"string"}.
Result<Schema> ParseSchema(std::string_view json);
std::string SchemaToJson(const Schema& schema);

std::string WriteResponseToJson(const WriteResponse& response);
// {"rows": [...], "aggregations": ..., "performance": {...}}.
std::string QueryResponseToJson(const QueryResponse& response, bool vector_base64 = false);

// {"results": [{"rows": [...]} | {"aggregations": ...}, ...], "performance": {...},
// "billing": {...}}: the response to a multi-query, results in request order; with
// `fused` (rank_fusion) also "fused": [rows], each "$dist" holding the fused score.
std::string MultiQueryResponseToJson(const std::vector<QueryResponse>& responses,
                                     bool vector_base64 = false,
                                     const std::vector<ResultRow>* fused = nullptr);

// One document as a JSON object {"id": ..., "attr": ...}.
std::string DocumentToJson(const Document& doc);
std::string ValueToJson(const Value& value);
std::string IdToJson(const Id& id);

}  // namespace gannet
