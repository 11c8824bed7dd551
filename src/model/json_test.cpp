#include "gannet/json.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "model/base64.h"

namespace gannet {
namespace {

using nlohmann::json;

void ExpectError(const Status& s, std::string_view needle) {
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find(needle), std::string::npos)
      << "message '" << s.message() << "' lacks '" << needle << "'";
}

TEST(Base64Test, RoundTripsAndRejectsGarbage) {
  for (std::string s : {"", "a", "ab", "abc", "abcd", "hello world"}) {
    auto d = model::Base64Decode(model::Base64Encode(s));
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(*d, s);
  }
  EXPECT_EQ(model::Base64Encode("hello"), "aGVsbG8=");
  EXPECT_EQ(*model::Base64Decode("aGVsbG8"), "hello");  // unpadded
  EXPECT_FALSE(model::Base64Decode("aGVs*G8=").ok());
  EXPECT_FALSE(model::Base64Decode("a").ok());
  std::vector<float> v = {1.0f, -2.5f, 3.25f};
  auto back = model::DecodeBase64Floats(model::EncodeBase64Floats(v));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, v);
  // 1.0f little-endian: 00 00 80 3f.
  EXPECT_EQ(model::EncodeBase64Floats({1.0f}), "AACAPw==");
  EXPECT_FALSE(model::DecodeBase64Floats("AACA").ok());  // 3 bytes
}

TEST(ParseWriteRequestTest, UpsertRows) {
  auto r = ParseWriteRequest(R"({
    "upsert_rows": [
      {"id": 1, "vector": [0.1, 0.2], "name": "foo", "n": -3, "big": 18446744073709551615,
       "f": 1.5, "ok": true, "tags": ["a", "b"], "gone": null},
      {"id": "doc-2", "vector": "AACAPwAAAEA="}
    ],
    "distance_metric": "cosine_distance",
    "return_affected_ids": true
  })");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->upserts.size(), 2u);
  const Document& d = r->upserts[0];
  EXPECT_EQ(d.id, Id(uint64_t{1}));
  ASSERT_NE(d.Find("vector"), nullptr);
  EXPECT_EQ(d.Find("vector")->kind(), Value::Kind::kVector);
  EXPECT_EQ(d.Find("vector")->as_vector(), (std::vector<float>{0.1f, 0.2f}));
  EXPECT_EQ(d.Find("name")->as_string(), "foo");
  EXPECT_EQ(d.Find("n")->as_int(), -3);
  EXPECT_EQ(d.Find("big")->kind(), Value::Kind::kUint);
  EXPECT_EQ(d.Find("big")->as_uint(), UINT64_MAX);
  EXPECT_EQ(d.Find("f")->as_float(), 1.5);
  EXPECT_TRUE(d.Find("ok")->as_bool());
  EXPECT_EQ(d.Find("tags")->as_array().size(), 2u);
  EXPECT_EQ(d.Find("gone"), nullptr);  // null in an upsert: absent
  EXPECT_EQ(r->upserts[1].id, Id(std::string("doc-2")));
  EXPECT_EQ(r->upserts[1].Find("vector")->as_vector(), (std::vector<float>{1.0f, 2.0f}));
  EXPECT_EQ(r->distance_metric, DistanceMetric::kCosineDistance);
  EXPECT_TRUE(r->return_affected_ids);
}

TEST(ParseWriteRequestTest, SmallPositiveIntegersAreInts) {
  auto r = ParseWriteRequest(R"({"upsert_rows": [{"id": 1, "n": 5}]})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->upserts[0].Find("n")->kind(), Value::Kind::kInt);
}

TEST(ParseWriteRequestTest, UpsertColumns) {
  auto r = ParseWriteRequest(R"({
    "upsert_columns": {"id": [1, 2, 3], "vector": [[1, 2], [3, 4], [5, 6]],
                       "name": ["a", null, "c"]}
  })");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->upserts.size(), 3u);
  EXPECT_EQ(r->upserts[2].id, Id(uint64_t{3}));
  EXPECT_EQ(r->upserts[1].Find("name"), nullptr);
  EXPECT_EQ(r->upserts[2].Find("name")->as_string(), "c");
  EXPECT_EQ(r->upserts[1].Find("vector")->as_vector(), (std::vector<float>{3, 4}));
}

