#include "model/validate.h"

#include <gtest/gtest.h>

#include <limits>

#include "gannet/json.h"

namespace gannet::model {
namespace {

WriteRequest Parse(std::string_view json) {
  auto r = ParseWriteRequest(json);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : WriteRequest{};
}

// Validates a copy of `schema`, as callers must; returns the status and leaves `schema`
// updated only on success.
Status Validate(std::string_view json, Schema& schema) {
  WriteRequest req = Parse(json);
  Schema copy = schema;
  Status s = ValidateWrite(req, copy);
  if (s.ok()) schema = std::move(copy);
  return s;
}

void ExpectError(const Status& s, std::string_view needle) {
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find(needle), std::string::npos)
      << "message '" << s.message() << "' lacks '" << needle << "'";
}

TEST(ValidateTest, InfersTypesOnFirstWrite) {
  Schema schema;
  ASSERT_TRUE(Validate(R"({"upsert_rows": [{"id": 1, "vector": [1, 2, 3], "s": "x", "i": 5,
      "f": 1.5, "b": true, "tags": ["a"], "nums": [1, 2.5], "big": 18446744073709551615,
      "ids": [1, 2]}], "distance_metric": "euclidean_squared"})",
                       schema)
                  .ok());
  EXPECT_EQ(schema.id_type, ScalarType::kUint);
  EXPECT_EQ(schema.distance_metric, DistanceMetric::kEuclideanSquared);
  EXPECT_EQ(schema.Find("vector")->type, AttrType::Vector(3));
  EXPECT_EQ(schema.Find("s")->type, AttrType::Scalar(ScalarType::kString));
  EXPECT_EQ(schema.Find("i")->type, AttrType::Scalar(ScalarType::kInt));
  EXPECT_EQ(schema.Find("f")->type, AttrType::Scalar(ScalarType::kFloat));
  EXPECT_EQ(schema.Find("b")->type, AttrType::Scalar(ScalarType::kBool));
  EXPECT_EQ(schema.Find("tags")->type, AttrType::Array(ScalarType::kString));
  EXPECT_EQ(schema.Find("nums")->type, AttrType::Array(ScalarType::kFloat));
  EXPECT_EQ(schema.Find("big")->type, AttrType::Scalar(ScalarType::kUint));
  EXPECT_EQ(schema.Find("ids")->type, AttrType::Array(ScalarType::kInt));
}

TEST(ValidateTest, CoercesToDeclaredTypes) {
  Schema schema;
  WriteRequest req = Parse(R"({
    "upsert_rows": [{"id": "769c134d-07b8-4225-954a-b6cc5ffc320c", "when": "2024-01-02",
                     "price": 3, "owner": "95cdf8be-98a9-4061-8eeb-2702b6bbcb9e",
                     "perms": ["ee1f7c89-a3aa-43c1-8941-c987ee03e7bc"], "count": 4,
                     "emb": "AACAPwAAAEA=", "emb2": [1, 2]}],
    "schema": {"id": "uuid", "when": "datetime", "price": "float", "owner": "uuid",
               "perms": "[]uuid", "count": "uint", "emb": "[2]f32", "emb2": "[2]f16"}})");
  ASSERT_TRUE(ValidateWrite(req, schema).ok());
  const Document& d = req.upserts[0];
  EXPECT_TRUE(d.id.is_uuid());
  EXPECT_EQ(d.Find("when")->kind(), Value::Kind::kDatetime);
  EXPECT_EQ(d.Find("when")->as_datetime().ms, 1704153600000);
  EXPECT_EQ(d.Find("price")->kind(), Value::Kind::kFloat);
  EXPECT_EQ(d.Find("owner")->kind(), Value::Kind::kUuid);
  EXPECT_EQ(d.Find("perms")->as_array()[0].kind(), Value::Kind::kUuid);
  EXPECT_EQ(d.Find("count")->kind(), Value::Kind::kUint);
  EXPECT_EQ(d.Find("emb")->as_vector(), (std::vector<float>{1.0f, 2.0f}));
  EXPECT_EQ(d.Find("emb2")->kind(), Value::Kind::kVector);
}

