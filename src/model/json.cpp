// JSON codec (gannet/json.h). Parsing uses simdjson's DOM API; output is written by a
// small streaming writer so that floats print in their shortest round-trip form and
// invalid UTF-8 from C++ callers cannot produce invalid JSON.
//
// The decoders present JSON exactly as the earlier nlohmann-based ones did, so every
// error message and path is unchanged: an object's members are visited in key order with
// the last of duplicate keys winning, non-negative integers count as unsigned, and where
// simdjson refuses a text that nlohmann accepts (integers beyond 64 bits, which nlohmann
// reads as floats; a leading UTF-8 byte-order mark) nlohmann decides: its error message
// is reported, or its canonical re-serialisation is parsed. nlohmann also re-serialises
// a full_text_search object and formats numbers in error messages.
//
// No exception escapes: simdjson is used through its error-code API, and nlohmann only
// where its exceptions are caught or cannot occur.
#include "gannet/json.h"

#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>

#include "model/base64.h"
#include "text/analyzer.h"

namespace gannet {

namespace {

using Json = nlohmann::json;
using El = simdjson::dom::element;
using ElType = simdjson::dom::element_type;

// Input nesting deeper than this is rejected before parsing: bounds the stack used by
// the recursive conversions below.
constexpr int kMaxJsonDepth = 512;
// Filter expressions nest at most this deep (And/Or/Not levels).
constexpr int kMaxFilterDepth = 64;
constexpr uint32_t kMaxTopK = 10000;
// Documents up to this size are parsed by a parser kept per thread (its buffers are
// reused); larger ones get a parser of their own, so no thread keeps a large buffer.
constexpr size_t kReusedParserMaxBytes = 1 << 20;

// ------------------------------------------------------------------------ helpers

std::string JsonTypeName(El j) {
  switch (j.type()) {
    case ElType::NULL_VALUE:
      return "null";
    case ElType::BOOL:
      return "bool";
    case ElType::INT64:
    case ElType::UINT64:
      return "integer";
    case ElType::DOUBLE:
      return "float";
    case ElType::STRING:
      return "string";
    case ElType::ARRAY:
      return "array";
    case ElType::OBJECT:
      return "object";
  }
  return "unsupported value";
}

bool IsNull(El j) { return j.type() == ElType::NULL_VALUE; }
bool IsBool(El j) { return j.type() == ElType::BOOL; }
bool IsString(El j) { return j.type() == ElType::STRING; }
bool IsArray(El j) { return j.type() == ElType::ARRAY; }
bool IsObject(El j) { return j.type() == ElType::OBJECT; }
bool IsInteger(El j) { return j.type() == ElType::INT64 || j.type() == ElType::UINT64; }
bool IsNumber(El j) { return IsInteger(j) || j.type() == ElType::DOUBLE; }
// nlohmann's number_unsigned: an integer without a minus sign.
bool IsUnsigned(El j) {
  return j.type() == ElType::UINT64 ||
         (j.type() == ElType::INT64 && j.get_int64().value_unsafe() >= 0);
}

// Accessors for a value already known to have the type.
bool AsBool(El j) { return j.get_bool().value_unsafe(); }
std::string_view AsString(El j) { return j.get_string().value_unsafe(); }
uint64_t AsUint(El j) {
  return j.type() == ElType::UINT64 ? j.get_uint64().value_unsafe()
                                    : static_cast<uint64_t>(j.get_int64().value_unsafe());
}
double AsDouble(El j) {
  switch (j.type()) {
    case ElType::INT64:
      return static_cast<double>(j.get_int64().value_unsafe());
    case ElType::UINT64:
      return static_cast<double>(j.get_uint64().value_unsafe());
    default:
      return j.get_double().value_unsafe();
  }
}
simdjson::dom::array AsArray(El j) { return j.get_array().value_unsafe(); }

// Number of elements of an array (simdjson's count saturates at 2^24 - 1).
size_t ArraySize(El j) {
  const simdjson::dom::array a = AsArray(j);
  size_t n = a.size();
  if (n < 0xFFFFFF) return n;
  n = 0;
  for (El e : a) {
    (void)e;
    ++n;
  }
  return n;
}

// The elements of a (short) array, for random access.
std::vector<El> Items(El j) {
  std::vector<El> out;
  for (El e : AsArray(j)) out.push_back(e);
  return out;
}

// The members of an object as nlohmann presented them: sorted by key, and of duplicate
// keys only the last.
class Obj {
 public:
  struct Member {
    std::string_view key;
    El value;
  };

  explicit Obj(El j) {
    const simdjson::dom::object object = j.get_object().value_unsafe();
    for (auto kv : object) members_.push_back({kv.key, kv.value});
    auto by_key = [](const Member& a, const Member& b) { return a.key < b.key; };
    if (!std::is_sorted(members_.begin(), members_.end(), by_key)) {
      std::stable_sort(members_.begin(), members_.end(), by_key);
    }
    // Of a run of equal keys, keep the last (document order is kept by stable_sort).
    size_t w = 0;
    for (size_t r = 0; r < members_.size(); ++r) {
      if (r + 1 < members_.size() && members_[r + 1].key == members_[r].key) continue;
      members_[w++] = members_[r];
    }
    members_.resize(w);
  }

  const El* Find(std::string_view key) const {
    auto it = std::lower_bound(members_.begin(), members_.end(), key,
                               [](const Member& m, std::string_view k) { return m.key < k; });
    return it != members_.end() && it->key == key ? &it->value : nullptr;
  }
  // Adds a member whose key is not present yet, keeping the order.
  void Insert(const Member& m) {
    auto it = std::lower_bound(members_.begin(), members_.end(), m.key,
                               [](const Member& a, std::string_view k) { return a.key < k; });
    members_.insert(it, m);
  }
  size_t size() const { return members_.size(); }
  std::vector<Member>::const_iterator begin() const { return members_.begin(); }
  std::vector<Member>::const_iterator end() const { return members_.end(); }