TEST(ParseWriteRequestTest, ColumnLengthMismatchNamesColumn) {
  auto r = ParseWriteRequest(R"({"upsert_columns": {"id": [1, 2], "name": ["a"]}})");
  ExpectError(r.status(), "upsert_columns.name: expected 2 values");
  r = ParseWriteRequest(R"({"patch_columns": {"name": ["a"]}})");
  ExpectError(r.status(), "patch_columns: missing \"id\"");
}

TEST(ParseWriteRequestTest, PatchNullMeansRemove) {
  auto r = ParseWriteRequest(R"({"patch_rows": [{"id": 1, "name": null, "x": 2}],
                                 "patch_columns": {"id": [2], "y": [null]}})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->patches.size(), 2u);
  const Document& rows = r->patches[0].id == Id(uint64_t{1}) ? r->patches[0] : r->patches[1];
  const Document& cols = r->patches[0].id == Id(uint64_t{1}) ? r->patches[1] : r->patches[0];
  ASSERT_NE(rows.Find("name"), nullptr);
  EXPECT_TRUE(rows.Find("name")->is_null());
  EXPECT_EQ(rows.Find("x")->as_int(), 2);
  ASSERT_NE(cols.Find("y"), nullptr);
  EXPECT_TRUE(cols.Find("y")->is_null());
}

TEST(ParseWriteRequestTest, DeletesFiltersConditionsSchema) {
  auto r = ParseWriteRequest(R"({
    "deletes": [4, "x"],
    "delete_by_filter": ["page_id", "Eq", 123],
    "upsert_condition": ["Or", [["updated_at", "Lt", {"$ref_new": "updated_at"}],
                                ["updated_at", "Eq", null]]],
    "patch_condition": ["id", "Eq", null],
    "delete_condition": ["Not", ["a", "Eq", 1]],
    "schema": {"id": "uuid", "text": {"type": "string", "full_text_search": true},
               "permissions": "[]uuid", "blob": {"type": "string", "filterable": false}}
  })");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->deletes.size(), 2u);
  EXPECT_EQ(r->deletes[1], Id(std::string("x")));
  ASSERT_TRUE(r->delete_by_filter);
  EXPECT_EQ(r->delete_by_filter->op, Filter::Op::kEq);
  EXPECT_EQ(r->delete_by_filter->attr, "page_id");
  EXPECT_EQ(r->delete_by_filter->value.as_int(), 123);
  ASSERT_TRUE(r->upsert_condition);
  EXPECT_EQ(r->upsert_condition->op, Filter::Op::kOr);
  ASSERT_EQ(r->upsert_condition->children.size(), 2u);
  EXPECT_EQ(r->upsert_condition->children[0].ref_new, "updated_at");
  EXPECT_TRUE(r->upsert_condition->children[1].value.is_null());
  EXPECT_EQ(r->delete_condition->op, Filter::Op::kNot);
  ASSERT_TRUE(r->schema);
  EXPECT_EQ(r->schema->id_type, ScalarType::kUuid);
  const AttributeSchema* text = r->schema->Find("text");
  ASSERT_NE(text, nullptr);
  EXPECT_EQ(text->full_text_search, "true");
  EXPECT_FALSE(text->filterable);  // full-text attributes default to not filterable
  EXPECT_EQ(r->schema->Find("permissions")->type, AttrType::Array(ScalarType::kUuid));
  EXPECT_TRUE(r->schema->Find("permissions")->filterable);
  EXPECT_FALSE(r->schema->Find("blob")->filterable);
}