TEST(ValidateTest, IntWidensToFloatInLaterWrites) {
  Schema schema;
  ASSERT_TRUE(Validate(R"({"upsert_rows": [{"id": 1, "p": 1.5}]})", schema).ok());
  WriteRequest req = Parse(R"({"upsert_rows": [{"id": 2, "p": 2}]})");
  ASSERT_TRUE(ValidateWrite(req, schema).ok());
  EXPECT_EQ(req.upserts[0].Find("p")->kind(), Value::Kind::kFloat);
  EXPECT_EQ(req.upserts[0].Find("p")->as_float(), 2.0);
}

TEST(ValidateTest, TypeMismatchNamesRowAttributeExpectedActual) {
  Schema schema;
  ASSERT_TRUE(
      Validate(R"({"upsert_rows": [{"id": 1, "price": 1.5, "tags": ["a"]}]})", schema).ok());
  ExpectError(Validate(R"({"upsert_rows": [{"id": 7, "price": "cheap"}]})", schema),
              "upsert id=7: attribute 'price': expected float, got string");
  ExpectError(Validate(R"({"upsert_rows": [{"id": 7, "tags": "a"}]})", schema),
              "upsert id=7: attribute 'tags': expected []string, got string");
  ExpectError(Validate(R"({"upsert_rows": [{"id": 7, "tags": ["a", 1]}]})", schema),
              "upsert id=7: attribute 'tags': expected []string, got array with int at index 1");
  ExpectError(Validate(R"({"patch_rows": [{"id": 8, "price": true}]})", schema),
              "patch id=8: attribute 'price': expected float, got bool");
}

TEST(ValidateTest, InferenceWithinOneRequestIsStrict) {
  Schema schema;
  ExpectError(Validate(R"({"upsert_rows": [{"id": 1, "a": 1}, {"id": 2, "a": "x"}]})", schema),
              "upsert id=2: attribute 'a': expected int, got string");
  EXPECT_TRUE(schema.attributes.empty());  // nothing applied
}

TEST(ValidateTest, IntRejectsFloatAndUintRejectsNegative) {
  Schema schema;
  schema.attributes["n"].type = AttrType::Scalar(ScalarType::kInt);
  schema.attributes["u"].type = AttrType::Scalar(ScalarType::kUint);
  ExpectError(Validate(R"({"upsert_rows": [{"id": 1, "n": 1.5}]})", schema),
              "attribute 'n': expected int, got float");
  ExpectError(Validate(R"({"upsert_rows": [{"id": 1, "u": -1}]})", schema),
              "attribute 'u': expected uint, got negative int -1");
  ExpectError(Validate(R"({"upsert_rows": [{"id": 1, "n": 18446744073709551615}]})", schema),
              "attribute 'n': expected int, got uint");
}

TEST(ValidateTest, BadDatetimeAndUuidStrings) {
  Schema schema;
  schema.attributes["d"].type = AttrType::Scalar(ScalarType::kDatetime);
  schema.attributes["u"].type = AttrType::Scalar(ScalarType::kUuid);
  ExpectError(Validate(R"({"upsert_rows": [{"id": 1, "d": "noon"}]})", schema),
              "upsert id=1: attribute 'd': expected datetime, got string");
  ExpectError(Validate(R"({"upsert_rows": [{"id": 1, "u": "xyz"}]})", schema),
              "upsert id=1: attribute 'u': expected uuid, got string");
}

