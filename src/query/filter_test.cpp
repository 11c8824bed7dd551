#include "query/filter.h"

#include <gtest/gtest.h>

#include <chrono>

#include "gannet/json.h"

namespace gannet::query {
namespace {

Schema TestSchema() {
  Schema s;
  s.id_type = ScalarType::kUint;
  s.attributes["s"].type = AttrType::Scalar(ScalarType::kString);
  s.attributes["n"].type = AttrType::Scalar(ScalarType::kInt);
  s.attributes["f"].type = AttrType::Scalar(ScalarType::kFloat);
  s.attributes["b"].type = AttrType::Scalar(ScalarType::kBool);
  s.attributes["t"].type = AttrType::Scalar(ScalarType::kDatetime);
  s.attributes["u"].type = AttrType::Scalar(ScalarType::kUuid);
  s.attributes["tags"].type = AttrType::Array(ScalarType::kString);
  s.attributes["nums"].type = AttrType::Array(ScalarType::kInt);
  s.attributes["vector"].type = AttrType::Vector(2);
  s.attributes["hidden"].type = AttrType::Scalar(ScalarType::kString);
  s.attributes["hidden"].filterable = false;
  return s;
}

Document TestDoc() {
  Document d;
  d.id = Id(uint64_t{42});
  d.Set("s", Value::String("hello world"));
  d.Set("n", Value::Int(5));
  d.Set("f", Value::Float(2.5));
  d.Set("b", Value::Bool(true));
  d.Set("t", Value::Time(*Datetime::Parse("2024-03-01T12:00:00Z")));
  d.Set("u", Value::FromUuid(*Uuid::Parse("769c134d-07b8-4225-954a-b6cc5ffc320c")));
  d.Set("tags", Value::Array({Value::String("red"), Value::String("blue")}));
  d.Set("nums", Value::Array({Value::Int(1), Value::Int(2), Value::Int(3)}));
  d.Set("vector", Value::Vector({1, 2}));
  return d;
}

Result<Filter> Bound(std::string_view json, const Schema& schema, bool allow_ref_new = false) {
  GANNET_ASSIGN_OR_RETURN(Filter f, ParseFilter(json));
  GANNET_RETURN_IF_ERROR(BindFilter(f, schema, allow_ref_new));
  return f;
}

// Parses, binds against TestSchema and matches TestDoc.
bool M(std::string_view json) {
  auto f = Bound(json, TestSchema());
  EXPECT_TRUE(f.ok()) << json << ": " << f.status().ToString();
  if (!f.ok()) return false;
  Document d = TestDoc();
  return MatchFilter(*f, DocumentAccessor(d));
}

void ExpectBindError(std::string_view json, std::string_view needle) {
  auto f = Bound(json, TestSchema());
  ASSERT_FALSE(f.ok()) << json;
  EXPECT_TRUE(f.status().IsInvalidArgument());
  EXPECT_NE(f.status().message().find(needle), std::string::npos)
      << "message '" << f.status().message() << "' lacks '" << needle << "'";
}

TEST(FilterTest, EqNotEq) {
  EXPECT_TRUE(M(R"(["s", "Eq", "hello world"])"));
  EXPECT_FALSE(M(R"(["s", "Eq", "hello"])"));
  EXPECT_TRUE(M(R"(["s", "NotEq", "hello"])"));
  EXPECT_TRUE(M(R"(["n", "Eq", 5])"));
  EXPECT_TRUE(M(R"(["n", "Eq", 5.0])"));
  EXPECT_TRUE(M(R"(["f", "Eq", 2.5])"));
  EXPECT_TRUE(M(R"(["b", "Eq", true])"));
  EXPECT_TRUE(M(R"(["t", "Eq", "2024-03-01T14:00:00+02:00"])"));
  EXPECT_TRUE(M(R"(["u", "Eq", "769C134D-07B8-4225-954A-B6CC5FFC320C"])"));
  EXPECT_TRUE(M(R"(["tags", "Eq", ["red", "blue"]])"));  // whole-array equality
  EXPECT_FALSE(M(R"(["tags", "Eq", ["blue", "red"]])"));
}

TEST(FilterTest, NullSemantics) {
  EXPECT_TRUE(M(R"(["missing", "Eq", null])"));
  EXPECT_FALSE(M(R"(["s", "Eq", null])"));
  EXPECT_TRUE(M(R"(["s", "NotEq", null])"));
  EXPECT_FALSE(M(R"(["missing", "NotEq", null])"));
  EXPECT_TRUE(M(R"(["missing", "NotEq", "x"])"));
  EXPECT_FALSE(M(R"(["missing", "Lt", 10])"));
  EXPECT_FALSE(M(R"(["missing", "Gte", 0])"));
  EXPECT_FALSE(M(R"(["n", "Lt", null])"));
  EXPECT_FALSE(M(R"(["missing", "In", [1]])"));
  EXPECT_TRUE(M(R"(["missing", "NotIn", [1]])"));
  EXPECT_FALSE(M(R"(["missing", "Contains", "x"])"));
  EXPECT_TRUE(M(R"(["missing", "NotContains", "x"])"));
  EXPECT_FALSE(M(R"(["missing", "Glob", "*"])"));
  EXPECT_TRUE(M(R"(["missing", "NotGlob", "*"])"));
  EXPECT_TRUE(M(R"(["id", "NotEq", null])"));
  EXPECT_FALSE(M(R"(["id", "Eq", null])"));
}

TEST(FilterTest, InNotIn) {
  EXPECT_TRUE(M(R"(["n", "In", [1, 5, 9]])"));
  EXPECT_FALSE(M(R"(["n", "In", [1, 9]])"));
  EXPECT_FALSE(M(R"(["n", "In", []])"));
  EXPECT_TRUE(M(R"(["n", "NotIn", [1, 9]])"));
  EXPECT_FALSE(M(R"(["s", "NotIn", ["hello world"]])"));
  EXPECT_TRUE(M(R"(["u", "In", ["769c134d-07b8-4225-954a-b6cc5ffc320c"]])"));
}

// Regression guard: binding sorts set operands and matching binary-searches large ones;
// mixed numeric kinds must still be found.
TEST(FilterTest, LargeSetOperandsUseSortedLookup) {
  EXPECT_TRUE(M(R"(["n", "In", [20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 5.0, 1]])"));
  EXPECT_FALSE(M(R"(["n", "In", [20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 4.5, 1]])"));
  EXPECT_TRUE(M(R"(["n", "NotIn", [20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 4, 1]])"));
  EXPECT_TRUE(M(R"(["tags", "ContainsAny", ["z", "y", "x", "w", "v", "u", "t", "s", "blue"]])"));
  EXPECT_FALSE(M(R"(["tags", "ContainsAny", ["z", "y", "x", "w", "v", "u", "t", "s", "r"]])"));
  EXPECT_TRUE(M(R"(["id", "In", [99, 98, 97, 96, 95, 94, 93, 92, 91, 42, 1, 1, 1]])"));
}

TEST(FilterTest, Ordering) {
  EXPECT_TRUE(M(R"(["n", "Lt", 6])"));
  EXPECT_FALSE(M(R"(["n", "Lt", 5])"));
  EXPECT_TRUE(M(R"(["n", "Lte", 5])"));
  EXPECT_TRUE(M(R"(["n", "Gt", 4.5])"));
  EXPECT_FALSE(M(R"(["n", "Gt", 5])"));
  EXPECT_TRUE(M(R"(["n", "Gte", 5])"));
  EXPECT_TRUE(M(R"(["f", "Lt", 3])"));
  EXPECT_TRUE(M(R"(["s", "Gt", "hello"])"));
  EXPECT_TRUE(M(R"(["s", "Lt", "i"])"));
  EXPECT_TRUE(M(R"(["t", "Gt", "2024-03-01"])"));
  EXPECT_FALSE(M(R"(["t", "Gt", "2024-03-02"])"));
  EXPECT_TRUE(M(R"(["b", "Gt", false])"));
}

TEST(FilterTest, ContainsFamily) {
  EXPECT_TRUE(M(R"(["tags", "Contains", "red"])"));
  EXPECT_FALSE(M(R"(["tags", "Contains", "green"])"));
  EXPECT_TRUE(M(R"(["tags", "NotContains", "green"])"));
  EXPECT_FALSE(M(R"(["tags", "NotContains", "red"])"));
  EXPECT_TRUE(M(R"(["tags", "ContainsAny", ["green", "blue"]])"));
  EXPECT_FALSE(M(R"(["tags", "ContainsAny", ["green"]])"));
  EXPECT_FALSE(M(R"(["tags", "ContainsAny", []])"));
  EXPECT_TRUE(M(R"(["tags", "NotContainsAny", ["green"]])"));
  EXPECT_FALSE(M(R"(["tags", "NotContainsAny", ["green", "red"]])"));
  EXPECT_TRUE(M(R"(["nums", "Contains", 2])"));
  EXPECT_TRUE(M(R"(["nums", "ContainsAny", [7, 3]])"));
}

TEST(FilterTest, GlobFamily) {
  EXPECT_TRUE(M(R"(["s", "Glob", "hello*"])"));
  EXPECT_FALSE(M(R"(["s", "Glob", "Hello*"])"));
  EXPECT_TRUE(M(R"(["s", "IGlob", "HELLO*"])"));
  EXPECT_TRUE(M(R"(["s", "NotGlob", "Hello*"])"));
  EXPECT_FALSE(M(R"(["s", "NotIGlob", "HELLO*"])"));
  EXPECT_TRUE(M(R"(["tags", "Glob", "bl?e"])"));  // any element of a []string
  EXPECT_FALSE(M(R"(["tags", "Glob", "g*"])"));
}

TEST(FilterTest, Logical) {
  EXPECT_TRUE(M(R"(["And", [["n", "Eq", 5], ["s", "Glob", "h*"]]])"));
  EXPECT_FALSE(M(R"(["And", [["n", "Eq", 5], ["s", "Glob", "x*"]]])"));
  EXPECT_TRUE(M(R"(["Or", [["n", "Eq", 6], ["s", "Glob", "h*"]]])"));
  EXPECT_FALSE(M(R"(["Or", []])"));
  EXPECT_TRUE(M(R"(["And", []])"));
  EXPECT_TRUE(M(R"(["Not", ["n", "Eq", 6]])"));
  EXPECT_FALSE(M(R"(["Not", ["Not", ["n", "Eq", 6]]])"));
}

TEST(FilterTest, IdFilters) {
  EXPECT_TRUE(M(R"(["id", "Eq", 42])"));
  EXPECT_TRUE(M(R"(["id", "In", [1, 42]])"));
  EXPECT_TRUE(M(R"(["id", "Gte", 40])"));
  EXPECT_FALSE(M(R"(["id", "Lt", 42])"));
  ExpectBindError(R"(["id", "Eq", "abc"])", "expected uint id, got string");
  ExpectBindError(R"(["id", "Contains", 1])", "the id is not an array");

  Schema uuids;
  uuids.id_type = ScalarType::kUuid;
  Document d;
  d.id = Id(*Uuid::Parse("769c134d-07b8-4225-954a-b6cc5ffc320c"));
  auto f = Bound(R"(["id", "Eq", "769c134d-07b8-4225-954a-b6cc5ffc320c"])", uuids);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_TRUE(MatchFilter(*f, DocumentAccessor(d)));

  Schema strings;
  strings.id_type = ScalarType::kString;
  Document sd;
  sd.id = Id(std::string("doc-7"));
  f = Bound(R"(["id", "Glob", "doc-*"])", strings);
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(MatchFilter(*f, DocumentAccessor(sd)));
}

TEST(FilterTest, UnknownAttributeMatchesAsNull) {
  EXPECT_FALSE(M(R"(["nope", "Eq", 1])"));
  EXPECT_TRUE(M(R"(["nope", "Eq", null])"));
}

TEST(FilterTest, BindErrors) {
  ExpectBindError(R"(["n", "Eq", "five"])", "filter on 'n' (Eq): expected int, got string");
  ExpectBindError(R"(["n", "In", [1, "x"]])", "element 1: expected int, got string");
  ExpectBindError(R"(["s", "Contains", "x"])", "needs an array attribute");
  ExpectBindError(R"(["tags", "Eq", "red"])", "Eq compares whole arrays");
  ExpectBindError(R"(["tags", "In", ["red"]])", "use ContainsAny");
  ExpectBindError(R"(["tags", "Lt", "x"])", "ordering is not defined on arrays");
  ExpectBindError(R"(["nums", "Glob", "x"])", "glob needs a string");
  ExpectBindError(R"(["n", "Glob", "x"])", "glob needs a string");
  ExpectBindError(R"(["vector", "Eq", [1, 2]])", "vector attributes cannot be filtered");
  ExpectBindError(R"(["hidden", "Eq", "x"])", "not filterable");
  ExpectBindError(R"(["t", "Lt", "yesterday"])", "invalid datetime");
  ExpectBindError(R"(["u", "Eq", "xyz"])", "invalid uuid");
  ExpectBindError(R"(["n", "Eq", {"$ref_new": "n"}])",
                  "$ref_new is only allowed in write conditions");
  ExpectBindError(R"(["And", [["n", "Eq", 1], ["b", "Eq", 1]]])",
                  "filter on 'b' (Eq): expected bool, got int");
}

TEST(FilterTest, BindRejectsMalformedCxxFilters) {
  Filter f;
  f.op = Filter::Op::kNot;
  EXPECT_FALSE(BindFilter(f, TestSchema()).ok());
  Filter in;
  in.op = Filter::Op::kIn;
  in.attr = "n";
  in.value = Value::Int(1);
  EXPECT_FALSE(BindFilter(in, TestSchema()).ok());
  Filter deep;
  deep.op = Filter::Op::kEq;
  deep.attr = "n";
  deep.value = Value::Int(1);
  for (int i = 0; i < 70; ++i) {
    Filter n;
    n.op = Filter::Op::kNot;
    n.children.push_back(std::move(deep));
    deep = std::move(n);
  }
  Status s = BindFilter(deep, TestSchema());
  EXPECT_NE(s.message().find("nesting deeper than 64"), std::string::npos) << s.ToString();
}

TEST(FilterTest, RefNew) {
  Schema schema = TestSchema();
  auto f = Bound(R"(["Or", [["n", "Lt", {"$ref_new": "n"}], ["n", "Eq", null]]])", schema, true);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  Document current = TestDoc();  // n = 5
  Document newer;
  newer.id = current.id;
  newer.Set("n", Value::Int(6));
  Document older;
  older.id = current.id;
  older.Set("n", Value::Int(4));
  DocumentAccessor newer_acc(newer), older_acc(older);
  EXPECT_TRUE(MatchFilter(*f, DocumentAccessor(current), &newer_acc));
  EXPECT_FALSE(MatchFilter(*f, DocumentAccessor(current), &older_acc));
  // Without a new row, $ref_new is null: Lt null never matches.
  EXPECT_FALSE(MatchFilter(*f, DocumentAccessor(current), nullptr));
  // $ref_new on the id.
  auto idf = Bound(R"(["id", "Eq", {"$ref_new": "id"}])", schema, true);
  ASSERT_TRUE(idf.ok());
  EXPECT_TRUE(MatchFilter(*idf, DocumentAccessor(current), &newer_acc));
}

TEST(FilterTest, InsertIfNotExistsCondition) {
  auto f = Bound(R"(["id", "Eq", null])", TestSchema(), true);
  ASSERT_TRUE(f.ok());
  Document existing = TestDoc();
  EXPECT_FALSE(MatchFilter(*f, DocumentAccessor(existing)));
}

TEST(GlobTest, Basics) {
  EXPECT_TRUE(GlobMatch("", "", false));
  EXPECT_FALSE(GlobMatch("", "a", false));
  EXPECT_TRUE(GlobMatch("*", "", false));
  EXPECT_TRUE(GlobMatch("*", "anything/at/all", false));
  EXPECT_TRUE(GlobMatch("**.tsx", "src/a/b.tsx", false));
  EXPECT_FALSE(GlobMatch("/vendor/**", "/src/x", false));
  EXPECT_TRUE(GlobMatch("/vendor/**", "/vendor/x/y", false));
  EXPECT_TRUE(GlobMatch("a?c", "abc", false));
  EXPECT_FALSE(GlobMatch("a?c", "ac", false));
  EXPECT_TRUE(GlobMatch("a*c", "ac", false));
  EXPECT_TRUE(GlobMatch("a*c", "abbbc", false));
  EXPECT_FALSE(GlobMatch("a*c", "abbbd", false));
  EXPECT_TRUE(GlobMatch("*.txt", "notes.txt", false));
  EXPECT_FALSE(GlobMatch("*.txt", "notes.txt.bak", false));
}

TEST(GlobTest, Classes) {
  EXPECT_TRUE(GlobMatch("[abc]x", "bx", false));
  EXPECT_FALSE(GlobMatch("[abc]x", "dx", false));
  EXPECT_TRUE(GlobMatch("[a-z]1", "q1", false));
  EXPECT_FALSE(GlobMatch("[a-z]1", "Q1", false));
  EXPECT_TRUE(GlobMatch("[a-z]1", "Q1", true));
  EXPECT_TRUE(GlobMatch("[!a]b", "cb", false));
  EXPECT_FALSE(GlobMatch("[!a]b", "ab", false));
  EXPECT_TRUE(GlobMatch("[^a]b", "cb", false));
  EXPECT_TRUE(GlobMatch("[]]", "]", false));
  EXPECT_TRUE(GlobMatch("[a-]", "-", false));
  EXPECT_TRUE(GlobMatch("[", "[", false));  // unterminated: literal
  EXPECT_TRUE(GlobMatch("a[", "a[", false));
  EXPECT_TRUE(GlobMatch("\\*", "*", false));
  EXPECT_FALSE(GlobMatch("\\*", "x", false));
  EXPECT_TRUE(GlobMatch("\\?\\[", "?[", false));
}

TEST(GlobTest, CaseFoldingAndUtf8) {
  EXPECT_TRUE(GlobMatch("HeLLo", "hello", true));
  EXPECT_FALSE(GlobMatch("HeLLo", "hello", false));
  EXPECT_TRUE(GlobMatch("caf?", "caf\xc3\xa9", false));  // ? is one code point
  EXPECT_FALSE(GlobMatch("caf??", "caf\xc3\xa9", false));
  EXPECT_TRUE(GlobMatch("\xc3\x89T\xc3\x89", "\xc3\xa9t\xc3\xa9", true));  // ÉTÉ ~ été
  EXPECT_TRUE(GlobMatch("*\xc3\xa9", "caf\xc3\xa9", false));
  EXPECT_TRUE(GlobMatch("[\xc3\xa0-\xc3\xbf]", "\xc3\xa9", false));  // [à-ÿ]
  EXPECT_TRUE(GlobMatch("\xd0\x9f\xd0\xa0\xd0\x98*",
                        "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82",
                        true));  // ПРИ* ~ привет
}

// Regression guard: naive recursive glob matching is exponential on these.
TEST(GlobTest, PathologicalPatternsStayFast) {
  const std::string text(100000, 'a');
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(GlobMatch("*a*a*a*a*b", text, false));
  EXPECT_FALSE(GlobMatch("*a*a*a*a*a*a*a*a*a*a*a*a*b", std::string(5000, 'a'), false));
  EXPECT_TRUE(GlobMatch("*a*a*a*a*a", text, false));
  EXPECT_FALSE(GlobMatch("*?*?*?*?*b", text, true));
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  EXPECT_LT(ms, 2000) << "glob matching took " << ms << " ms";
}

}  // namespace
}  // namespace gannet::query
