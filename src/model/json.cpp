// JSON codec (gannet/json.h). Parsing uses nlohmann_json; output is written by a small
// streaming writer so that floats print in their shortest round-trip form and invalid
// UTF-8 from C++ callers cannot produce invalid JSON.
//
// No exception escapes: nlohmann is only called where its exceptions are caught or
// cannot occur (type-checked access).
#include "gannet/json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>

#include "model/base64.h"

namespace gannet {

namespace {

using Json = nlohmann::json;

// Input nesting deeper than this is rejected before parsing: bounds the stack used by
// the recursive conversions below (nlohmann's parser itself is iterative).
constexpr int kMaxJsonDepth = 512;
// Filter expressions nest at most this deep (And/Or/Not levels).
constexpr int kMaxFilterDepth = 64;
constexpr uint32_t kMaxTopK = 10000;

// ------------------------------------------------------------------------ helpers

std::string JsonTypeName(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "bool";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "integer";
    case Json::value_t::number_float:
      return "float";
    case Json::value_t::string:
      return "string";
    case Json::value_t::array:
      return "array";
    case Json::value_t::object:
      return "object";
    default:
      return "unsupported value";
  }
}

Status Bad(std::string_view path, std::string_view why) {
  std::string m(path);
  m += ": ";
  m += why;
  return Status::InvalidArgument(std::move(m));
}

Status Expected(std::string_view path, std::string_view what, const Json& got) {
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

Result<Json> ParseJson(std::string_view text) {
  GANNET_RETURN_IF_ERROR(CheckDepth(text));
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::exception& e) {
    return Status::InvalidArgument(std::string("malformed JSON: ") + e.what());
  } catch (const std::exception& e) {  // e.g. bad_alloc
    return Status::InvalidArgument(std::string("malformed JSON: ") + e.what());
  }
}

Value NumberToValue(const Json& j) {
  if (j.is_number_unsigned()) {
    const uint64_t u = j.get<uint64_t>();
    if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Value::Int(static_cast<int64_t>(u));
    }
    return Value::Uint(u);
  }
  if (j.is_number_integer()) return Value::Int(j.get<int64_t>());
  return Value::Float(j.get<double>());
}

// A scalar (non-null, non-array) JSON value.
Result<Value> JsonToScalar(const Json& j, std::string_view path) {
  if (j.is_boolean()) return Value::Bool(j.get<bool>());
  if (j.is_number()) return NumberToValue(j);
  if (j.is_string()) return Value::String(j.get<std::string>());
  return Expected(path, "bool, number or string", j);
}

// Any attribute / operand value: null, scalar, or an array of scalars.
Result<Value> JsonToValue(const Json& j, std::string_view path) {
  if (j.is_null()) return Value();
  if (j.is_array()) {
    std::vector<Value> out;
    out.reserve(j.size());
    for (size_t i = 0; i < j.size(); ++i) {
      const Json& e = j[i];
      if (e.is_null()) return Bad(Idx(path, i), "null is not allowed inside an array");
      if (e.is_array()) return Bad(Idx(path, i), "nested arrays are not supported");
      GANNET_ASSIGN_OR_RETURN(Value v, JsonToScalar(e, Idx(path, i)));
      out.push_back(std::move(v));
    }
    return Value::Array(std::move(out));
  }
  if (j.is_object()) return Expected(path, "a value (not an object)", j);
  return JsonToScalar(j, path);
}

// A vector: an array of numbers or a base64 string of little-endian f32.
Result<std::vector<float>> JsonToVector(const Json& j, std::string_view path) {
  if (j.is_string()) {
    auto r = model::DecodeBase64Floats(j.get_ref<const std::string&>());
    if (!r.ok()) return Bad(path, r.status().message());
    return std::move(r).value();
  }
  if (!j.is_array()) return Expected(path, "array of numbers or base64 string", j);
  std::vector<float> v;
  v.reserve(j.size());
  for (size_t i = 0; i < j.size(); ++i) {
    const Json& e = j[i];
    if (!e.is_number()) return Expected(Idx(path, i), "number", e);
    v.push_back(model::ToF32(e.get<double>()));
  }
  return v;
}