TEST(ValidateTest, IdTypeRejections) {
  Schema schema;
  ASSERT_TRUE(Validate(R"({"upsert_rows": [{"id": 1}]})", schema).ok());
  ExpectError(Validate(R"({"upsert_rows": [{"id": "a"}]})", schema),
              "upsert id=a: expected uint id, got string");
  ExpectError(Validate(R"({"deletes": ["a"]})", schema),
              "delete id=a: expected uint id, got string");

  Schema uuids;
  uuids.id_type = ScalarType::kUuid;
  ExpectError(Validate(R"({"upsert_rows": [{"id": "nope"}]})", uuids),
              "upsert id=nope: expected uuid id, got string");
  ExpectError(Validate(R"({"upsert_rows": [{"id": 3}]})", uuids), "expected uuid id, got uint");

  Schema fresh;
  ExpectError(Validate(R"({"upsert_rows": [{"id": 1}, {"id": "b"}]})", fresh),
              "upsert id=b: expected uint id, got string");
  EXPECT_FALSE(fresh.id_type);  // not applied
}

TEST(ValidateTest, StringIdTooLongFromCxxApi) {
  Schema schema;
  WriteRequest req;
  Document d;
  d.id = Id(std::string(65, 'x'));
  req.upserts.push_back(d);
  ExpectError(ValidateWrite(req, schema), "string id is 65 bytes");
}

TEST(ValidateTest, DuplicateIdsRejected) {
  Schema schema;
  ExpectError(Validate(R"({"upsert_rows": [{"id": 1}, {"id": 1}]})", schema),
              "upsert id=1: duplicate id");
  ExpectError(Validate(R"({"upsert_rows": [{"id": 1}], "deletes": [1]})", schema),
              "delete id=1: duplicate id in one request (also in upserts)");
  ExpectError(Validate(R"({"patch_rows": [{"id": 2}], "deletes": [2]})", schema), "duplicate id");
}

// Regression guard: a uuid id given as a string and as canonical uppercase must still
// be seen as the same id after coercion.
TEST(ValidateTest, DuplicateUuidIdsDetectedAfterCoercion) {
  Schema schema;
  schema.id_type = ScalarType::kUuid;
  ExpectError(Validate(R"({"upsert_rows": [{"id": "769c134d-07b8-4225-954a-b6cc5ffc320c"},
                                          {"id": "769C134D-07B8-4225-954A-B6CC5FFC320C"}]})",
                       schema),
              "duplicate id");
}

TEST(ValidateTest, VectorRejections) {
  Schema schema;
  ASSERT_TRUE(Validate(R"({"upsert_rows": [{"id": 1, "vector": [1, 2, 3]}]})", schema).ok());
  ExpectError(Validate(R"({"upsert_rows": [{"id": 2, "vector": [1, 2]}]})", schema),
              "upsert id=2: attribute 'vector': expected [3]f32, got vector of dimension 2");
  ExpectError(Validate(R"({"patch_rows": [{"id": 1, "vector": [1, 2, 3]}]})", schema),
              "patch id=1: attribute 'vector': vectors cannot be patched");
  ExpectError(
      Validate(R"({"upsert_rows": [{"id": 2, "vector": [1, 2, 1e39]}]})", schema),
      "upsert id=2: attribute 'vector': expected [3]f32, got non-finite component at index 2");
  Schema s2;
  ExpectError(Validate(R"({"upsert_rows": [{"id": 2, "vector": []}]})", s2),
              "attribute 'vector': expected a vector, got an empty one");
}

TEST(ValidateTest, NonFiniteVectorFromCxxApi) {
  Schema schema;
  WriteRequest req;
  Document d;
  d.id = Id(uint64_t{1});
  d.Set("vector", Value::Vector({1.0f, std::numeric_limits<float>::quiet_NaN()}));
  req.upserts.push_back(d);
  ExpectError(ValidateWrite(req, schema), "non-finite component at index 1");
}

TEST(ValidateTest, F16RangeChecked) {
  Schema schema;
  schema.attributes["vector"].type = AttrType::Vector(2, VectorElem::kF16);
  ExpectError(Validate(R"({"upsert_rows": [{"id": 1, "vector": [1, 70000]}]})", schema),
              "outside the f16 range");
}