 private:
  std::vector<Member> members_;
};

// The compact JSON text nlohmann printed for a value (sorted keys, its number format).
std::string NlohmannDump(El j) {
  try {
    return Json::parse(simdjson::minify(j)).dump();
  } catch (const std::exception&) {
    return simdjson::minify(j);
  }
}

Status Bad(std::string_view path, std::string_view why) {
  std::string m(path);
  m += ": ";
  m += why;
  return Status::InvalidArgument(std::move(m));
}

Status Expected(std::string_view path, std::string_view what, El got) {
  return Bad(path, "expected " + std::string(what) + ", got " + JsonTypeName(got));
}

std::string Sub(std::string_view path, std::string_view key) {
  std::string p(path);
  if (!p.empty()) p += '.';
  p += key;
  return p;
}
std::string Idx(std::string_view path, size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

// Rejects nesting deeper than kMaxJsonDepth with one linear scan (string-aware).
Status CheckDepth(std::string_view text) {
  int depth = 0;
  bool in_string = false, escape = false;
  for (char c : text) {
    if (in_string) {
      if (escape) {
        escape = false;
      } else if (c == '\\') {
        escape = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) {
        return Status::InvalidArgument("malformed JSON: nesting deeper than " +
                                       std::to_string(kMaxJsonDepth) + " levels");
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return Status::OK();
}

// A parsed document: `root` stays valid while this object lives. Not reentrant per
// thread for small documents (they share the thread's parser); the decoders below parse
// one document at a time.
class ParsedJson {
 public:
  Status Parse(std::string_view text) {
    GANNET_RETURN_IF_ERROR(CheckDepth(text));
    simdjson::dom::parser* parser;
    if (text.size() <= kReusedParserMaxBytes) {
      thread_local simdjson::dom::parser reused;
      parser = &reused;
    } else {
      own_ = std::make_unique<simdjson::dom::parser>();
      parser = own_.get();
    }
    if (parser->parse(text.data(), text.size()).get(root_) == simdjson::SUCCESS) {
      return Status::OK();
    }
    // simdjson refuses some texts nlohmann accepts (see the top of the file): nlohmann
    // decides, and its message is the one reported.
    try {
      fallback_ = Json::parse(text.begin(), text.end()).dump();
    } catch (const Json::exception& e) {
      return Status::InvalidArgument(std::string("malformed JSON: ") + e.what());
    } catch (const std::exception& e) {  // e.g. bad_alloc
      return Status::InvalidArgument(std::string("malformed JSON: ") + e.what());
    }
    const simdjson::error_code err = parser->parse(fallback_).get(root_);
    if (err != simdjson::SUCCESS) {
      return Status::InvalidArgument(std::string("malformed JSON: ") +
                                     simdjson::error_message(err));
    }
    return Status::OK();
  }
  El root() const { return root_; }

 private:
  std::unique_ptr<simdjson::dom::parser> own_;
  std::string fallback_;
  El root_;
};

Value NumberToValue(El j) {
  if (IsUnsigned(j)) {
    const uint64_t u = AsUint(j);
    if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Value::Int(static_cast<int64_t>(u));
    }
    return Value::Uint(u);
  }
  if (j.type() == ElType::INT64) return Value::Int(j.get_int64().value_unsafe());
  return Value::Float(AsDouble(j));
}

// A scalar (non-null, non-array) JSON value.
Result<Value> JsonToScalar(El j, std::string_view path) {
  if (IsBool(j)) return Value::Bool(AsBool(j));
  if (IsNumber(j)) return NumberToValue(j);
  if (IsString(j)) return Value::String(std::string(AsString(j)));
  return Expected(path, "bool, number or string", j);
}

// Any attribute / operand value: null, scalar, or an array of scalars.
Result<Value> JsonToValue(El j, std::string_view path) {
  if (IsNull(j)) return Value();
  if (IsArray(j)) {
    std::vector<Value> out;
    out.reserve(ArraySize(j));
    size_t i = 0;
    for (El e : AsArray(j)) {
      if (IsNull(e)) return Bad(Idx(path, i), "null is not allowed inside an array");
      if (IsArray(e)) return Bad(Idx(path, i), "nested arrays are not supported");
      GANNET_ASSIGN_OR_RETURN(Value v, JsonToScalar(e, Idx(path, i)));
      out.push_back(std::move(v));
      ++i;
    }
    return Value::Array(std::move(out));
  }
  if (IsObject(j)) return Expected(path, "a value (not an object)", j);
  return JsonToScalar(j, path);
}

// A vector: an array of numbers or a base64 string of little-endian f32.
Result<std::vector<float>> JsonToVector(El j, std::string_view path) {
  if (IsString(j)) {
    auto r = model::DecodeBase64Floats(AsString(j));
    if (!r.ok()) return Bad(path, r.status().message());
    return std::move(r).value();
  }
  if (!IsArray(j)) return Expected(path, "array of numbers or base64 string", j);
  std::vector<float> v;
  v.reserve(ArraySize(j));
  for (El e : AsArray(j)) {
    double d;
    switch (e.type()) {
      case ElType::DOUBLE:
        d = e.get_double().value_unsafe();
        break;
      case ElType::INT64:
      case ElType::UINT64:
        d = AsDouble(e);
        break;
      default:
        return Expected(Idx(path, v.size()), "number", e);
    }
    v.push_back(model::ToF32(d));
  }
  return v;
}

Result<Id> JsonToId(El j, std::string_view path) {
  if (IsUnsigned(j)) return Id(AsUint(j));
  if (IsInteger(j)) {
    return Bad(path, "expected non-negative integer or string, got negative integer");
  }
  if (IsString(j)) {
    const std::string_view s = AsString(j);
    if (s.size() > Id::kMaxStringBytes) {
      return Bad(path, "string id is " + std::to_string(s.size()) + " bytes; the limit is " +
                           std::to_string(Id::kMaxStringBytes));
    }
    return Id(std::string(s));
  }
  return Expected(path, "integer or string", j);
}

// The value of attribute `name` in a row. The attribute "vector" is decoded as a vector
// right away (it is always a vector attribute); other declared vector attributes arrive
// as arrays / base64 strings and are coerced by validation.
Result<Value> AttrValue(std::string_view name, El j, std::string_view path) {
  if (name == kVectorAttr && !IsNull(j)) {
    GANNET_ASSIGN_OR_RETURN(std::vector<float> v, JsonToVector(j, path));
    return Value::Vector(std::move(v));
  }
  return JsonToValue(j, path);
}

// Null in an upsert means "absent"; in a patch, "remove the attribute".
void SetAttr(Document& doc, std::string_view name, Value v, bool is_patch) {
  if (v.is_null() && !is_patch) return;
  doc.Set(std::string(name), std::move(v));
}

Status ParseRows(El j, std::string_view path, bool is_patch, std::vector<Document>& out) {
  if (!IsArray(j)) return Expected(path, "array of row objects", j);
  out.reserve(out.size() + ArraySize(j));
  size_t i = 0;
  for (El row : AsArray(j)) {
    const std::string rpath = Idx(path, i++);
    if (!IsObject(row)) return Expected(rpath, "object", row);
    const Obj members(row);
    const El* id = members.Find(kIdAttr);
    if (id == nullptr) return Bad(rpath, "missing \"id\"");
    Document doc;
    GANNET_ASSIGN_OR_RETURN(doc.id, JsonToId(*id, Sub(rpath, kIdAttr)));
    doc.attrs.reserve(members.size() - 1);
    for (const auto& [key, value] : members) {
      if (key == kIdAttr) continue;
      GANNET_ASSIGN_OR_RETURN(Value v, AttrValue(key, value, Sub(rpath, key)));
      SetAttr(doc, key, std::move(v), is_patch);
    }
    out.push_back(std::move(doc));
  }
  return Status::OK();
}

Status ParseColumns(El j, std::string_view path, bool is_patch, std::vector<Document>& out) {
  if (!IsObject(j)) return Expected(path, "object of columns", j);
  const Obj columns(j);
  const El* ids = columns.Find(kIdAttr);
  if (ids == nullptr) return Bad(path, "missing \"id\" column");
  const std::string id_path = Sub(path, kIdAttr);
  if (!IsArray(*ids)) return Expected(id_path, "array of ids", *ids);
  const size_t n = ArraySize(*ids);
  const size_t base = out.size();
  out.resize(base + n);
  size_t i = 0;
  for (El e : AsArray(*ids)) {
    GANNET_ASSIGN_OR_RETURN(out[base + i].id, JsonToId(e, Idx(id_path, i)));
    ++i;
  }
  for (const auto& [key, col] : columns) {
    if (key == kIdAttr) continue;
    const std::string cpath = Sub(path, key);
    if (!IsArray(col)) return Expected(cpath, "array", col);
    const size_t size = ArraySize(col);
    if (size != n) {
      return Bad(cpath, "expected " + std::to_string(n) +
                            " values (the length of the id column), got " + std::to_string(size));
    }
    i = 0;
    for (El e : AsArray(col)) {
      GANNET_ASSIGN_OR_RETURN(Value v, AttrValue(key, e, Idx(cpath, i)));
      SetAttr(out[base + i], key, std::move(v), is_patch);
      ++i;
    }
  }
  return Status::OK();
}

// ------------------------------------------------------------------------ filters

bool IsSetOp(Filter::Op op) {
  return op == Filter::Op::kIn || op == Filter::Op::kNotIn || op == Filter::Op::kContainsAny ||
         op == Filter::Op::kNotContainsAny;
}
bool IsGlobOp(Filter::Op op) {
  return op == Filter::Op::kGlob || op == Filter::Op::kNotGlob || op == Filter::Op::kIGlob ||
         op == Filter::Op::kNotIGlob;
}

// The options object of a full-text filter or BM25 clause: {"last_as_prefix": bool}.
Status ParseTokenOptions(El options, const std::string& path, bool* last_as_prefix) {
  if (!IsObject(options)) return Expected(path, "object of options", options);
  for (const auto& [key, v] : Obj(options)) {
    if (key != "last_as_prefix") {
      return Bad(Sub(path, std::string(key)), "unknown option (supported: last_as_prefix)");
    }
    if (!IsBool(v)) return Expected(Sub(path, "last_as_prefix"), "boolean", v);
    *last_as_prefix = AsBool(v);
  }
  return Status::OK();
}

Result<Filter> JsonToFilter(El j, const std::string& path, int depth) {
  if (depth > kMaxFilterDepth) {
    return Bad(path, "filter nesting deeper than " + std::to_string(kMaxFilterDepth) + " levels");
  }
  if (!IsArray(j) || ArraySize(j) == 0) {
    return Expected(path, "filter array like [\"attr\", \"Eq\", value] or [\"And\", [...]]", j);
  }
  const std::vector<El> items = Items(j);
  if (!IsString(items[0])) return Expected(Idx(path, 0), "string", items[0]);
  const std::string head(AsString(items[0]));
  Filter f;
  if (head == "And" || head == "Or") {
    f.op = head == "And" ? Filter::Op::kAnd : Filter::Op::kOr;
    if (items.size() != 2) return Bad(path, "expected [\"" + head + "\", [filters...]]");
    const El list = items[1];
    const std::string lpath = Idx(path, 1);
    if (!IsArray(list)) return Expected(lpath, "array of filters", list);
    f.children.reserve(ArraySize(list));
    size_t i = 0;
    for (El e : AsArray(list)) {
      GANNET_ASSIGN_OR_RETURN(Filter c, JsonToFilter(e, Idx(lpath, i++), depth + 1));
      f.children.push_back(std::move(c));
    }
    return f;
  }
  if (head == "Not") {
    f.op = Filter::Op::kNot;
    if (items.size() != 2) return Bad(path, "expected [\"Not\", filter]");
    GANNET_ASSIGN_OR_RETURN(Filter c, JsonToFilter(items[1], Idx(path, 1), depth + 1));
    f.children.push_back(std::move(c));
    return f;
  }
  if (items.size() < 2) return Bad(path, "expected [\"attr\", \"Op\", value]");
  if (!IsString(items[1])) return Expected(Idx(path, 1), "operator string", items[1]);
  const std::string op_name(AsString(items[1]));
  auto op = ParseFilterOp(op_name);
  if (!op.ok()) return Bad(Idx(path, 1), op.status().message());
  if (*op == Filter::Op::kAnd || *op == Filter::Op::kOr || *op == Filter::Op::kNot) {
    return Bad(Idx(path, 1),
               "logical operator '" + op_name + "' must come first: [\"" + op_name + "\", ...]");
  }
  const bool full_text = *op == Filter::Op::kContainsAllTokens ||
                         *op == Filter::Op::kContainsAnyToken ||
                         *op == Filter::Op::kContainsTokenSequence;
  if (items.size() != 3 && !(full_text && items.size() == 4)) {
    return Bad(path, "expected [\"attr\", \"" + op_name + "\", value" +
                         (full_text ? ", {options}?" : "") + "], got " +
                         std::to_string(items.size()) + " elements");
  }
  f.op = *op;
  f.attr = head;
  if (items.size() == 4) {
    GANNET_RETURN_IF_ERROR(ParseTokenOptions(items[3], Idx(path, 3), &f.last_as_prefix));
  }
  const El operand = items[2];
  const std::string opath = Idx(path, 2);
  if (IsObject(operand)) {
    const Obj members(operand);
    const El* ref = members.Find("$ref_new");
    if (members.size() != 1 || ref == nullptr) {
      return Bad(opath, "expected a value or {\"$ref_new\": \"attr\"}, got object");
    }
    if (!IsString(*ref)) return Expected(Sub(opath, "$ref_new"), "attribute name string", *ref);
    f.ref_new = std::string(AsString(*ref));
    return f;
  }
  GANNET_ASSIGN_OR_RETURN(f.value, JsonToValue(operand, opath));
  if (IsSetOp(f.op) && f.value.kind() != Value::Kind::kArray) {
    return Bad(opath, "operator " + std::string(FilterOpName(f.op)) + " expects an array, got " +
                          JsonTypeName(operand));
  }
  if (IsGlobOp(f.op) && f.value.kind() != Value::Kind::kString) {
    return Bad(opath, "operator " + std::string(FilterOpName(f.op)) +
                          " expects a glob pattern string, got " + JsonTypeName(operand));
  }
  return f;
}

// ------------------------------------------------------------------------ schema

Result<ScalarType> ParseIdType(El j, std::string_view path) {
  El t = j;
  if (IsObject(j)) {
    const Obj members(j);
    for (const auto& m : members) {
      if (m.key != "type") return Bad(Sub(path, m.key), "unknown field for the id");
    }
    const El* type = members.Find("type");
    if (type == nullptr) return Bad(path, "missing \"type\"");
    t = *type;
  }
  const std::string tpath = IsObject(j) ? Sub(path, "type") : std::string(path);
  if (!IsString(t)) return Expected(tpath, "type string", t);
  const std::string s(AsString(t));
  if (s == "uint") return ScalarType::kUint;
  if (s == "uuid") return ScalarType::kUuid;
  if (s == "string") return ScalarType::kString;
  return Bad(tpath, "id type must be uint, uuid or string, got \"" + s.substr(0, 64) + "\"");
}

Result<AttributeSchema> ParseAttributeSchema(El j, std::string_view path) {
  AttributeSchema a;
  if (IsString(j)) {
    auto t = AttrType::Parse(AsString(j));
    if (!t.ok()) return Bad(path, t.status().message());
    a.type = *t;
    return a;
  }
  if (!IsObject(j)) return Expected(path, "type string or object", j);
  const Obj members(j);
  if (members.Find("type") == nullptr) return Bad(path, "missing \"type\"");
  std::optional<bool> filterable;
  for (const auto& [k, v] : members) {
    const std::string kpath = Sub(path, k);
    if (k == "type") {
      if (!IsString(v)) return Expected(kpath, "type string", v);
      auto t = AttrType::Parse(AsString(v));
      if (!t.ok()) return Bad(kpath, t.status().message());
      a.type = *t;
    } else if (k == "filterable") {
      if (!IsBool(v)) return Expected(kpath, "bool", v);
      filterable = AsBool(v);
    } else if (k == "full_text_search") {
      if (IsBool(v)) {
        a.full_text_search = AsBool(v) ? "true" : "";
      } else if (IsObject(v)) {
        a.full_text_search = NlohmannDump(v);
        Result<text::FtsOptions> o = text::ParseFtsOptions(a.full_text_search);
        if (!o.ok()) return Bad(kpath, o.status().message());
      } else {
        return Expected(kpath, "bool or object", v);
      }
    } else if (k == "ann") {
      // Gannet indexes every vector attribute; accepted for compatibility.
      if (!IsBool(v) && !IsObject(v)) return Expected(kpath, "bool or object", v);
    } else if (k == "glob") {
      // Glob filters work on every string attribute; accepted for compatibility.
      if (!IsBool(v)) return Expected(kpath, "bool", v);
    } else if (k == "regex" || k == "fuzzy") {
      if (!IsBool(v)) return Expected(kpath, "bool", v);
      if (AsBool(v)) return Bad(kpath, "not supported yet");
    } else {
      return Bad(kpath, "unknown schema field");
    }
  }
  if (!a.full_text_search.empty() &&
      !(a.type.kind != AttrType::Kind::kVector && a.type.scalar == ScalarType::kString)) {
    return Bad(Sub(path, "full_text_search"),
               "requires type string or []string, got " + a.type.ToString());
  }
  // As in turbopuffer: full-text attributes are not filterable unless asked for.
  a.filterable = filterable.value_or(a.full_text_search.empty());
  return a;
}

Result<Schema> JsonToSchema(El j, std::string_view path) {
  if (!IsObject(j)) return Expected(path, "object", j);
  Schema s;
  for (const auto& [key, value] : Obj(j)) {
    const std::string apath = Sub(path, key);
    if (key == kIdAttr) {
      GANNET_ASSIGN_OR_RETURN(ScalarType t, ParseIdType(value, apath));
      s.id_type = t;
      continue;
    }
    if (key.empty()) return Bad(path, "empty attribute name");
    GANNET_ASSIGN_OR_RETURN(AttributeSchema a, ParseAttributeSchema(value, apath));
    s.attributes.emplace(std::string(key), std::move(a));
  }
  return s;
}

Result<DistanceMetric> JsonToMetric(El j, std::string_view path) {
  if (!IsString(j)) return Expected(path, "string", j);
  auto m = ParseDistanceMetric(AsString(j));
  if (!m.ok()) return Bad(path, m.status().message());
  return *m;
}

Result<std::vector<std::string>> JsonToStringList(El j, std::string_view path) {
  if (!IsArray(j)) return Expected(path, "array of strings", j);
  std::vector<std::string> out;
  out.reserve(ArraySize(j));
  for (El e : AsArray(j)) {
    if (!IsString(e)) return Expected(Idx(path, out.size()), "string", e);
    out.emplace_back(AsString(e));
  }
  return out;
}

Result<uint32_t> JsonToLimit(El j, std::string_view path) {
  if (!IsInteger(j)) return Expected(path, "integer", j);
  if (IsUnsigned(j)) {
    const uint64_t v = AsUint(j);
    if (v >= 1 && v <= kMaxTopK) return static_cast<uint32_t>(v);
    return Bad(path,
               "must be between 1 and " + std::to_string(kMaxTopK) + ", got " + std::to_string(v));
  }
  return Bad(path, "must be between 1 and " + std::to_string(kMaxTopK) + ", got " +
                       std::to_string(j.get_int64().value_unsafe()));
}

// ------------------------------------------------------------------------ writer

class Writer final : public JsonEvents {
 public:
  std::string Take() { return std::move(out_); }

  void BeginObject() override {
    Sep();
    out_ += '{';
    first_.push_back(true);
  }
  void EndObject() override {
    out_ += '}';
    first_.pop_back();
  }
  void BeginArray() override {
    Sep();
    out_ += '[';
    first_.push_back(true);
  }
  void EndArray() override {
    out_ += ']';
    first_.pop_back();
  }
  void Key(std::string_view k) override {
    Sep();
    Escaped(k);
    out_ += ':';
    after_key_ = true;
  }
  void Null() override {
    Sep();
    out_ += "null";
  }
  void Bool(bool b) override {
    Sep();
    out_ += b ? "true" : "false";
  }
  void Int(int64_t v) override {
    Sep();
    out_ += std::to_string(v);
  }
  void Uint(uint64_t v) override {
    Sep();
    out_ += std::to_string(v);
  }
  // Shortest round-trip form; always has a '.' or exponent so it reads back as a float.
  // Non-finite values have no JSON form and print as null.
  void Double(double d) override {
    if (!std::isfinite(d)) return Null();
    Sep();
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof(buf), d);
    AppendNumber(buf, r.ptr);
  }
  void Float(float f) override {
    if (!std::isfinite(f)) return Null();
    Sep();
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof(buf), f);
    AppendNumber(buf, r.ptr);
  }
  void String(std::string_view s) override {
    Sep();
    Escaped(s);
  }
  // Pre-serialized JSON text (trusted to be valid).
  void Raw(std::string_view json) {
    Sep();
    out_ += json;
  }

 private:
  void Sep() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (first_.empty()) return;
    if (!first_.back()) out_ += ',';
    first_.back() = false;
  }
  void AppendNumber(const char* b, const char* e) {
    const size_t start = out_.size();
    out_.append(b, e);
    if (out_.find_first_of(".eE", start) == std::string::npos) out_ += ".0";
  }
  // JSON string with escapes; invalid UTF-8 sequences become U+FFFD.
  void Escaped(std::string_view s) {
    out_ += '"';
    static constexpr char kHex[] = "0123456789abcdef";
    size_t i = 0;
    while (i < s.size()) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (c < 0x80) {
        switch (c) {
          case '"':
            out_ += "\\\"";
            break;
          case '\\':
            out_ += "\\\\";
            break;
          case '\n':
            out_ += "\\n";
            break;
          case '\r':
            out_ += "\\r";
            break;
          case '\t':
            out_ += "\\t";
            break;
          case '\b':
            out_ += "\\b";
            break;
          case '\f':
            out_ += "\\f";
            break;
          default:
            if (c < 0x20) {
              out_ += "\\u00";
              out_ += kHex[c >> 4];
              out_ += kHex[c & 15];
            } else {
              out_ += static_cast<char>(c);
            }
        }
        ++i;
        continue;
      }
      const size_t len = Utf8SequenceLength(s, i);
      if (len == 0) {
        out_ += "\xEF\xBF\xBD";
        ++i;
      } else {
        out_.append(s.substr(i, len));
        i += len;
      }
    }
    out_ += '"';
  }
  // Length of the valid UTF-8 sequence starting at s[i] (lead byte >= 0x80), or 0.
  static size_t Utf8SequenceLength(std::string_view s, size_t i) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    size_t len;
    uint32_t min;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      len = 2;
      min = 0x80;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      len = 3;
      min = 0x800;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      len = 4;
      min = 0x10000;
    } else {
      return 0;
    }
    if (i + len > s.size()) return 0;
    uint32_t cp = b0 & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
    for (size_t k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return 0;
      cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
  }