Result<Id> JsonToId(const Json& j, std::string_view path) {
  if (j.is_number_unsigned()) return Id(j.get<uint64_t>());
  if (j.is_number_integer()) {
    return Bad(path, "expected non-negative integer or string, got negative integer");
  }
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    if (s.size() > Id::kMaxStringBytes) {
      return Bad(path, "string id is " + std::to_string(s.size()) + " bytes; the limit is " +
                           std::to_string(Id::kMaxStringBytes));
    }
    return Id(s);
  }
  return Expected(path, "integer or string", j);
}

// The value of attribute `name` in a row. The attribute "vector" is decoded as a vector
// right away (it is always a vector attribute); other declared vector attributes arrive
// as arrays / base64 strings and are coerced by validation.
Result<Value> AttrValue(std::string_view name, const Json& j, std::string_view path) {
  if (name == kVectorAttr && !j.is_null()) {
    GANNET_ASSIGN_OR_RETURN(std::vector<float> v, JsonToVector(j, path));
    return Value::Vector(std::move(v));
  }
  return JsonToValue(j, path);
}

// Null in an upsert means "absent"; in a patch, "remove the attribute".
void SetAttr(Document& doc, const std::string& name, Value v, bool is_patch) {
  if (v.is_null() && !is_patch) return;
  doc.Set(name, std::move(v));
}

Status ParseRows(const Json& j, std::string_view path, bool is_patch, std::vector<Document>& out) {
  if (!j.is_array()) return Expected(path, "array of row objects", j);
  out.reserve(out.size() + j.size());
  for (size_t i = 0; i < j.size(); ++i) {
    const Json& row = j[i];
    const std::string rpath = Idx(path, i);
    if (!row.is_object()) return Expected(rpath, "object", row);
    auto id_it = row.find(kIdAttr);
    if (id_it == row.end()) return Bad(rpath, "missing \"id\"");
    Document doc;
    GANNET_ASSIGN_OR_RETURN(doc.id, JsonToId(*id_it, Sub(rpath, kIdAttr)));
    doc.attrs.reserve(row.size() - 1);
    for (auto it = row.begin(); it != row.end(); ++it) {
      if (it.key() == kIdAttr) continue;
      GANNET_ASSIGN_OR_RETURN(Value v, AttrValue(it.key(), it.value(), Sub(rpath, it.key())));
      SetAttr(doc, it.key(), std::move(v), is_patch);
    }
    out.push_back(std::move(doc));
  }
  return Status::OK();
}