TEST(ParseWriteRequestTest, ErrorsNameThePathAndReason) {
  ExpectError(ParseWriteRequest(R"({"upsert_rows": [{"id": 1}, {"id": 2}, {"id": 1.5}]})").status(),
              "upsert_rows[2].id: expected integer or string, got float");
  ExpectError(ParseWriteRequest(R"({"upsert_rows": [{"id": -1}]})").status(),
              "upsert_rows[0].id: expected non-negative integer or string");
  ExpectError(ParseWriteRequest(R"({"upsert_rows": [{"x": 1}]})").status(),
              "upsert_rows[0]: missing \"id\"");
  ExpectError(ParseWriteRequest(R"({"upsert_rows": {"id": 1}})").status(),
              "upsert_rows: expected array of row objects, got object");
  ExpectError(ParseWriteRequest(R"({"upsert_rows": [{"id": 1, "v": {"a": 1}}]})").status(),
              "upsert_rows[0].v: expected a value (not an object), got object");
  ExpectError(ParseWriteRequest(R"({"upsert_rows": [{"id": 1, "v": [[1]]}]})").status(),
              "upsert_rows[0].v[0]: nested arrays are not supported");
  ExpectError(ParseWriteRequest(R"({"upsert_rows": [{"id": 1, "v": [1, null]}]})").status(),
              "upsert_rows[0].v[1]: null is not allowed inside an array");
  ExpectError(ParseWriteRequest(R"({"upsert_rows": [{"id": 1, "vector": [1, "a"]}]})").status(),
              "upsert_rows[0].vector[1]: expected number, got string");
  ExpectError(ParseWriteRequest(R"({"upsert_rows": [{"id": 1, "vector": "!!"}]})").status(),
              "upsert_rows[0].vector: invalid base64");
  ExpectError(ParseWriteRequest(R"({"upsert_rows": [], "frobnicate": 1})").status(),
              "frobnicate: unknown field");
  ExpectError(ParseWriteRequest(R"({"distance_metric": "dot"})").status(), "distance_metric");
  ExpectError(ParseWriteRequest(R"({"return_affected_ids": "yes"})").status(),
              "return_affected_ids: expected bool, got string");
  ExpectError(ParseWriteRequest(R"({"deletes": [1, true]})").status(),
              "deletes[1]: expected integer or string, got bool");
  ExpectError(ParseWriteRequest(R"([1])").status(), "request: expected object, got array");
}

TEST(ParseWriteRequestTest, StringIdsOver64BytesRejected) {
  const std::string ok(64, 'a'), bad(65, 'a');
  EXPECT_TRUE(ParseWriteRequest(R"({"deletes": [")" + ok + R"("]})").ok());
  ExpectError(ParseWriteRequest(R"({"deletes": [")" + bad + R"("]})").status(),
              "deletes[0]: string id is 65 bytes");
}

TEST(ParseWriteRequestTest, MalformedJsonReportsParserMessage) {
  auto r = ParseWriteRequest(R"({"upsert_rows": [)");
  ExpectError(r.status(), "malformed JSON");
  r = ParseWriteRequest("");
  ExpectError(r.status(), "malformed JSON");
  r = ParseWriteRequest("{\"a\": \"\xff\"}");  // invalid UTF-8
  ExpectError(r.status(), "malformed JSON");
}

// Regression guard: deeply nested input must fail cleanly, not overflow the stack.
TEST(ParseWriteRequestTest, DeepNestingRejectedWithoutCrash) {
  std::string deep =
      "{\"delete_by_filter\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
  ExpectError(ParseWriteRequest(deep).status(), "nesting deeper");
}