  std::string out_;
  std::vector<bool> first_;
  bool after_key_ = false;
};

void WriteId(JsonEvents& w, const Id& id) {
  if (id.is_uint()) {
    w.Uint(id.as_uint());
  } else {
    w.String(id.ToString());
  }
}

void WriteValue(JsonEvents& w, const Value& v, bool vector_base64) {
  switch (v.kind()) {
    case Value::Kind::kNull:
      w.Null();
      break;
    case Value::Kind::kBool:
      w.Bool(v.as_bool());
      break;
    case Value::Kind::kInt:
      w.Int(v.as_int());
      break;
    case Value::Kind::kUint:
      w.Uint(v.as_uint());
      break;
    case Value::Kind::kFloat:
      w.Double(v.as_float());
      break;
    case Value::Kind::kString:
      w.String(v.as_string());
      break;
    case Value::Kind::kDatetime:
      w.String(v.as_datetime().ToString());
      break;
    case Value::Kind::kUuid:
      w.String(v.as_uuid().ToString());
      break;
    case Value::Kind::kArray:
      w.BeginArray();
      for (const Value& e : v.as_array()) WriteValue(w, e, vector_base64);
      w.EndArray();
      break;
    case Value::Kind::kVector:
      if (vector_base64) {
        w.String(model::EncodeBase64Floats(v.as_vector()));
      } else {
        w.BeginArray();
        for (float f : v.as_vector()) w.Float(f);
        w.EndArray();
      }
      break;
  }
}