TEST(ValidateTest, AttributeNameRejections) {
  Schema schema;
  ExpectError(Validate(R"({"upsert_rows": [{"id": 1, "$dist": 1}]})", schema),
              "upsert id=1: attribute '$dist': names must not start with '$'");
  ExpectError(Validate(R"({"upsert_rows": [{"id": 1, "": 1}]})", schema),
              "upsert id=1: attribute name is empty");
  WriteRequest req;
  Document d;
  d.id = Id(uint64_t{1});
  d.Set("id", Value::Int(3));
  req.upserts.push_back(d);
  ExpectError(ValidateWrite(req, schema), "attribute 'id' is reserved");
  ExpectError(Validate(R"({"schema": {"$x": "int"}})", schema), "schema: attribute '$x'");
}

TEST(ValidateTest, DeclaredTypeContradictions) {
  Schema schema;
  ASSERT_TRUE(Validate(R"({"upsert_rows": [{"id": 1, "a": 1}]})", schema).ok());
  ExpectError(Validate(R"({"schema": {"a": "string"}})", schema),
              "schema: attribute 'a': declared type string contradicts existing type int");
  ExpectError(Validate(R"({"schema": {"id": "string"}})", schema),
              "schema.id: declared type string contradicts the namespace's id type uint");
  ExpectError(Validate(R"({"schema": {"vector": "string"}})", schema),
              "attribute 'vector' must have a vector type");
  Schema euclid;
  euclid.distance_metric = DistanceMetric::kEuclideanSquared;
  ExpectError(Validate(R"({"distance_metric": "cosine_distance"})", euclid),
              "distance_metric: namespace uses euclidean_squared");
  // Same declaration again, and changing index options in place, are fine.
  EXPECT_TRUE(Validate(R"({"schema": {"a": {"type": "int", "filterable": false}}})", schema).ok());
  EXPECT_FALSE(schema.Find("a")->filterable);
}

TEST(ValidateTest, RejectedBatchLeavesSchemaCopyUntouched) {
  Schema schema;
  ASSERT_TRUE(Validate(R"({"upsert_rows": [{"id": 1, "a": 1}]})", schema).ok());
  const Schema before = schema;
  ExpectError(Validate(R"({"upsert_rows": [{"id": 2, "new_attr": "x"}, {"id": 3, "a": "bad"}],
                          "schema": {"declared": "int"}})",
                       schema),
              "upsert id=3: attribute 'a': expected int, got string");
  EXPECT_EQ(schema, before);
}

TEST(ValidateTest, NullsDroppedInUpsertsKeptInPatches) {
  Schema schema;
  WriteRequest req;
  Document u;
  u.id = Id(uint64_t{1});
  u.Set("a", Value());
  u.Set("b", Value::Int(1));
  req.upserts.push_back(u);
  Document p;
  p.id = Id(uint64_t{2});
  p.Set("c", Value());
  req.patches.push_back(p);
  ASSERT_TRUE(ValidateWrite(req, schema).ok());
  EXPECT_EQ(req.upserts[0].Find("a"), nullptr);
  ASSERT_NE(req.patches[0].Find("c"), nullptr);
  EXPECT_EQ(schema.Find("a"), nullptr);
  EXPECT_EQ(schema.Find("c"), nullptr);  // a null infers nothing
}

TEST(ValidateTest, EmptyArrayTypedByLaterValue) {
  Schema schema;
  WriteRequest req = Parse(R"({"upsert_rows": [{"id": 1, "tags": []}, {"id": 2, "tags": [3]}]})");
  ASSERT_TRUE(ValidateWrite(req, schema).ok());
  EXPECT_EQ(schema.Find("tags")->type, AttrType::Array(ScalarType::kInt));
  Schema fresh;
  ExpectError(Validate(R"({"upsert_rows": [{"id": 1, "tags": []}]})", fresh),
              "upsert id=1: attribute 'tags': cannot infer a type from an empty array");
}

TEST(ValidateTest, MixedArraysRejected) {
  Schema schema;
  ExpectError(Validate(R"({"upsert_rows": [{"id": 1, "a": [1, "x"]}]})", schema),
              "upsert id=1: attribute 'a': array mixes int and string");
}