TEST(ParseFilterTest, AllOperatorsParse) {
  for (const char* op : {"Eq", "NotEq", "Lt", "Lte", "Gt", "Gte", "Contains", "NotContains"}) {
    auto f = ParseFilter(std::string(R"(["a", ")") + op + R"(", 1])");
    ASSERT_TRUE(f.ok()) << op << f.status().ToString();
    EXPECT_EQ(FilterOpName(f->op), op);
  }
  for (const char* op : {"In", "NotIn", "ContainsAny", "NotContainsAny"}) {
    auto f = ParseFilter(std::string(R"(["a", ")") + op + R"(", [1, 2]])");
    ASSERT_TRUE(f.ok()) << op;
    EXPECT_EQ(f->value.as_array().size(), 2u);
  }
  for (const char* op : {"Glob", "NotGlob", "IGlob", "NotIGlob"}) {
    auto f = ParseFilter(std::string(R"(["a", ")") + op + R"(", "x*"])");
    ASSERT_TRUE(f.ok()) << op;
  }
}

TEST(ParseFilterTest, Errors) {
  ExpectError(ParseFilter(R"(["a", "Foo", 1])").status(),
              "filters[1]: unknown filter operator 'Foo'");
  ExpectError(ParseFilter(R"(["a", "Regex", "x"])").status(), "not supported yet");
  ExpectError(ParseFilter(R"(["a", "In", 1])").status(),
              "filters[2]: operator In expects an array");
  ExpectError(ParseFilter(R"(["a", "Glob", 1])").status(), "expects a glob pattern string");
  ExpectError(ParseFilter(R"(["And", [["a", "Eq"]]])").status(), "filters[1][0]");
  ExpectError(ParseFilter(R"(["And", ["a", "Eq", 1]])").status(),
              "filters[1][0]: expected filter array");
  ExpectError(ParseFilter(R"(["a", "Eq", {"$ref": "b"}])").status(), "filters[2]");
  ExpectError(ParseFilter(R"({})").status(), "filters: expected filter array");
  ExpectError(ParseFilter(R"(["Not", ["a","Eq",1], ["b","Eq",2]])").status(), "Not");
}

TEST(ParseFilterTest, DepthLimit) {
  auto nest = [](int levels) {
    std::string s;
    for (int i = 0; i < levels; ++i) s += R"(["Not", )";
    s += R"(["a", "Eq", 1])";
    for (int i = 0; i < levels; ++i) s += "]";
    return s;
  };
  EXPECT_TRUE(ParseFilter(nest(63)).ok());
  ExpectError(ParseFilter(nest(64)).status(), "filter nesting deeper than 64");
}

TEST(ParseQueryRequestTest, VectorQuery) {
  auto q = ParseQueryRequest(R"({
    "rank_by": ["vector", "ANN", [0.1, 0.2]], "top_k": 5,
    "filters": ["And", [["id", "Gte", 1000], ["tags", "ContainsAny", ["a"]]]],
    "include_attributes": ["a", "b"], "consistency": {"level": "eventual"},
    "vector_encoding": "base64"
  })");
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(q->rank_by.kind, RankBy::Kind::kVector);
  EXPECT_EQ(q->rank_by.attr, "vector");
  EXPECT_TRUE(q->rank_by.approximate);
  EXPECT_EQ(q->rank_by.vector, (std::vector<float>{0.1f, 0.2f}));
  EXPECT_EQ(q->top_k, 5u);
  ASSERT_TRUE(q->filters);
  EXPECT_EQ(q->filters->children.size(), 2u);
  EXPECT_FALSE(q->include_attributes.all);
  EXPECT_EQ(q->include_attributes.names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(q->consistency, Consistency::kEventual);
  EXPECT_TRUE(q->vector_encoding_base64);
}

TEST(ParseQueryRequestTest, KnnBase64OrderByLimitForms) {
  auto q = ParseQueryRequest(R"({"rank_by": ["vector", "kNN", "AACAPw=="], "limit": 7})");
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_FALSE(q->rank_by.approximate);
  EXPECT_EQ(q->rank_by.vector, (std::vector<float>{1.0f}));
  EXPECT_EQ(q->top_k, 7u);
  q = ParseQueryRequest(R"({"rank_by": ["ts", "desc"], "limit": {"total": 3},
                            "include_attributes": true})");
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(q->rank_by.kind, RankBy::Kind::kAttribute);
  EXPECT_EQ(q->rank_by.attr, "ts");
  EXPECT_TRUE(q->rank_by.descending);
  EXPECT_EQ(q->top_k, 3u);
  EXPECT_TRUE(q->include_attributes.all);
  q = ParseQueryRequest(R"({"rank_by": ["ts", "asc"], "exclude_attributes": ["vector"]})");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->top_k, 10u);  // default
  EXPECT_EQ(q->exclude_attributes, (std::vector<std::string>{"vector"}));
}

TEST(ParseQueryRequestTest, Aggregations) {
  auto q = ParseQueryRequest(R"({"aggregate_by": {"n": ["Count"]}, "group_by": ["color"],
                                 "filters": ["a", "Eq", 1]})");
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(q->aggregate_by.at("n"), "Count");
  EXPECT_EQ(q->group_by, (std::vector<std::string>{"color"}));
}