void WriteIdList(JsonEvents& w, std::string_view key, const std::optional<std::vector<Id>>& ids) {
  if (!ids) return;
  w.Key(key);
  w.BeginArray();
  for (const Id& id : *ids) WriteId(w, id);
  w.EndArray();
}

void WriteAttrs(JsonEvents& w, const std::vector<std::pair<std::string, Value>>& attrs,
                bool vector_base64) {
  for (const auto& [name, value] : attrs) {
    w.Key(name);
    WriteValue(w, value, vector_base64);
  }
}

uint64_t RoundMs(double ms) {
  if (!(ms > 0)) return 0;
  if (ms >= 1.8e19) return std::numeric_limits<uint64_t>::max();
  return static_cast<uint64_t>(std::llround(ms));
}

}  // namespace

// ------------------------------------------------------------------------ public API

Result<WriteRequest> ParseWriteRequest(std::string_view json) {
  ParsedJson doc;
  GANNET_RETURN_IF_ERROR(doc.Parse(json));
  const El j = doc.root();
  if (!IsObject(j)) return Expected("request", "object", j);
  WriteRequest req;
  for (const auto& [key, v] : Obj(j)) {
    const std::string k(key);
    if (k == "upsert_rows") {
      GANNET_RETURN_IF_ERROR(ParseRows(v, k, /*is_patch=*/false, req.upserts));
    } else if (k == "upsert_columns") {
      GANNET_RETURN_IF_ERROR(ParseColumns(v, k, /*is_patch=*/false, req.upserts));
    } else if (k == "patch_rows") {
      GANNET_RETURN_IF_ERROR(ParseRows(v, k, /*is_patch=*/true, req.patches));
    } else if (k == "patch_columns") {
      GANNET_RETURN_IF_ERROR(ParseColumns(v, k, /*is_patch=*/true, req.patches));
    } else if (k == "deletes") {
      if (!IsArray(v)) return Expected(k, "array of ids", v);
      req.deletes.reserve(ArraySize(v));
      for (El e : AsArray(v)) {
        GANNET_ASSIGN_OR_RETURN(Id id, JsonToId(e, Idx(k, req.deletes.size())));
        req.deletes.push_back(std::move(id));
      }
    } else if (k == "delete_by_filter") {
      GANNET_ASSIGN_OR_RETURN(req.delete_by_filter, JsonToFilter(v, k, 1));
    } else if (k == "upsert_condition") {
      GANNET_ASSIGN_OR_RETURN(req.upsert_condition, JsonToFilter(v, k, 1));
    } else if (k == "patch_condition") {
      GANNET_ASSIGN_OR_RETURN(req.patch_condition, JsonToFilter(v, k, 1));
    } else if (k == "delete_condition") {
      GANNET_ASSIGN_OR_RETURN(req.delete_condition, JsonToFilter(v, k, 1));
    } else if (k == "distance_metric") {
      if (IsNull(v)) continue;
      GANNET_ASSIGN_OR_RETURN(req.distance_metric, JsonToMetric(v, k));
    } else if (k == "schema") {
      if (IsNull(v)) continue;
      GANNET_ASSIGN_OR_RETURN(req.schema, JsonToSchema(v, k));
    } else if (k == "return_affected_ids") {
      if (!IsBool(v)) return Expected(k, "bool", v);
      req.return_affected_ids = AsBool(v);
    } else if (k == "patch_by_filter" || k == "copy_from_namespace" ||
               k == "branch_from_namespace" || k == "encryption") {
      return Bad(k, "not supported yet");
    } else {
      return Bad(k, "unknown field");
    }
  }
  return req;
}