Status ParseColumns(const Json& j, std::string_view path, bool is_patch,
                    std::vector<Document>& out) {
  if (!j.is_object()) return Expected(path, "object of columns", j);
  auto id_it = j.find(kIdAttr);
  if (id_it == j.end()) return Bad(path, "missing \"id\" column");
  const std::string id_path = Sub(path, kIdAttr);
  if (!id_it->is_array()) return Expected(id_path, "array of ids", *id_it);
  const size_t n = id_it->size();
  const size_t base = out.size();
  out.resize(base + n);
  for (size_t i = 0; i < n; ++i) {
    GANNET_ASSIGN_OR_RETURN(out[base + i].id, JsonToId((*id_it)[i], Idx(id_path, i)));
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == kIdAttr) continue;
    const std::string cpath = Sub(path, it.key());
    const Json& col = it.value();
    if (!col.is_array()) return Expected(cpath, "array", col);
    if (col.size() != n) {
      return Bad(cpath, "expected " + std::to_string(n) +
                            " values (the length of the id column), got " +
                            std::to_string(col.size()));
    }
    for (size_t i = 0; i < n; ++i) {
      GANNET_ASSIGN_OR_RETURN(Value v, AttrValue(it.key(), col[i], Idx(cpath, i)));
      SetAttr(out[base + i], it.key(), std::move(v), is_patch);
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

Result<Filter> JsonToFilter(const Json& j, const std::string& path, int depth) {
  if (depth > kMaxFilterDepth) {
    return Bad(path, "filter nesting deeper than " + std::to_string(kMaxFilterDepth) + " levels");
  }
  if (!j.is_array() || j.empty()) {
    return Expected(path, "filter array like [\"attr\", \"Eq\", value] or [\"And\", [...]]", j);
  }
  if (!j[0].is_string()) return Expected(Idx(path, 0), "string", j[0]);
  const std::string& head = j[0].get_ref<const std::string&>();
  Filter f;
  if (head == "And" || head == "Or") {
    f.op = head == "And" ? Filter::Op::kAnd : Filter::Op::kOr;
    if (j.size() != 2) return Bad(path, "expected [\"" + head + "\", [filters...]]");
    const Json& list = j[1];
    const std::string lpath = Idx(path, 1);
    if (!list.is_array()) return Expected(lpath, "array of filters", list);
    f.children.reserve(list.size());
    for (size_t i = 0; i < list.size(); ++i) {
      GANNET_ASSIGN_OR_RETURN(Filter c, JsonToFilter(list[i], Idx(lpath, i), depth + 1));
      f.children.push_back(std::move(c));
    }
    return f;
  }
  if (head == "Not") {
    f.op = Filter::Op::kNot;
    if (j.size() != 2) return Bad(path, "expected [\"Not\", filter]");
    GANNET_ASSIGN_OR_RETURN(Filter c, JsonToFilter(j[1], Idx(path, 1), depth + 1));
    f.children.push_back(std::move(c));
    return f;
  }
  if (j.size() < 2) return Bad(path, "expected [\"attr\", \"Op\", value]");
  if (!j[1].is_string()) return Expected(Idx(path, 1), "operator string", j[1]);
  auto op = ParseFilterOp(j[1].get_ref<const std::string&>());
  if (!op.ok()) return Bad(Idx(path, 1), op.status().message());
  if (*op == Filter::Op::kAnd || *op == Filter::Op::kOr || *op == Filter::Op::kNot) {
    return Bad(Idx(path, 1), "logical operator '" + j[1].get<std::string>() +
                                 "' must come first: [\"" + j[1].get<std::string>() + "\", ...]");
  }
  if (j.size() != 3) {
    return Bad(path, "expected [\"attr\", \"" + j[1].get<std::string>() + "\", value], got " +
                         std::to_string(j.size()) + " elements");
  }
  f.op = *op;
  f.attr = head;
  const Json& operand = j[2];
  const std::string opath = Idx(path, 2);
  if (operand.is_object()) {
    auto ref = operand.find("$ref_new");
    if (operand.size() != 1 || ref == operand.end()) {
      return Bad(opath, "expected a value or {\"$ref_new\": \"attr\"}, got object");
    }
    if (!ref->is_string()) return Expected(Sub(opath, "$ref_new"), "attribute name string", *ref);
    f.ref_new = ref->get<std::string>();
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

Result<ScalarType> ParseIdType(const Json& j, std::string_view path) {
  const Json* t = &j;
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it.key() != "type") return Bad(Sub(path, it.key()), "unknown field for the id");
    }
    auto it = j.find("type");
    if (it == j.end()) return Bad(path, "missing \"type\"");
    t = &*it;
  }
  const std::string tpath = j.is_object() ? Sub(path, "type") : std::string(path);
  if (!t->is_string()) return Expected(tpath, "type string", *t);
  const std::string& s = t->get_ref<const std::string&>();
  if (s == "uint") return ScalarType::kUint;
  if (s == "uuid") return ScalarType::kUuid;
  if (s == "string") return ScalarType::kString;
  return Bad(tpath, "id type must be uint, uuid or string, got \"" + s.substr(0, 64) + "\"");
}

Result<AttributeSchema> ParseAttributeSchema(const Json& j, std::string_view path) {
  AttributeSchema a;
  if (j.is_string()) {
    auto t = AttrType::Parse(j.get_ref<const std::string&>());
    if (!t.ok()) return Bad(path, t.status().message());
    a.type = *t;
    return a;
  }
  if (!j.is_object()) return Expected(path, "type string or object", j);
  auto type_it = j.find("type");
  if (type_it == j.end()) return Bad(path, "missing \"type\"");
  std::optional<bool> filterable;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const Json& v = it.value();
    const std::string kpath = Sub(path, k);
    if (k == "type") {
      if (!v.is_string()) return Expected(kpath, "type string", v);
      auto t = AttrType::Parse(v.get_ref<const std::string&>());
      if (!t.ok()) return Bad(kpath, t.status().message());
      a.type = *t;
    } else if (k == "filterable") {
      if (!v.is_boolean()) return Expected(kpath, "bool", v);
      filterable = v.get<bool>();
    } else if (k == "full_text_search") {
      if (v.is_boolean()) {
        a.full_text_search = v.get<bool>() ? "true" : "";
      } else if (v.is_object()) {
        a.full_text_search = v.dump();
      } else {
        return Expected(kpath, "bool or object", v);
      }
    } else if (k == "ann") {
      // Gannet indexes every vector attribute; accepted for compatibility.
      if (!v.is_boolean() && !v.is_object()) return Expected(kpath, "bool or object", v);
    } else if (k == "glob") {
      // Glob filters work on every string attribute; accepted for compatibility.
      if (!v.is_boolean()) return Expected(kpath, "bool", v);
    } else if (k == "regex" || k == "fuzzy") {
      if (!v.is_boolean()) return Expected(kpath, "bool", v);
      if (v.get<bool>()) return Bad(kpath, "not supported yet");
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

Result<Schema> JsonToSchema(const Json& j, std::string_view path) {
  if (!j.is_object()) return Expected(path, "object", j);
  Schema s;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string apath = Sub(path, it.key());
    if (it.key() == kIdAttr) {
      GANNET_ASSIGN_OR_RETURN(ScalarType t, ParseIdType(it.value(), apath));
      s.id_type = t;
      continue;
    }
    if (it.key().empty()) return Bad(path, "empty attribute name");
    GANNET_ASSIGN_OR_RETURN(AttributeSchema a, ParseAttributeSchema(it.value(), apath));
    s.attributes.emplace(it.key(), std::move(a));
  }
  return s;
}

Result<DistanceMetric> JsonToMetric(const Json& j, std::string_view path) {
  if (!j.is_string()) return Expected(path, "string", j);
  auto m = ParseDistanceMetric(j.get_ref<const std::string&>());
  if (!m.ok()) return Bad(path, m.status().message());
  return *m;
}

Result<std::vector<std::string>> JsonToStringList(const Json& j, std::string_view path) {
  if (!j.is_array()) return Expected(path, "array of strings", j);
  std::vector<std::string> out;
  out.reserve(j.size());
  for (size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_string()) return Expected(Idx(path, i), "string", j[i]);
    out.push_back(j[i].get<std::string>());
  }
  return out;
}

Result<uint32_t> JsonToLimit(const Json& j, std::string_view path) {
  if (!j.is_number_integer()) return Expected(path, "integer", j);
  if (j.is_number_unsigned()) {
    const uint64_t v = j.get<uint64_t>();
    if (v >= 1 && v <= kMaxTopK) return static_cast<uint32_t>(v);
  }
  return Bad(path, "must be between 1 and " + std::to_string(kMaxTopK) + ", got " + j.dump());
}

// ------------------------------------------------------------------------ writer

class Writer {
 public:
  std::string Take() { return std::move(out_); }

  void BeginObject() {
    Sep();
    out_ += '{';
    first_.push_back(true);
  }
  void EndObject() {
    out_ += '}';
    first_.pop_back();
  }
  void BeginArray() {
    Sep();
    out_ += '[';
    first_.push_back(true);
  }
  void EndArray() {
    out_ += ']';
    first_.pop_back();
  }
  void Key(std::string_view k) {
    Sep();
    Escaped(k);
    out_ += ':';
    after_key_ = true;
  }
  void Null() {
    Sep();
    out_ += "null";
  }
  void Bool(bool b) {
    Sep();
    out_ += b ? "true" : "false";
  }
  void Int(int64_t v) {
    Sep();
    out_ += std::to_string(v);
  }
  void Uint(uint64_t v) {
    Sep();
    out_ += std::to_string(v);
  }
  // Shortest round-trip form; always has a '.' or exponent so it reads back as a float.
  // Non-finite values have no JSON form and print as null.
  void Double(double d) {
    if (!std::isfinite(d)) return Null();
    Sep();
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof(buf), d);
    AppendNumber(buf, r.ptr);
  }
  void Float(float f) {
    if (!std::isfinite(f)) return Null();
    Sep();
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof(buf), f);
    AppendNumber(buf, r.ptr);
  }
  void String(std::string_view s) {
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

void WriteId(Writer& w, const Id& id) {
  if (id.is_uint()) {
    w.Uint(id.as_uint());
  } else {
    w.String(id.ToString());
  }
}

void WriteValue(Writer& w, const Value& v, bool vector_base64) {
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

void WriteIdList(Writer& w, std::string_view key, const std::optional<std::vector<Id>>& ids) {
  if (!ids) return;
  w.Key(key);
  w.BeginArray();
  for (const Id& id : *ids) WriteId(w, id);
  w.EndArray();
}

void WriteAttrs(Writer& w, const std::vector<std::pair<std::string, Value>>& attrs,
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
  GANNET_ASSIGN_OR_RETURN(Json j, ParseJson(json));
  if (!j.is_object()) return Expected("request", "object", j);
  WriteRequest req;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const Json& v = it.value();
    if (k == "upsert_rows") {
      GANNET_RETURN_IF_ERROR(ParseRows(v, k, /*is_patch=*/false, req.upserts));
    } else if (k == "upsert_columns") {
      GANNET_RETURN_IF_ERROR(ParseColumns(v, k, /*is_patch=*/false, req.upserts));
    } else if (k == "patch_rows") {
      GANNET_RETURN_IF_ERROR(ParseRows(v, k, /*is_patch=*/true, req.patches));
    } else if (k == "patch_columns") {
      GANNET_RETURN_IF_ERROR(ParseColumns(v, k, /*is_patch=*/true, req.patches));
    } else if (k == "deletes") {
      if (!v.is_array()) return Expected(k, "array of ids", v);
      req.deletes.reserve(v.size());
      for (size_t i = 0; i < v.size(); ++i) {
        GANNET_ASSIGN_OR_RETURN(Id id, JsonToId(v[i], Idx(k, i)));
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
      if (v.is_null()) continue;
      GANNET_ASSIGN_OR_RETURN(req.distance_metric, JsonToMetric(v, k));
    } else if (k == "schema") {
      if (v.is_null()) continue;
      GANNET_ASSIGN_OR_RETURN(req.schema, JsonToSchema(v, k));
    } else if (k == "return_affected_ids") {
      if (!v.is_boolean()) return Expected(k, "bool", v);
      req.return_affected_ids = v.get<bool>();
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

// Maximum number of sub-queries in one multi-query request (as turbopuffer).
constexpr size_t kMaxMultiQueries = 16;

Result<QueryRequest> JsonToQuery(const Json& j) {
  if (!j.is_object()) return Expected("request", "object", j);
  QueryRequest q;
  bool has_top_k = false, has_limit = false, has_include = false, has_exclude = false;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const Json& v = it.value();
    if (k == "rank_by") {
      if (v.is_null()) continue;
      if (!v.is_array() || v.size() < 2 || !v[0].is_string() || !v[1].is_string()) {
        return Bad(
            k, "expected [\"vector\", \"ANN\"|\"kNN\", vector] or [\"attr\", \"asc\"|\"desc\"]");
      }
      const std::string& attr = v[0].get_ref<const std::string&>();
      const std::string& fn = v[1].get_ref<const std::string&>();
      if (fn == "ANN" || fn == "kNN") {
        if (v.size() != 3) return Bad(k, "expected [\"" + attr + "\", \"" + fn + "\", vector]");
        q.rank_by.kind = RankBy::Kind::kVector;
        q.rank_by.attr = attr;
        q.rank_by.approximate = fn == "ANN";
        GANNET_ASSIGN_OR_RETURN(q.rank_by.vector, JsonToVector(v[2], Idx(k, 2)));
        if (q.rank_by.vector.empty()) return Bad(Idx(k, 2), "query vector is empty");
      } else if (fn == "asc" || fn == "desc") {
        if (v.size() != 2) return Bad(k, "expected [\"" + attr + "\", \"" + fn + "\"]");
        q.rank_by.kind = RankBy::Kind::kAttribute;
        q.rank_by.attr = attr;
        q.rank_by.descending = fn == "desc";
      } else if (fn == "BM25" || attr == "Sum" || attr == "Max" || attr == "Product" ||
                 fn == "SparseKNN") {
        return Bad(k, "ranking function '" + (fn == "BM25" || fn == "SparseKNN" ? fn : attr) +
                          "' is not supported yet");
      } else {
        return Bad(Idx(k, 1), "unknown ranking function '" + fn.substr(0, 64) +
                                  "': expected ANN, kNN, asc or desc");
      }
    } else if (k == "filters") {
      if (v.is_null()) continue;
      GANNET_ASSIGN_OR_RETURN(q.filters, JsonToFilter(v, k, 1));
    } else if (k == "top_k") {
      GANNET_ASSIGN_OR_RETURN(q.top_k, JsonToLimit(v, k));
      has_top_k = true;
    } else if (k == "limit") {
      if (v.is_object()) {
        for (auto f = v.begin(); f != v.end(); ++f) {
          if (f.key() == "per") return Bad(Sub(k, "per"), "not supported yet");
          if (f.key() != "total") return Bad(Sub(k, f.key()), "unknown field");
        }
        auto t = v.find("total");
        if (t == v.end()) return Bad(k, "missing \"total\"");
        GANNET_ASSIGN_OR_RETURN(q.top_k, JsonToLimit(*t, Sub(k, "total")));
      } else {
        GANNET_ASSIGN_OR_RETURN(q.top_k, JsonToLimit(v, k));
      }
      has_limit = true;
    } else if (k == "include_attributes") {
      has_include = true;
      if (v.is_boolean()) {
        q.include_attributes.all = v.get<bool>();
        q.include_attributes.names.clear();
      } else {
        GANNET_ASSIGN_OR_RETURN(q.include_attributes.names, JsonToStringList(v, k));
      }
    } else if (k == "exclude_attributes") {
      has_exclude = true;
      GANNET_ASSIGN_OR_RETURN(q.exclude_attributes, JsonToStringList(v, k));
    } else if (k == "aggregate_by") {
      if (!v.is_object()) return Expected(k, "object of label -> aggregate", v);
      for (auto a = v.begin(); a != v.end(); ++a) {
        const std::string apath = Sub(k, a.key());
        const Json& fn = a.value();
        if (!fn.is_array() || fn.empty() || !fn[0].is_string()) {
          return Expected(apath, "aggregate like [\"Count\"]", fn);
        }
        const std::string& name = fn[0].get_ref<const std::string&>();
        if (name == "Count") {
          if (fn.size() != 1) return Bad(apath, "expected [\"Count\"]");
        } else if (name == "Sum") {
          return Bad(apath, "aggregate 'Sum' is not supported yet");
        } else {
          return Bad(apath, "unknown aggregate '" + name.substr(0, 64) + "'");
        }
        q.aggregate_by[a.key()] = name;
      }
    } else if (k == "group_by") {
      GANNET_ASSIGN_OR_RETURN(q.group_by, JsonToStringList(v, k));
    } else if (k == "consistency") {
      if (!v.is_object()) return Expected(k, "object", v);
      for (auto c = v.begin(); c != v.end(); ++c) {
        if (c.key() == "level") {
          if (c->is_string() && c->get_ref<const std::string&>() == "strong") {
            q.consistency = Consistency::kStrong;
          } else if (c->is_string() && c->get_ref<const std::string&>() == "eventual") {
            q.consistency = Consistency::kEventual;
          } else {
            return Bad(Sub(k, "level"), "expected \"strong\" or \"eventual\"");
          }
        } else if (c.key() == "max_staleness_seconds") {
          // Accepted for compatibility; the staleness bound is the server's.
          if (!c->is_number()) return Expected(Sub(k, c.key()), "number", *c);
        } else {
          return Bad(Sub(k, c.key()), "unknown field");
        }
      }
    } else if (k == "vector_encoding") {
      if (v.is_string() && v.get_ref<const std::string&>() == "float") {
        q.vector_encoding_base64 = false;
      } else if (v.is_string() && v.get_ref<const std::string&>() == "base64") {
        q.vector_encoding_base64 = true;
      } else {
        return Bad(k, "expected \"float\" or \"base64\"");
      }
    } else if (k == "distance_metric") {
      // Accepted for compatibility: the namespace's metric is used.
      GANNET_ASSIGN_OR_RETURN(DistanceMetric m, JsonToMetric(v, k));
      (void)m;
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

}  // namespace

Result<QueryRequest> ParseQueryRequest(std::string_view json) {
  GANNET_ASSIGN_OR_RETURN(Json j, ParseJson(json));
  return JsonToQuery(j);
}

Result<QueryBody> ParseQueryBody(std::string_view json) {
  GANNET_ASSIGN_OR_RETURN(Json j, ParseJson(json));
  QueryBody body;
  if (!j.is_object() || !j.contains("queries")) {
    GANNET_ASSIGN_OR_RETURN(QueryRequest q, JsonToQuery(j));
    body.queries.push_back(std::move(q));
    return body;
  }
  body.multi = true;
  // Top-level options apply to every sub-query.
  Json shared = Json::object();
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    if (k == "queries") continue;
    if (k == "consistency" || k == "vector_encoding") {
      shared[k] = it.value();
    } else if (k == "rerank_by" || k == "limit" || k == "offset") {
      return Bad(k, "not supported yet");
    } else {
      return Bad(k, "unknown field");
    }
  }
  const Json& list = j["queries"];
  if (!list.is_array()) return Expected("queries", "array of queries", list);
  if (list.empty()) return Bad("queries", "must not be empty");
  if (list.size() > kMaxMultiQueries) {
    return Bad("queries", "at most " + std::to_string(kMaxMultiQueries) + " queries, got " +
                              std::to_string(list.size()));
  }
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string path = Idx("queries", i);
    if (!list[i].is_object()) return Expected(path, "object", list[i]);
    Json sub = list[i];
    for (auto it = shared.begin(); it != shared.end(); ++it) {
      if (sub.contains(it.key())) {
        return Bad(Sub(path, it.key()), "set it once at the top level of the request");
      }
      sub[it.key()] = it.value();
    }
    Result<QueryRequest> q = JsonToQuery(sub);
    if (!q.ok()) return q.status().WithContext(path);
    body.queries.push_back(std::move(q).value());
  }
  return body;
}

Result<Filter> ParseFilter(std::string_view json) {
  GANNET_ASSIGN_OR_RETURN(Json j, ParseJson(json));
  return JsonToFilter(j, "filters", 1);
}

Result<Schema> ParseSchema(std::string_view json) {
  GANNET_ASSIGN_OR_RETURN(Json j, ParseJson(json));
  return JsonToSchema(j, "schema");
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
void WriteQueryResult(Writer& w, const QueryResponse& r, bool vector_base64) {
  const bool aggregate = !r.aggregations.empty() || !r.aggregation_groups.empty();
  if (!aggregate) {
    w.Key("rows");
    w.BeginArray();
    for (const ResultRow& row : r.rows) {
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
void WriteQueryCosts(Writer& w, const QueryStats& s) {
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

std::string QueryResponseToJson(const QueryResponse& r, bool vector_base64) {
  Writer w;
  w.BeginObject();
  WriteQueryResult(w, r, vector_base64);
  WriteQueryCosts(w, r.stats);
  w.EndObject();
  return w.Take();
}

std::string MultiQueryResponseToJson(const std::vector<QueryResponse>& responses,
                                     bool vector_base64) {
  Writer w;
  w.BeginObject();
  w.Key("results");
  w.BeginArray();
  QueryStats total;
  for (const QueryResponse& r : responses) {
    w.BeginObject();
    WriteQueryResult(w, r, vector_base64);
    w.EndObject();
    const QueryStats& s = r.stats;
    total.rows_scanned += s.rows_scanned;
    total.exhaustive_search_count += s.exhaustive_search_count;
    total.tail_rows += s.tail_rows;
    total.query_execution_ms += s.query_execution_ms;
    // The sub-queries share one snapshot: fetch figures and sizes are the same for all.
    total.objects_fetched = std::max(total.objects_fetched, s.objects_fetched);
    total.bytes_read = std::max(total.bytes_read, s.bytes_read);
    total.cache_hits = std::max(total.cache_hits, s.cache_hits);
    total.approx_namespace_size = std::max(total.approx_namespace_size, s.approx_namespace_size);
    total.total_ms = std::max(total.total_ms, s.total_ms);
  }
  w.EndArray();
  WriteQueryCosts(w, total);
  w.EndObject();
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