TEST(ParseQueryRequestTest, Errors) {
  ExpectError(ParseQueryRequest(R"({"top_k": 0})").status(), "top_k: must be between 1 and 10000");
  ExpectError(ParseQueryRequest(R"({"top_k": 10001})").status(), "top_k: must be between");
  ExpectError(ParseQueryRequest(R"({"limit": {"total": 5, "per": {}}})").status(), "limit.per");
  ExpectError(ParseQueryRequest(R"({"top_k": 1, "limit": 2})").status(),
              "only one of top_k and limit");
  ExpectError(ParseQueryRequest(R"({"rank_by": ["text", "BM25", 3]})").status(),
              "rank_by: expected [\"text\", \"BM25\", \"query text\"]");
  ExpectError(ParseQueryRequest(R"({"rank_by": ["Sum", []]})").status(),
              "rank_by: expected [\"Sum\", [expr, ...]] with at least one expression");
  ExpectError(ParseQueryRequest(R"({"rank_by": ["Product", [2, ["t", "BM26", "x"]]]})").status(),
              "rank_by[1][1][1]: expected \"BM25\" or a filter operator");
  ExpectError(ParseQueryRequest(R"({"filters": ["t", "Eq", "x", {"last_as_prefix": true}]})")
                  .status(),
              "got 4 elements");
  ExpectError(ParseQueryRequest(R"({"filters": ["t", "ContainsAllTokens", "x", {"p": 1}]})")
                  .status(),
              "filters[3].p: unknown option (supported: last_as_prefix)");
  ExpectError(ParseQueryRequest(R"({"rank_by": ["vector", "ANN", ["x"]]})").status(),
              "rank_by[2][0]: expected number, got string");
  ExpectError(ParseQueryRequest(R"({"rank_by": ["a", "sideways"]})").status(),
              "unknown ranking function 'sideways'");
  ExpectError(
      ParseQueryRequest(R"({"include_attributes": true, "exclude_attributes": ["a"]})").status(),
      "exclude_attributes");
  ExpectError(ParseQueryRequest(R"({"aggregate_by": {"n": ["Avg"]}})").status(), "aggregate_by.n");
  ExpectError(ParseQueryRequest(R"({"group_by": ["a"]})").status(),
              "group_by: requires aggregate_by");
  ExpectError(ParseQueryRequest(R"({"consistency": {"level": "weak"}})").status(),
              "consistency.level");
  ExpectError(ParseQueryRequest(R"({"vector_encoding": "hex"})").status(), "vector_encoding");
  ExpectError(ParseQueryRequest(R"({"bogus": 1})").status(), "bogus: unknown field");
  ExpectError(ParseQueryRequest(R"({"filters": ["a", "Eq"]})").status(), "filters");
}