namespace {

Result<TextRank> JsonToTextRank(El j, const std::string& path, int depth);

// A Saturate or Decay midpoint: a number > 0, or a duration ("90s", "15m", "6h", "30d",
// "2w", "250ms"; a decimal number before the unit) in milliseconds.
Result<double> JsonToMidpoint(El v, const std::string& path) {
  double m = 0;
  if (IsNumber(v)) {
    m = AsDouble(v);
  } else if (IsString(v)) {
    const std::string_view text = AsString(v);
    static constexpr std::pair<std::string_view, double> kUnits[] = {
        {"ms", 1.0}, {"s", 1e3}, {"m", 60e3}, {"h", 3600e3}, {"d", 86400e3}, {"w", 604800e3}};
    size_t digits = 0;
    while (digits < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[digits])) || text[digits] == '.')) {
      ++digits;
    }
    const std::string_view number = text.substr(0, digits), unit = text.substr(digits);
    double scale = 0;
    for (const auto& [name, ms] : kUnits) {
      if (unit == name) scale = ms;
    }
    double count = 0;
    const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), count);
    if (scale == 0 || number.empty() || ec != std::errc() || end != number.data() + number.size()) {
      return Bad(path, "expected a number or a duration such as \"6h\" (units ms, s, m, h, d, w)");
    }
    m = count * scale;
  } else {
    return Expected(path, "number or duration string", v);
  }
  if (!std::isfinite(m) || m <= 0) return Bad(path, "must be > 0");
  return m;
}

// An operand of Sum or Max: an expression, or a number (a constant >= 0).
Result<TextRank> JsonToTextRankOperand(El e, const std::string& path, int depth) {
  if (!IsNumber(e)) return JsonToTextRank(e, path, depth);
  TextRank c;
  c.op = TextRank::Op::kConst;
  c.weight = AsDouble(e);
  if (!std::isfinite(c.weight) || c.weight < 0) return Bad(path, "must be a finite number >= 0");
  return c;
}

// A full-text ranking expression (TextRank in gannet/request.h).
Result<TextRank> JsonToTextRank(El j, const std::string& path, int depth) {
  constexpr int kMaxDepth = 8;
  if (depth > kMaxDepth) {
    return Bad(path, "ranking expression nested deeper than " + std::to_string(kMaxDepth));
  }
  if (!IsArray(j) || ArraySize(j) < 2 || !IsString(Items(j)[0])) {
    return Expected(path,
                    "[\"attr\", \"BM25\", \"query\"], [\"Sum\", [...]], [\"Max\", [...]], "
                    "[\"Product\", weight, expr], a filter, [\"Attribute\", \"attr\"], "
                    "[\"Saturate\"|\"Decay\", expr, {\"midpoint\": m}] or [\"Dist\", expr, origin]",
                    j);
  }
  const std::vector<El> items = Items(j);
  const std::string head(AsString(items[0]));
  TextRank r;
  if (head == "Sum" || head == "Max") {
    r.op = head == "Sum" ? TextRank::Op::kSum : TextRank::Op::kMax;
    // ["Sum", [e, ...]], or the operands inline: ["Max", 0, ["Attribute", "clicks"]].
    const bool listed = items.size() == 2 && IsArray(items[1]);
    if (listed ? ArraySize(items[1]) == 0 : items.size() < 2) {
      return Bad(path, "expected [\"" + head + "\", [expr, ...]] with at least one expression");
    }
    const std::vector<El> operands =
        listed ? Items(items[1]) : std::vector<El>(items.begin() + 1, items.end());
    for (size_t i = 0; i < operands.size(); ++i) {
      const std::string epath = listed ? Idx(Idx(path, 1), i) : Idx(path, i + 1);
      GANNET_ASSIGN_OR_RETURN(TextRank c, JsonToTextRankOperand(operands[i], epath, depth + 1));
      r.children.push_back(std::move(c));
    }
    return r;
  }
  if (head == "Product") {
    r.op = TextRank::Op::kProduct;
    // ["Product", weight, expr] / ["Product", expr, weight] (turbopuffer's client) or
    // ["Product", [weight, expr]] (its query documentation).
    std::vector<El> pair;
    std::string ppath = path;
    if (items.size() == 3) {
      pair = {items[1], items[2]};
    } else if (items.size() == 2 && IsArray(items[1]) && ArraySize(items[1]) == 2 &&
               (IsNumber(Items(items[1])[0]) || IsNumber(Items(items[1])[1]))) {
      pair = Items(items[1]);
      ppath = Idx(path, 1);
    } else {
      return Bad(path, "expected [\"Product\", weight, expr]");
    }
    const size_t w = IsNumber(pair[0]) ? 0 : 1;
    const size_t off = ppath == path ? 1 : 0;  // index offset of pair within ppath
    if (!IsNumber(pair[w])) return Bad(path, "expected a number weight and an expression");
    r.weight = AsDouble(pair[w]);
    if (!std::isfinite(r.weight) || r.weight < 0) {
      return Bad(Idx(ppath, w + off), "weight must be a finite number >= 0");
    }
    GANNET_ASSIGN_OR_RETURN(TextRank c,
                            JsonToTextRank(pair[1 - w], Idx(ppath, 1 - w + off), depth + 1));
    r.children.push_back(std::move(c));
    return r;
  }
  if (head == "Attribute") {
    if (items.size() != 2 || !IsString(items[1])) {
      return Bad(path, "expected [\"Attribute\", \"attr\"]");
    }
    r.op = TextRank::Op::kAttribute;
    r.attr = std::string(AsString(items[1]));
    return r;
  }
  if (head == "Saturate" || head == "Decay") {
    r.op = head == "Saturate" ? TextRank::Op::kSaturate : TextRank::Op::kDecay;
    if (items.size() != 3) {
      return Bad(path, "expected [\"" + head + "\", expr, {\"midpoint\": m, \"exponent\": p}]");
    }
    GANNET_ASSIGN_OR_RETURN(TextRank c, JsonToTextRank(items[1], Idx(path, 1), depth + 1));
    r.children.push_back(std::move(c));
    const std::string ppath = Idx(path, 2);
    if (!IsObject(items[2])) return Expected(ppath, "object {\"midpoint\": m}", items[2]);
    bool has_midpoint = false;
    for (const auto& [key, v] : Obj(items[2])) {
      const std::string kpath = Sub(ppath, std::string(key));
      if (key == "midpoint") {
        GANNET_ASSIGN_OR_RETURN(r.midpoint, JsonToMidpoint(v, kpath));
        has_midpoint = true;
      } else if (key == "exponent") {
        if (!IsNumber(v)) return Expected(kpath, "number", v);
        r.exponent = AsDouble(v);
        if (!std::isfinite(r.exponent) || r.exponent <= 0) {
          return Bad(kpath, "must be a finite number > 0");
        }
      } else {
        return Bad(kpath, "unknown parameter (supported: midpoint, exponent)");
      }
    }
    if (!has_midpoint) return Bad(Sub(ppath, "midpoint"), "required");
    return r;
  }
  if (head == "Dist") {
    r.op = TextRank::Op::kDist;
    if (items.size() != 3) return Bad(path, "expected [\"Dist\", expr, origin]");
    GANNET_ASSIGN_OR_RETURN(TextRank c, JsonToTextRank(items[1], Idx(path, 1), depth + 1));
    r.children.push_back(std::move(c));
    const std::string opath = Idx(path, 2);
    if (IsNumber(items[2])) {
      r.origin = AsDouble(items[2]);
      if (!std::isfinite(r.origin)) return Bad(opath, "must be a finite number");
    } else if (IsString(items[2])) {
      Result<Datetime> t = Datetime::Parse(AsString(items[2]));
      if (!t.ok()) return Bad(opath, "expected a number or a datetime: " + t.status().message());
      r.origin = static_cast<double>(t->ms);
    } else {
      return Expected(opath, "number or datetime string", items[2]);
    }
    return r;
  }
  const bool bm25 = IsString(items[1]) && AsString(items[1]) == "BM25";
  if (!bm25) {
    // A filter as a ranking clause.
    if (head == "And" || head == "Or" || head == "Not" ||
        (IsString(items[1]) && ParseFilterOp(AsString(items[1])).ok())) {
      r.op = TextRank::Op::kFilter;
      GANNET_ASSIGN_OR_RETURN(Filter f, JsonToFilter(j, path, depth));
      r.filter.push_back(std::move(f));
      return r;
    }
    return Bad(Idx(path, 1), "expected \"BM25\" or a filter operator");
  }
  if (items.size() < 3 || items.size() > 4) {
    return Bad(path, "expected [\"" + head + "\", \"BM25\", \"query text\"]");
  }
  r.attr = head;
  if (IsString(items[2])) {
    r.query = std::string(AsString(items[2]));
  } else if (IsArray(items[2])) {
    r.query_is_array = true;
    size_t i = 0;
    for (El e : AsArray(items[2])) {
      if (!IsString(e)) return Expected(Idx(Idx(path, 2), i), "string", e);
      r.query_tokens.emplace_back(AsString(e));
      ++i;
    }
  } else {
    return Bad(path, "expected [\"" + head + "\", \"BM25\", \"query text\"]");
  }
  if (items.size() == 4) {
    GANNET_RETURN_IF_ERROR(ParseTokenOptions(items[3], Idx(path, 3), &r.last_as_prefix));
  }
  return r;
}