TEST(ValidateTest, FiltersBoundAgainstSchema) {
  Schema schema;
  ASSERT_TRUE(Validate(R"({"upsert_rows": [{"id": 1, "n": 1, "s": "x"}],
                          "schema": {"when": "datetime"}})",
                       schema)
                  .ok());
  WriteRequest req = Parse(R"({"delete_by_filter": ["when", "Lt", "2024-01-01"]})");
  ASSERT_TRUE(ValidateWrite(req, schema).ok());
  EXPECT_EQ(req.delete_by_filter->value.kind(), Value::Kind::kDatetime);
  ExpectError(Validate(R"({"delete_by_filter": ["n", "Eq", "one"]})", schema),
              "delete_by_filter: filter on 'n' (Eq): expected int, got string");
  ExpectError(Validate(R"({"delete_by_filter": ["n", "Eq", {"$ref_new": "n"}]})", schema),
              "$ref_new is only allowed in write conditions");
  EXPECT_TRUE(Validate(R"({"upsert_rows": [{"id": 5, "n": 2}],
                          "upsert_condition": ["n", "Lt", {"$ref_new": "n"}]})",
                       schema)
                  .ok());
  ExpectError(Validate(R"({"upsert_rows": [{"id": 5, "n": 2}],
                          "upsert_condition": ["n", "Lt", {"$ref_new": "s"}]})",
                       schema),
              "upsert_condition: filter on 'n' (Lt): $ref_new attribute 's' has type string");
  ExpectError(Validate(R"({"deletes": [1], "delete_condition": ["s", "Contains", "x"]})", schema),
              "delete_condition: filter on 's' (Contains)");
}

TEST(ValidateTest, ConditionSeesTypesInferredInSameRequest) {
  Schema schema;
  WriteRequest req = Parse(R"({"upsert_rows": [{"id": 1, "v": 1}],
                               "upsert_condition": ["v", "Lt", 5]})");
  ASSERT_TRUE(ValidateWrite(req, schema).ok());
}

TEST(InferTypeTest, Direct) {
  EXPECT_EQ(*InferType("x", Value::Time({})), AttrType::Scalar(ScalarType::kDatetime));
  EXPECT_EQ(*InferType("x", Value::Vector({1, 2})), AttrType::Vector(2));
  EXPECT_EQ(*InferType("vector", Value::Array({Value::Int(1), Value::Float(2)})),
            AttrType::Vector(2));
  EXPECT_FALSE(InferType("vector", Value::String("x")).ok());
  EXPECT_FALSE(InferType("x", Value()).ok());
  EXPECT_EQ(*InferType("x", Value::Array({Value::Int(1), Value::Uint(UINT64_MAX)})),
            AttrType::Array(ScalarType::kUint));
  EXPECT_FALSE(InferType("x", Value::Array({Value::Int(-1), Value::Uint(UINT64_MAX)})).ok());
}

TEST(CoerceValueTest, Direct) {
  Value v = Value::Int(3);
  ASSERT_TRUE(CoerceValue(v, AttrType::Scalar(ScalarType::kFloat)).ok());
  EXPECT_EQ(v.kind(), Value::Kind::kFloat);
  v = Value::String("2024-01-01T00:00:00Z");
  ASSERT_TRUE(CoerceValue(v, AttrType::Scalar(ScalarType::kDatetime)).ok());
  v = Value::Array({Value::Int(1), Value::Int(2)});
  ASSERT_TRUE(CoerceValue(v, AttrType::Vector(2)).ok());
  EXPECT_EQ(v.kind(), Value::Kind::kVector);
  v = Value::String("x");
  Status s = CoerceValue(v, AttrType::Scalar(ScalarType::kInt));
  EXPECT_EQ(s.message(), "expected int, got string");
  v = Value::Vector({1});
  EXPECT_FALSE(CoerceValue(v, AttrType::Scalar(ScalarType::kFloat)).ok());
}

}  // namespace
}  // namespace gannet::model