TEST(SchemaJsonTest, RoundTrips) {
  auto s = ParseSchema(R"({"id": {"type": "string"}, "v": {"type": "[3]f16", "ann": true},
                           "t": {"type": "[]string", "full_text_search": {"stemming": true},
                                 "filterable": true}, "n": "int"})");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->id_type, ScalarType::kString);
  EXPECT_EQ(s->Find("v")->type, AttrType::Vector(3, VectorElem::kF16));
  EXPECT_TRUE(s->Find("t")->filterable);
  EXPECT_EQ(s->Find("t")->full_text_search, R"({"stemming":true})");
  auto again = ParseSchema(SchemaToJson(*s));
  ASSERT_TRUE(again.ok()) << again.status().ToString() << SchemaToJson(*s);
  EXPECT_EQ(*again, *s);
}

TEST(SchemaJsonTest, Errors) {
  ExpectError(ParseSchema(R"({"a": "strng"})").status(), "schema.a: invalid type");
  ExpectError(ParseSchema(R"({"a": {"filterable": true}})").status(), "schema.a: missing \"type\"");
  ExpectError(ParseSchema(R"({"a": {"type": "int", "full_text_search": true}})").status(),
              "schema.a.full_text_search: requires type string or []string");
  ExpectError(ParseSchema(R"({"a": {"type": "int", "colour": 1}})").status(), "schema.a.colour");
  ExpectError(ParseSchema(R"({"id": "int"})").status(),
              "schema.id: id type must be uint, uuid or string");
}

TEST(ResponseJsonTest, WriteResponse) {
  WriteResponse r;
  r.rows_affected = 3;
  r.rows_upserted = 2;
  r.rows_deleted = 1;
  r.upserted_ids = std::vector<Id>{Id(uint64_t{1}), Id(std::string("b"))};
  json j = json::parse(WriteResponseToJson(r));
  EXPECT_EQ(j["status"], "OK");
  EXPECT_EQ(j["rows_affected"], 3);
  EXPECT_EQ(j["rows_upserted"], 2);
  EXPECT_EQ(j["rows_patched"], 0);
  EXPECT_EQ(j["rows_deleted"], 1);
  EXPECT_EQ(j["upserted_ids"], json::parse(R"([1, "b"])"));
  EXPECT_FALSE(j.contains("deleted_ids"));
}

TEST(ResponseJsonTest, QueryResponseRowsAndPerformance) {
  QueryResponse r;
  ResultRow row;
  row.id = Id(uint64_t{8});
  row.dist = 0.25;
  row.attrs = {{"t", Value::Time(Datetime{0})},
               {"u", Value::FromUuid(*Uuid::Parse("769c134d-07b8-4225-954a-b6cc5ffc320c"))},
               {"vector", Value::Vector({1.0f, 0.1f})},
               {"x", Value::Float(2.0)}};
  r.rows.push_back(row);
  r.stats.total_ms = 3.6;
  r.stats.rows_scanned = 10;
  r.stats.cache_hits = 3;
  r.stats.objects_fetched = 1;
  json j = json::parse(QueryResponseToJson(r));
  ASSERT_EQ(j["rows"].size(), 1u);
  EXPECT_EQ(j["rows"][0]["id"], 8);
  EXPECT_EQ(j["rows"][0]["$dist"], 0.25);
  EXPECT_EQ(j["rows"][0]["t"], "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(j["rows"][0]["u"], "769c134d-07b8-4225-954a-b6cc5ffc320c");
  EXPECT_EQ(j["rows"][0]["vector"][1].get<double>(), 0.1);  // shortest f32 form "0.1"
  EXPECT_TRUE(j["rows"][0]["x"].is_number_float());         // 2.0 stays a float
  EXPECT_EQ(j["performance"]["server_total_ms"], 4);
  EXPECT_EQ(j["performance"]["rows_scanned"], 10);
  EXPECT_EQ(j["performance"]["cache_hit_ratio"], 0.75);
  EXPECT_TRUE(j["performance"].contains("exhaustive_search_count"));
  EXPECT_TRUE(j["performance"].contains("approx_namespace_size"));
  EXPECT_TRUE(j["performance"].contains("query_execution_ms"));
  EXPECT_TRUE(j.contains("billing"));
  EXPECT_FALSE(j.contains("aggregations"));

  json b = json::parse(QueryResponseToJson(r, /*vector_base64=*/true));
  ASSERT_TRUE(b["rows"][0]["vector"].is_string());
  auto v = model::DecodeBase64Floats(b["rows"][0]["vector"].get<std::string>());
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, (std::vector<float>{1.0f, 0.1f}));
}