// Maximum number of sub-queries in one multi-query request (as turbopuffer).
constexpr size_t kMaxMultiQueries = 16;

Result<QueryRequest> MembersToQuery(const Obj& members) {
  QueryRequest q;
  bool has_top_k = false, has_limit = false, has_include = false, has_exclude = false;
  for (const auto& [key, v] : members) {
    const std::string k(key);
    if (k == "rank_by") {
      if (IsNull(v)) continue;
      const std::vector<El> items = IsArray(v) ? Items(v) : std::vector<El>();
      const bool combinator =
          items.size() >= 2 && IsString(items[0]) &&
          (AsString(items[0]) == "Sum" || AsString(items[0]) == "Max" ||
           AsString(items[0]) == "Product" || AsString(items[0]) == "Attribute" ||
           AsString(items[0]) == "Saturate" || AsString(items[0]) == "Decay" ||
           AsString(items[0]) == "Dist");
      if (combinator || (items.size() >= 2 && IsString(items[1]) && AsString(items[1]) == "BM25")) {
        GANNET_ASSIGN_OR_RETURN(TextRank tr, JsonToTextRank(v, k, 1));
        q.rank_by.kind = RankBy::Kind::kText;
        q.rank_by.text.push_back(std::move(tr));
        continue;
      }
      if (items.size() < 2 || !IsString(items[0]) || !IsString(items[1])) {
        return Bad(
            k,
            "expected [\"vector\", \"ANN\"|\"kNN\", vector], [\"attr\", \"asc\"|\"desc\"] or "
            "[\"attr\", \"BM25\", \"query\"]");
      }
      const std::string attr(AsString(items[0]));
      const std::string fn(AsString(items[1]));
      if (fn == "ANN" || fn == "kNN") {
        if (items.size() != 3) {
          return Bad(k, "expected [\"" + attr + "\", \"" + fn + "\", vector]");
        }
        q.rank_by.kind = RankBy::Kind::kVector;
        q.rank_by.attr = attr;
        q.rank_by.approximate = fn == "ANN";
        GANNET_ASSIGN_OR_RETURN(q.rank_by.vector, JsonToVector(items[2], Idx(k, 2)));
        if (q.rank_by.vector.empty()) return Bad(Idx(k, 2), "query vector is empty");
      } else if (fn == "asc" || fn == "desc") {
        if (items.size() != 2) return Bad(k, "expected [\"" + attr + "\", \"" + fn + "\"]");
        q.rank_by.kind = RankBy::Kind::kAttribute;
        q.rank_by.attr = attr;
        q.rank_by.descending = fn == "desc";
      } else if (fn == "SparseKNN") {
        return Bad(k, "ranking function 'SparseKNN' is not supported yet");
      } else {
        return Bad(Idx(k, 1), "unknown ranking function '" + fn.substr(0, 64) +
                                  "': expected ANN, kNN, asc or desc");
      }
    } else if (k == "filters") {
      if (IsNull(v)) continue;
      GANNET_ASSIGN_OR_RETURN(q.filters, JsonToFilter(v, k, 1));
    } else if (k == "top_k") {
      GANNET_ASSIGN_OR_RETURN(q.top_k, JsonToLimit(v, k));
      has_top_k = true;
    } else if (k == "limit") {
      if (IsObject(v)) {
        const Obj limit(v);
        for (const auto& f : limit) {
          if (f.key == "per") return Bad(Sub(k, "per"), "not supported yet");
          if (f.key != "total") return Bad(Sub(k, f.key), "unknown field");
        }
        const El* total = limit.Find("total");
        if (total == nullptr) return Bad(k, "missing \"total\"");
        GANNET_ASSIGN_OR_RETURN(q.top_k, JsonToLimit(*total, Sub(k, "total")));
      } else {
        GANNET_ASSIGN_OR_RETURN(q.top_k, JsonToLimit(v, k));
      }
      has_limit = true;
    } else if (k == "include_attributes") {
      has_include = true;
      if (IsBool(v)) {
        q.include_attributes.all = AsBool(v);
        q.include_attributes.names.clear();
      } else {
        GANNET_ASSIGN_OR_RETURN(q.include_attributes.names, JsonToStringList(v, k));
      }
    } else if (k == "exclude_attributes") {
      has_exclude = true;
      GANNET_ASSIGN_OR_RETURN(q.exclude_attributes, JsonToStringList(v, k));
    } else if (k == "aggregate_by") {
      if (!IsObject(v)) return Expected(k, "object of label -> aggregate", v);
      for (const auto& [label, fn] : Obj(v)) {
        const std::string apath = Sub(k, label);
        if (!IsArray(fn) || ArraySize(fn) == 0 || !IsString(Items(fn)[0])) {
          return Expected(apath, "aggregate like [\"Count\"]", fn);
        }
        const std::string name(AsString(Items(fn)[0]));
        if (name == "Count") {
          if (ArraySize(fn) != 1) return Bad(apath, "expected [\"Count\"]");
        } else if (name == "Sum") {
          return Bad(apath, "aggregate 'Sum' is not supported yet");
        } else {
          return Bad(apath, "unknown aggregate '" + name.substr(0, 64) + "'");
        }
        q.aggregate_by[std::string(label)] = name;
      }
    } else if (k == "group_by") {
      GANNET_ASSIGN_OR_RETURN(q.group_by, JsonToStringList(v, k));
    } else if (k == "consistency") {
      if (!IsObject(v)) return Expected(k, "object", v);
      for (const auto& [ckey, c] : Obj(v)) {
        if (ckey == "level") {
          if (IsString(c) && AsString(c) == "strong") {
            q.consistency = Consistency::kStrong;
          } else if (IsString(c) && AsString(c) == "eventual") {
            q.consistency = Consistency::kEventual;
          } else {
            return Bad(Sub(k, "level"), "expected \"strong\" or \"eventual\"");
          }
        } else if (ckey == "max_staleness_seconds") {
          // Accepted for compatibility; the staleness bound is the server's.
          if (!IsNumber(c)) return Expected(Sub(k, ckey), "number", c);
        } else {
          return Bad(Sub(k, ckey), "unknown field");
        }
      }
    } else if (k == "vector_encoding") {
      if (IsString(v) && AsString(v) == "float") {
        q.vector_encoding_base64 = false;
      } else if (IsString(v) && AsString(v) == "base64") {
        q.vector_encoding_base64 = true;
      } else {
        return Bad(k, "expected \"float\" or \"base64\"");
      }
    } else if (k == "distance_metric") {
      // Accepted for compatibility: the namespace's metric is used.
      GANNET_ASSIGN_OR_RETURN(DistanceMetric m, JsonToMetric(v, k));
      (void)m;
    } else if (k == "ann_recall") {
      // Gannet extension: the recall@10 a rank_by ANN query aims for.
      if (!IsNumber(v)) return Expected(k, "number", v);
      const double r = AsDouble(v);
      if (!(r > 0 && r <= 1)) return Bad(k, "must be in (0, 1], got " + std::to_string(r));
      q.ann_recall = r;
    } else if (k == "queries" || k == "rerank_by") {
      return Bad(k, "multi-query is not supported by this endpoint yet");
    } else {
      return Bad(k, "unknown field");
    }
  }
  if (has_top_k && has_limit) return Bad("limit", "specify only one of top_k and limit");
  if (has_include && has_exclude) {
    return Bad("exclude_attributes", "cannot be combined with include_attributes");
  }
  if (!q.aggregate_by.empty() && q.rank_by.kind != RankBy::Kind::kNone) {
    return Bad("aggregate_by", "cannot be combined with rank_by");
  }
  if (!q.group_by.empty() && q.aggregate_by.empty()) {
    return Bad("group_by", "requires aggregate_by");
  }
  return q;
}

Result<RankFusion> JsonToFusion(El j, const std::vector<QueryRequest>& queries) {
  const std::string path = "rank_fusion";
  if (!IsObject(j)) return Expected(path, "object", j);
  RankFusion f;
  for (const auto& [key, v] : Obj(j)) {
    const std::string k = Sub(path, key);
    if (key == "method") {
      if (!IsString(v) || (AsString(v) != "rrf" && AsString(v) != "linear")) {
        return Expected(k, "\"rrf\" or \"linear\"", v);
      }
      f.method = AsString(v) == "rrf" ? RankFusion::Method::kRrf : RankFusion::Method::kLinear;
    } else if (key == "rank_constant") {
      if (!IsNumber(v) || !std::isfinite(AsDouble(v)) || AsDouble(v) < 0) {
        return Expected(k, "number >= 0", v);
      }
      f.rank_constant = AsDouble(v);
    } else if (key == "weights") {
      if (!IsArray(v)) return Expected(k, "array of numbers", v);
      size_t i = 0;
      for (El e : AsArray(v)) {
        if (!IsNumber(e) || !std::isfinite(AsDouble(e)) || AsDouble(e) < 0) {
          return Expected(Idx(k, i), "number >= 0", e);
        }
        f.weights.push_back(AsDouble(e));
        ++i;
      }
    } else if (key == "top_k" || key == "limit") {
      GANNET_ASSIGN_OR_RETURN(f.top_k, JsonToLimit(v, k));
    } else {
      return Bad(k, "unknown field (method, rank_constant, weights, top_k)");
    }
  }
  if (!f.weights.empty() && f.weights.size() != queries.size()) {
    return Bad(Sub(path, "weights"), "expected one weight per query (" +
                                         std::to_string(queries.size()) + "), got " +
                                         std::to_string(f.weights.size()));
  }
  for (size_t i = 0; i < queries.size(); ++i) {
    if (!queries[i].aggregate_by.empty()) {
      return Bad(Idx("queries", i), "rank_fusion needs ranking queries, not aggregations");
    }
  }
  return f;
}

// turbopuffer's multi-query rerank_by: ["RRF"] or ["RRF", {"rank_constant": k > 0,
// "weights": [w > 0, one per query]}].
Result<RankFusion> JsonToRerank(El j, const std::vector<QueryRequest>& queries) {
  const std::string path = "rerank_by";
  if (!IsArray(j) || ArraySize(j) < 1 || ArraySize(j) > 2 || !IsString(Items(j)[0])) {
    return Expected(path, "[\"RRF\"] or [\"RRF\", {\"rank_constant\": k, \"weights\": [...]}]", j);
  }
  const std::vector<El> items = Items(j);
  if (AsString(items[0]) != "RRF") {
    return Bad(Idx(path, 0), "unsupported reranker '" +
                                 std::string(AsString(items[0])).substr(0, 64) +
                                 "' (supported: RRF)");
  }
  RankFusion f;
  if (items.size() == 2) {
    const std::string ppath = Idx(path, 1);
    if (!IsObject(items[1])) return Expected(ppath, "object", items[1]);
    for (const auto& [key, v] : Obj(items[1])) {
      const std::string k = Sub(ppath, key);
      if (key == "rank_constant") {
        if (!IsNumber(v) || !(AsDouble(v) > 0) || !std::isfinite(AsDouble(v))) {
          return Expected(k, "number > 0", v);
        }
        f.rank_constant = AsDouble(v);
      } else if (key == "weights") {
        if (!IsArray(v)) return Expected(k, "array of numbers", v);
        size_t i = 0;
        for (El e : AsArray(v)) {
          if (!IsNumber(e) || !(AsDouble(e) > 0) || !std::isfinite(AsDouble(e))) {
            return Expected(Idx(k, i), "number > 0", e);
          }
          f.weights.push_back(AsDouble(e));
          ++i;
        }
        if (f.weights.size() != queries.size()) {
          return Bad(k, "expected one weight per query (" + std::to_string(queries.size()) +
                            "), got " + std::to_string(f.weights.size()));
        }
      } else {
        return Bad(k, "unknown field (rank_constant, weights)");
      }
    }
  }
  for (size_t i = 0; i < queries.size(); ++i) {
    if (!queries[i].aggregate_by.empty()) {
      return Bad(Idx("queries", i), "rerank_by needs ranking queries, not aggregations");
    }
  }
  return f;
}

Result<QueryRequest> JsonToQuery(El j) {
  if (!IsObject(j)) return Expected("request", "object", j);
  return MembersToQuery(Obj(j));
}

}  // namespace

Result<QueryRequest> ParseQueryRequest(std::string_view json) {
  ParsedJson doc;
  GANNET_RETURN_IF_ERROR(doc.Parse(json));
  return JsonToQuery(doc.root());
}

Result<QueryBody> ParseQueryBody(std::string_view json) {
  ParsedJson doc;
  GANNET_RETURN_IF_ERROR(doc.Parse(json));
  const El j = doc.root();
  QueryBody body;
  if (!IsObject(j)) {
    GANNET_ASSIGN_OR_RETURN(QueryRequest q, JsonToQuery(j));
    body.queries.push_back(std::move(q));
    return body;
  }
  const Obj top(j);
  const El* queries = top.Find("queries");
  if (queries == nullptr) {
    GANNET_ASSIGN_OR_RETURN(QueryRequest q, MembersToQuery(top));
    body.queries.push_back(std::move(q));
    return body;
  }
  body.multi = true;
  // Top-level options apply to every sub-query.
  std::vector<Obj::Member> shared;
  const El* fusion = nullptr;
  const El* rerank = nullptr;
  const El* limit = nullptr;
  const El* offset = nullptr;
  for (const auto& m : top) {
    if (m.key == "queries") continue;
    if (m.key == "rank_fusion") {
      fusion = &m.value;
    } else if (m.key == "rerank_by") {
      rerank = &m.value;
    } else if (m.key == "limit") {
      limit = &m.value;
    } else if (m.key == "offset") {
      offset = &m.value;
    } else if (m.key == "consistency" || m.key == "vector_encoding") {
      shared.push_back(m);
    } else {
      return Bad(m.key, "unknown field");
    }
  }
  const El list = *queries;
  if (!IsArray(list)) return Expected("queries", "array of queries", list);
  const size_t n = ArraySize(list);
  if (n == 0) return Bad("queries", "must not be empty");
  if (n > kMaxMultiQueries) {
    return Bad("queries", "at most " + std::to_string(kMaxMultiQueries) + " queries, got " +
                              std::to_string(n));
  }
  for (El e : AsArray(list)) {
    const std::string path = Idx("queries", body.queries.size());
    if (!IsObject(e)) return Expected(path, "object", e);
    Obj sub(e);
    for (const auto& m : shared) {
      if (sub.Find(m.key) != nullptr) {
        return Bad(Sub(path, m.key), "set it once at the top level of the request");
      }
      sub.Insert(m);
    }
    Result<QueryRequest> q = MembersToQuery(sub);
    if (!q.ok()) return q.status().WithContext(path);
    body.queries.push_back(std::move(q).value());
  }
  if (fusion != nullptr && rerank != nullptr) {
    return Bad("rank_fusion", "cannot be combined with rerank_by");
  }
  if (fusion != nullptr) {
    GANNET_ASSIGN_OR_RETURN(body.fusion, JsonToFusion(*fusion, body.queries));
  }
  if (rerank == nullptr && (limit != nullptr || offset != nullptr)) {
    return Bad(limit != nullptr ? "limit" : "offset", "requires rerank_by");
  }
  if (rerank != nullptr) {
    GANNET_ASSIGN_OR_RETURN(body.fusion, JsonToRerank(*rerank, body.queries));
    body.rerank = true;
    if (limit != nullptr) {
      GANNET_ASSIGN_OR_RETURN(body.fusion->top_k, JsonToLimit(*limit, "limit"));
    }
    if (offset != nullptr) {
      if (limit == nullptr) return Bad("offset", "requires limit");
      if (!IsInteger(*offset) || AsDouble(*offset) < 0 || AsDouble(*offset) > 10000) {
        return Expected("offset", "integer between 0 and 10000", *offset);
      }
      body.offset = static_cast<uint32_t>(AsDouble(*offset));
    }
  }
  return body;
}

Result<Filter> ParseFilter(std::string_view json) {
  ParsedJson doc;
  GANNET_RETURN_IF_ERROR(doc.Parse(json));
  return JsonToFilter(doc.root(), "filters", 1);
}

Result<Schema> ParseSchema(std::string_view json) {
  ParsedJson doc;
  GANNET_RETURN_IF_ERROR(doc.Parse(json));
  return JsonToSchema(doc.root(), "schema");
}