TEST(ResponseJsonTest, Aggregations) {
  QueryResponse r;
  r.aggregations["n"] = Value::Int(42);
  json j = json::parse(QueryResponseToJson(r));
  EXPECT_EQ(j["aggregations"]["n"], 42);
  EXPECT_FALSE(j.contains("rows"));
  QueryResponse g;
  g.aggregation_groups.push_back({{"color", Value::String("blue")}, {"n", Value::Int(2)}});
  j = json::parse(QueryResponseToJson(g));
  EXPECT_EQ(j["aggregation_groups"][0]["color"], "blue");
  EXPECT_EQ(j["aggregation_groups"][0]["n"], 2);
}

TEST(ValueJsonTest, Printing) {
  EXPECT_EQ(ValueToJson(Value()), "null");
  EXPECT_EQ(ValueToJson(Value::Int(-5)), "-5");
  EXPECT_EQ(ValueToJson(Value::Uint(UINT64_MAX)), "18446744073709551615");
  EXPECT_EQ(ValueToJson(Value::Float(0.1)), "0.1");
  EXPECT_EQ(ValueToJson(Value::Float(3)), "3.0");
  EXPECT_EQ(ValueToJson(Value::Float(std::nan(""))), "null");
  EXPECT_EQ(ValueToJson(Value::String("a\"b\\\n\x01")), R"("a\"b\\\n\u0001")");
  EXPECT_EQ(ValueToJson(Value::Array({Value::Int(1), Value::Bool(true)})), "[1,true]");
  EXPECT_EQ(IdToJson(Id(uint64_t{7})), "7");
  EXPECT_EQ(IdToJson(Id(std::string("x"))), "\"x\"");
  Document d;
  d.id = Id(uint64_t{1});
  d.Set("a", Value::String("z"));
  EXPECT_EQ(DocumentToJson(d), R"({"id":1,"a":"z"})");
}

// Regression guard: invalid UTF-8 from C++ callers must still yield valid JSON.
TEST(ValueJsonTest, InvalidUtf8IsReplaced) {
  std::string out = ValueToJson(Value::String("ok\xff\xc3("));
  EXPECT_NO_THROW({ auto j = json::parse(out); });
  EXPECT_EQ(ValueToJson(Value::String("h\xc3\xa9")), "\"h\xc3\xa9\"");  // valid é kept
}

}  // namespace
}  // namespace gannet

namespace gannet {
namespace {

TEST(QueryBodyTest, SingleAndMultiQuery) {
  auto single = ParseQueryBody(R"({"rank_by": ["id", "asc"], "top_k": 3})");
  ASSERT_TRUE(single.ok()) << single.status().ToString();
  EXPECT_FALSE(single->multi);
  ASSERT_EQ(single->queries.size(), 1u);
  EXPECT_EQ(single->queries[0].top_k, 3u);

  auto multi = ParseQueryBody(
      R"({"queries": [{"rank_by": ["id", "asc"], "top_k": 2},
                      {"aggregate_by": {"n": ["Count"]}}],
          "consistency": {"level": "eventual"}, "vector_encoding": "base64"})");
  ASSERT_TRUE(multi.ok()) << multi.status().ToString();
  EXPECT_TRUE(multi->multi);
  ASSERT_EQ(multi->queries.size(), 2u);
  for (const QueryRequest& q : multi->queries) {
    EXPECT_EQ(q.consistency, Consistency::kEventual);
    EXPECT_TRUE(q.vector_encoding_base64);
  }
  EXPECT_EQ(multi->queries[1].aggregate_by.at("n"), "Count");
}