std::string SchemaToJson(const Schema& schema) {
  Writer w;
  w.BeginObject();
  if (schema.id_type) {
    w.Key(kIdAttr);
    w.BeginObject();
    w.Key("type");
    w.String(ScalarTypeName(*schema.id_type));
    w.EndObject();
  }
  for (const auto& [name, a] : schema.attributes) {
    w.Key(name);
    w.BeginObject();
    w.Key("type");
    w.String(a.type.ToString());
    w.Key("filterable");
    w.Bool(a.filterable);
    w.Key("full_text_search");
    if (a.full_text_search.empty()) {
      w.Bool(false);
    } else {
      // Stored as JSON text; re-serialize so a malformed value cannot break the output.
      Json fts = Json::parse(a.full_text_search, nullptr, /*allow_exceptions=*/false);
      if (fts.is_discarded() || !(fts.is_boolean() || fts.is_object())) {
        w.Bool(true);
      } else {
        w.Raw(fts.dump(-1, ' ', false, Json::error_handler_t::replace));
      }
    }
    if (a.type.is_vector()) {
      w.Key("ann");
      w.Bool(true);
    }
    w.EndObject();
  }
  w.EndObject();
  return w.Take();
}

std::string WriteResponseToJson(const WriteResponse& r) {
  Writer w;
  w.BeginObject();
  w.Key("status");
  w.String("OK");
  w.Key("message");
  w.String("OK");
  w.Key("rows_affected");
  w.Uint(r.rows_affected);
  w.Key("rows_upserted");
  w.Uint(r.rows_upserted);
  w.Key("rows_patched");
  w.Uint(r.rows_patched);
  w.Key("rows_deleted");
  w.Uint(r.rows_deleted);
  WriteIdList(w, "upserted_ids", r.upserted_ids);
  WriteIdList(w, "patched_ids", r.patched_ids);
  WriteIdList(w, "deleted_ids", r.deleted_ids);
  w.Key("billing");
  w.BeginObject();
  w.Key("billable_logical_bytes_written");
  w.Uint(0);
  w.EndObject();
  w.EndObject();
  return w.Take();
}

namespace {

// The result members of a query response: rows, aggregations, aggregation_groups.
void WriteRows(JsonEvents& w, const std::vector<ResultRow>& rows, bool vector_base64) {
  w.BeginArray();
  for (const ResultRow& row : rows) {
    w.BeginObject();
    w.Key(kIdAttr);
    WriteId(w, row.id);
    if (row.dist) {
      w.Key("$dist");
      w.Double(*row.dist);
    }
    WriteAttrs(w, row.attrs, vector_base64);
    w.EndObject();
  }
  w.EndArray();
}

void WriteQueryResult(JsonEvents& w, const QueryResponse& r, bool vector_base64) {
  const bool aggregate = !r.aggregations.empty() || !r.aggregation_groups.empty();
  if (!aggregate) {
    w.Key("rows");
    WriteRows(w, r.rows, vector_base64);
  }
  if (!r.aggregations.empty()) {
    w.Key("aggregations");
    w.BeginObject();
    for (const auto& [label, value] : r.aggregations) {
      w.Key(label);
      WriteValue(w, value, vector_base64);
    }
    w.EndObject();
  }
  if (!r.aggregation_groups.empty()) {
    w.Key("aggregation_groups");
    w.BeginArray();
    for (const auto& group : r.aggregation_groups) {
      w.BeginObject();
      WriteAttrs(w, group, vector_base64);
      w.EndObject();
    }
    w.EndArray();
  }
}

// "performance" and "billing" members for one or several queries' stats.
void WriteQueryCosts(JsonEvents& w, const QueryStats& s) {
  const uint64_t lookups = s.cache_hits + s.objects_fetched;
  const double ratio = lookups == 0 ? 1.0 : static_cast<double>(s.cache_hits) / lookups;
  w.Key("performance");
  w.BeginObject();
  w.Key("server_total_ms");
  w.Uint(RoundMs(s.total_ms));
  w.Key("query_execution_ms");
  w.Uint(RoundMs(s.query_execution_ms));
  w.Key("exhaustive_search_count");
  w.Uint(s.exhaustive_search_count);
  w.Key("approx_namespace_size");
  w.Uint(s.approx_namespace_size);
  w.Key("cache_hit_ratio");
  w.Double(ratio);
  w.Key("cache_temperature");
  w.String(ratio >= 0.9 ? "hot" : ratio >= 0.5 ? "warm" : "cold");
  w.Key("rows_scanned");
  w.Uint(s.rows_scanned);
  w.Key("tail_rows");
  w.Uint(s.tail_rows);
  w.Key("objects_fetched");
  w.Uint(s.objects_fetched);
  w.Key("round_trips");
  w.Uint(s.round_trips);
  w.Key("bytes_read");
  w.Uint(s.bytes_read);
  w.Key("cache_hits");
  w.Uint(s.cache_hits);
  w.EndObject();
  w.Key("billing");
  w.BeginObject();
  w.Key("billable_logical_bytes_queried");
  w.Uint(s.bytes_read);
  w.Key("billable_logical_bytes_returned");
  w.Uint(0);
  w.EndObject();
}

}  // namespace

namespace {

void MultiQueryResponseToEvents(const std::vector<QueryResponse>& responses, bool vector_base64,
                                const std::vector<ResultRow>* fused, bool fused_only,
                                JsonEvents& w) {
  w.BeginObject();
  w.Key("results");
  w.BeginArray();
  QueryStats total;
  if (fused_only && fused != nullptr) {
    w.BeginObject();
    w.Key("rows");
    WriteRows(w, *fused, vector_base64);
    w.EndObject();
  }
  for (const QueryResponse& r : responses) {
    if (!fused_only) {
      w.BeginObject();
      WriteQueryResult(w, r, vector_base64);
      w.EndObject();
    }
    const QueryStats& s = r.stats;
    total.rows_scanned += s.rows_scanned;
    total.exhaustive_search_count += s.exhaustive_search_count;
    total.tail_rows += s.tail_rows;
    total.query_execution_ms += s.query_execution_ms;
    // The sub-queries share one snapshot: fetch figures and sizes are the same for all.
    total.objects_fetched = std::max(total.objects_fetched, s.objects_fetched);
    total.round_trips = std::max(total.round_trips, s.round_trips);
    total.bytes_read = std::max(total.bytes_read, s.bytes_read);
    total.cache_hits = std::max(total.cache_hits, s.cache_hits);
    total.approx_namespace_size = std::max(total.approx_namespace_size, s.approx_namespace_size);
    total.total_ms = std::max(total.total_ms, s.total_ms);
  }
  w.EndArray();
  if (fused != nullptr && !fused_only) {
    w.Key("fused");
    WriteRows(w, *fused, vector_base64);
  }
  WriteQueryCosts(w, total);
  w.EndObject();
}

}  // namespace

void QueryResponseToEvents(const QueryResponse& r, bool vector_base64, JsonEvents& w) {
  w.BeginObject();
  WriteQueryResult(w, r, vector_base64);
  WriteQueryCosts(w, r.stats);
  w.EndObject();
}

std::string QueryResponseToJson(const QueryResponse& r, bool vector_base64) {
  Writer w;
  QueryResponseToEvents(r, vector_base64, w);
  return w.Take();
}

std::string MultiQueryResponseToJson(const std::vector<QueryResponse>& responses,
                                     bool vector_base64, const std::vector<ResultRow>* fused,
                                     bool fused_only) {
  Writer w;
  MultiQueryResponseToEvents(responses, vector_base64, fused, fused_only, w);
  return w.Take();
}

void MultiQueryBodyResponseToEvents(const QueryBody& body,
                                    const std::vector<QueryResponse>& responses, bool vector_base64,
                                    JsonEvents& w) {
  if (!body.fusion) return MultiQueryResponseToEvents(responses, vector_base64, nullptr, false, w);
  RankFusion fusion = *body.fusion;
  fusion.top_k += body.offset;
  std::vector<ResultRow> fused = FuseRankings(body.queries, responses, fusion);
  fused.erase(fused.begin(), fused.begin() + std::min<size_t>(body.offset, fused.size()));
  MultiQueryResponseToEvents(responses, vector_base64, &fused, body.rerank, w);
}

std::string MultiQueryBodyResponseToJson(const QueryBody& body,
                                         const std::vector<QueryResponse>& responses,
                                         bool vector_base64) {
  Writer w;
  MultiQueryBodyResponseToEvents(body, responses, vector_base64, w);
  return w.Take();
}

std::string DocumentToJson(const Document& doc) {
  Writer w;
  w.BeginObject();
  w.Key(kIdAttr);
  WriteId(w, doc.id);
  WriteAttrs(w, doc.attrs, /*vector_base64=*/false);
  w.EndObject();
  return w.Take();
}

std::string ValueToJson(const Value& value) {
  Writer w;
  WriteValue(w, value, /*vector_base64=*/false);
  return w.Take();
}

std::string IdToJson(const Id& id) {
  Writer w;
  WriteId(w, id);
  return w.Take();
}

}  // namespace gannet