TEST(QueryBodyTest, MultiQueryErrorsNameTheField) {
  auto bad = ParseQueryBody(R"({"queries": [{"top_k": 1}, {"top_k": "x"}]})");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.status().IsInvalidArgument());
  EXPECT_NE(bad.status().message().find("queries[1]: top_k"), std::string::npos)
      << bad.status().message();
  EXPECT_FALSE(ParseQueryBody(R"({"queries": []})").ok());
  EXPECT_FALSE(ParseQueryBody(R"({"queries": {}})").ok());
  EXPECT_FALSE(ParseQueryBody(R"({"queries": [{}], "bogus": 1})").ok());
  EXPECT_FALSE(
      ParseQueryBody(R"({"queries": [{"consistency": {"level": "strong"}}],
                         "consistency": {"level": "strong"}})")
          .ok());
  std::string many = R"({"queries": [)";
  for (int i = 0; i < 17; ++i) many += std::string(i ? "," : "") + "{}";
  many += "]}";
  EXPECT_FALSE(ParseQueryBody(many).ok());
}

TEST(QueryBodyTest, RerankByRrfAndFusionAreChecked) {
  const std::string qs = R"("queries": [{"rank_by": ["id", "asc"]}, {"rank_by": ["id", "desc"]}])";
  auto ok = ParseQueryBody("{" + qs +
                           R"(, "rerank_by": ["RRF", {"rank_constant": 5, "weights": [1, 2]}],
                              "limit": 4, "offset": 1})");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_TRUE(ok->rerank);
  EXPECT_EQ(ok->fusion->rank_constant, 5);
  EXPECT_EQ(ok->fusion->top_k, 4u);
  EXPECT_EQ(ok->offset, 1u);
  auto msg = [&](const std::string& rest) {
    auto r = ParseQueryBody("{" + qs + rest + "}");
    return r.ok() ? std::string("ok") : r.status().message();
  };
  EXPECT_EQ(msg(R"(, "rerank_by": ["MMR"])"),
            "rerank_by[0]: unsupported reranker 'MMR' (supported: RRF)");
  EXPECT_EQ(msg(R"(, "limit": 3)"), "limit: requires rerank_by");
  EXPECT_EQ(msg(R"(, "rerank_by": ["RRF"], "offset": 3)"), "offset: requires limit");
  EXPECT_EQ(msg(R"(, "rerank_by": ["RRF", {"weights": [1]}])"),
            "rerank_by[1].weights: expected one weight per query (2), got 1");
  EXPECT_EQ(msg(R"(, "rerank_by": ["RRF"], "rank_fusion": {})"),
            "rank_fusion: cannot be combined with rerank_by");
  EXPECT_EQ(msg(R"(, "rank_fusion": {"method": "max"})"),
            "rank_fusion.method: expected \"rrf\" or \"linear\", got string");
}

TEST(QueryBodyTest, MultiQueryResponseShape) {
  QueryResponse a;
  a.rows.push_back(ResultRow{Id(uint64_t{1}), 0.5, {}});
  a.stats.rows_scanned = 3;
  QueryResponse b;
  b.aggregations["n"] = Value::Uint(7);
  b.stats.rows_scanned = 4;
  auto j = nlohmann::json::parse(MultiQueryResponseToJson({a, b}));
  ASSERT_EQ(j["results"].size(), 2u);
  EXPECT_EQ(j["results"][0]["rows"][0]["id"], 1);
  EXPECT_EQ(j["results"][0]["rows"][0]["$dist"], 0.5);
  EXPECT_EQ(j["results"][1]["aggregations"]["n"], 7);
  EXPECT_FALSE(j["results"][1].contains("rows"));
  EXPECT_EQ(j["performance"]["rows_scanned"], 7);
  EXPECT_TRUE(j.contains("billing"));
}

}  // namespace
}  // namespace gannet
