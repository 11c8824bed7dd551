// Write validation (model/validate.h).
//
// Order of work, so that every decision is made before anything is kept:
//   1. distance_metric and schema declarations are merged into `schema`;
//   2. ids are checked / coerced to the namespace's id type (inferred from the first id
//      when the namespace has none) and checked for duplicates;
//   3. upsert and patch values are coerced to their attributes' types; an attribute new
//      to the schema takes the type of its first non-null, non-empty value in request
//      order (so an empty array first and a typed array later is fine);
//   4. delete_by_filter and the conditions are bound against the resulting schema.
#include "model/validate.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "model/base64.h"
#include "model/filter_bind.h"
#include "text/analyzer.h"

namespace gannet::model {

namespace {

constexpr size_t kMaxAttrNameBytes = 128;
constexpr uint32_t kMaxVectorDims = 65536;
constexpr float kMaxF16 = 65504.0f;

std::string Quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

bool IsNumber(Value::Kind k) {
  return k == Value::Kind::kInt || k == Value::Kind::kUint || k == Value::Kind::kFloat;
}

Status Mismatch(const AttrType& type, std::string_view got) {
  return Status::InvalidArgument("expected " + type.ToString() + ", got " + std::string(got));
}

Status CheckAttrName(std::string_view name) {
  if (name.empty()) return Status::InvalidArgument("attribute name is empty");
  if (name[0] == '$') {
    return Status::InvalidArgument("attribute " + Quoted(name) + ": names must not start with '$'");
  }
  if (name == kIdAttr) {
    return Status::InvalidArgument("attribute 'id' is reserved for the document id");
  }
  if (name.size() > kMaxAttrNameBytes) {
    return Status::InvalidArgument("attribute name " + Quoted(name.substr(0, 32)) + "... is " +
                                   std::to_string(name.size()) + " bytes; the limit is " +
                                   std::to_string(kMaxAttrNameBytes));
  }
  return Status::OK();
}

Status CheckDeclaredType(std::string_view name, const AttrType& t) {
  if (t.is_vector() && (t.dims == 0 || t.dims > kMaxVectorDims)) {
    return Status::InvalidArgument("attribute " + Quoted(name) + ": vector dimension " +
                                   std::to_string(t.dims) + " is outside 1.." +
                                   std::to_string(kMaxVectorDims));
  }
  if (name == kVectorAttr && !t.is_vector()) {
    return Status::InvalidArgument(
        "attribute 'vector' must have a vector type ([N]f32 or "
        "[N]f16), got " +
        t.ToString());
  }
  return Status::OK();
}

Status CoerceScalar(Value& v, ScalarType t) {
  const AttrType type = AttrType::Scalar(t);
  const Value::Kind k = v.kind();
  switch (t) {
    case ScalarType::kString:
      if (k == Value::Kind::kString) return Status::OK();
      break;
    case ScalarType::kBool:
      if (k == Value::Kind::kBool) return Status::OK();
      break;
    case ScalarType::kInt:
      if (k == Value::Kind::kInt) return Status::OK();
      if (k == Value::Kind::kUint) {
        if (v.as_uint() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
          return Mismatch(type, "uint " + std::to_string(v.as_uint()) + " (out of int range)");
        }
        v = Value::Int(static_cast<int64_t>(v.as_uint()));
        return Status::OK();
      }
      break;
    case ScalarType::kUint:
      if (k == Value::Kind::kUint) return Status::OK();
      if (k == Value::Kind::kInt) {
        if (v.as_int() < 0) return Mismatch(type, "negative int " + std::to_string(v.as_int()));
        v = Value::Uint(static_cast<uint64_t>(v.as_int()));
        return Status::OK();
      }
      break;
    case ScalarType::kFloat:
      if (k == Value::Kind::kFloat) return Status::OK();
      if (k == Value::Kind::kInt) {
        v = Value::Float(static_cast<double>(v.as_int()));
        return Status::OK();
      }
      if (k == Value::Kind::kUint) {
        v = Value::Float(static_cast<double>(v.as_uint()));
        return Status::OK();
      }
      break;
    case ScalarType::kDatetime:
      if (k == Value::Kind::kDatetime) return Status::OK();
      if (k == Value::Kind::kString) {
        auto d = Datetime::Parse(v.as_string());
        if (!d.ok()) return Mismatch(type, "string (" + d.status().message() + ")");
        v = Value::Time(*d);
        return Status::OK();
      }
      break;
    case ScalarType::kUuid:
      if (k == Value::Kind::kUuid) return Status::OK();
      if (k == Value::Kind::kString) {
        auto u = Uuid::Parse(v.as_string());
        if (!u.ok()) return Mismatch(type, "string (" + u.status().message() + ")");
        v = Value::FromUuid(*u);
        return Status::OK();
      }
      break;
  }
  return Mismatch(type, v.KindName());
}

Status CoerceVector(Value& v, const AttrType& type) {
  std::vector<float> out;
  switch (v.kind()) {
    case Value::Kind::kVector:
      break;
    case Value::Kind::kArray: {
      const auto& elems = v.as_array();
      out.reserve(elems.size());
      for (size_t i = 0; i < elems.size(); ++i) {
        const Value& e = elems[i];
        if (e.kind() == Value::Kind::kFloat) {
          out.push_back(ToF32(e.as_float()));
        } else if (e.kind() == Value::Kind::kInt) {
          out.push_back(ToF32(static_cast<double>(e.as_int())));
        } else if (e.kind() == Value::Kind::kUint) {
          out.push_back(ToF32(static_cast<double>(e.as_uint())));
        } else {
          return Mismatch(
              type, "array with " + std::string(e.KindName()) + " at index " + std::to_string(i));
        }
      }
      v = Value::Vector(std::move(out));
      break;
    }
    case Value::Kind::kString: {
      auto decoded = DecodeBase64Floats(v.as_string());
      if (!decoded.ok()) return Mismatch(type, "string (" + decoded.status().message() + ")");
      v = Value::Vector(std::move(decoded).value());
      break;
    }
    default:
      return Mismatch(type, v.KindName());
  }
  const auto& vec = v.as_vector();
  if (vec.size() != type.dims) {
    return Mismatch(type, "vector of dimension " + std::to_string(vec.size()));
  }
  for (size_t i = 0; i < vec.size(); ++i) {
    if (!std::isfinite(vec[i])) {
      return Mismatch(type, "non-finite component at index " + std::to_string(i));
    }
    if (type.elem == VectorElem::kF16 && std::fabs(vec[i]) > kMaxF16) {
      return Mismatch(type, "component " + std::to_string(vec[i]) + " at index " +
                                std::to_string(i) + " (outside the f16 range)");
    }
  }
  return Status::OK();
}

// Infers the scalar type of a non-empty array's elements.
Result<ScalarType> InferArrayElem(const std::vector<Value>& elems) {
  bool any_float = false, any_uint = false, any_negative = false, any_int = false;
  std::optional<Value::Kind> kind;  // non-numeric kind, or kInt for "numeric"
  for (size_t i = 0; i < elems.size(); ++i) {
    const Value& e = elems[i];
    Value::Kind k = e.kind();
    if (k == Value::Kind::kNull || k == Value::Kind::kArray || k == Value::Kind::kVector) {
      return Status::InvalidArgument("arrays may hold only scalars, got " +
                                     std::string(e.KindName()) + " at index " + std::to_string(i));
    }
    if (IsNumber(k)) {
      any_float |= k == Value::Kind::kFloat;
      any_uint |= k == Value::Kind::kUint;
      any_int |= k == Value::Kind::kInt;
      any_negative |= k == Value::Kind::kInt && e.as_int() < 0;
      k = Value::Kind::kInt;
    }
    if (kind && *kind != k) {
      return Status::InvalidArgument("array mixes " + std::string(elems[0].KindName()) + " and " +
                                     std::string(e.KindName()) + " (at index " + std::to_string(i) +
                                     ")");
    }
    kind = k;
  }
  switch (*kind) {
    case Value::Kind::kInt:
      if (any_float) return ScalarType::kFloat;
      if (any_uint) {
        if (any_negative) {
          return Status::InvalidArgument(
              "array mixes negative integers and integers above the int64 range");
        }
        return ScalarType::kUint;
      }
      (void)any_int;
      return ScalarType::kInt;
    case Value::Kind::kBool:
      return ScalarType::kBool;
    case Value::Kind::kString:
      return ScalarType::kString;
    case Value::Kind::kDatetime:
      return ScalarType::kDatetime;
    case Value::Kind::kUuid:
      return ScalarType::kUuid;
    default:
      return Status::Internal("unexpected array element kind");
  }
}

// Coerces an id to the namespace's id type (inferring it when unset).
Status CoerceId(Id& id, std::optional<ScalarType>& id_type) {
  if (id.is_string() && id.as_string().size() > Id::kMaxStringBytes) {
    return Status::InvalidArgument("string id is " + std::to_string(id.as_string().size()) +
                                   " bytes; the limit is " + std::to_string(Id::kMaxStringBytes));
  }
  const ScalarType have = id.is_uint()   ? ScalarType::kUint
                          : id.is_uuid() ? ScalarType::kUuid
                                         : ScalarType::kString;
  if (!id_type) {
    id_type = have;
    return Status::OK();
  }
  if (*id_type == have) return Status::OK();
  if (*id_type == ScalarType::kUuid && id.is_string()) {
    auto u = Uuid::Parse(id.as_string());
    if (!u.ok())
      return Status::InvalidArgument("expected uuid id, got string (" + u.status().message() + ")");
    id = Id(*u);
    return Status::OK();
  }
  return Status::InvalidArgument("expected " + std::string(ScalarTypeName(*id_type)) + " id, got " +
                                 std::string(ScalarTypeName(have)));
}

struct Pending {
  Document* doc;
  std::string_view kind;  // "upsert" / "patch"
  size_t attr_index;
};

class Validator {
 public:
  Validator(WriteRequest& r, Schema& s) : req_(r), schema_(s) {}

  Status Run() {
    GANNET_RETURN_IF_ERROR(MergeMetric());
    GANNET_RETURN_IF_ERROR(MergeSchema());
    GANNET_RETURN_IF_ERROR(CheckIds());
    for (Document& d : req_.upserts) GANNET_RETURN_IF_ERROR(ValidateDoc(d, /*is_patch=*/false));
    for (Document& d : req_.patches) GANNET_RETURN_IF_ERROR(ValidateDoc(d, /*is_patch=*/true));
    GANNET_RETURN_IF_ERROR(ResolvePending());
    GANNET_RETURN_IF_ERROR(BindFilters());
    return Status::OK();
  }

 private:
  Status MergeMetric() {
    if (!req_.distance_metric) return Status::OK();
    if (schema_.distance_metric && *schema_.distance_metric != *req_.distance_metric) {
      return Status::InvalidArgument("distance_metric: namespace uses " +
                                     std::string(DistanceMetricName(*schema_.distance_metric)) +
                                     ", request has " +
                                     std::string(DistanceMetricName(*req_.distance_metric)));
    }
    schema_.distance_metric = req_.distance_metric;
    return Status::OK();
  }

  Status MergeSchema() {
    if (!req_.schema) return Status::OK();
    const Schema& decl = *req_.schema;
    if (decl.id_type) {
      const ScalarType t = *decl.id_type;
      if (t != ScalarType::kUint && t != ScalarType::kUuid && t != ScalarType::kString) {
        return Status::InvalidArgument("schema.id: id type must be uint, uuid or string, got " +
                                       std::string(ScalarTypeName(t)));
      }
      if (schema_.id_type && *schema_.id_type != t) {
        return Status::InvalidArgument("schema.id: declared type " +
                                       std::string(ScalarTypeName(t)) +
                                       " contradicts the namespace's id type " +
                                       std::string(ScalarTypeName(*schema_.id_type)));
      }
      schema_.id_type = t;
    }
    if (decl.distance_metric) {
      if (schema_.distance_metric && *schema_.distance_metric != *decl.distance_metric) {
        return Status::InvalidArgument("schema: distance_metric contradicts the namespace's");
      }
      schema_.distance_metric = decl.distance_metric;
    }
    for (const auto& [name, a] : decl.attributes) {
      Status s = CheckAttrName(name);
      if (!s.ok()) return s.WithContext("schema");
      GANNET_RETURN_IF_ERROR(CheckDeclaredType(name, a.type).WithContext("schema"));
      if (!a.full_text_search.empty() &&
          (a.type.is_vector() || a.type.scalar != ScalarType::kString)) {
        return Status::InvalidArgument("schema: attribute " + Quoted(name) +
                                       ": full_text_search requires string or []string, got " +
                                       a.type.ToString());
      }
      if (!a.full_text_search.empty()) {
        Result<text::FtsOptions> o = text::ParseFtsOptions(a.full_text_search);
        if (!o.ok()) {
          return o.status().WithContext("schema: attribute " + Quoted(name) + ": full_text_search");
        }
        if (o->tokenizer == text::TokenizerKind::kPreTokenizedArray && !a.type.is_array()) {
          return Status::InvalidArgument("schema: attribute " + Quoted(name) +
                                         ": full_text_search: tokenizer pre_tokenized_array "
                                         "requires type []string");
        }
      }
      auto it = schema_.attributes.find(name);
      if (it == schema_.attributes.end()) {
        schema_.attributes.emplace(name, a);
        continue;
      }
      if (!(it->second.type == a.type)) {
        return Status::InvalidArgument("schema: attribute " + Quoted(name) + ": declared type " +
                                       a.type.ToString() + " contradicts existing type " +
                                       it->second.type.ToString());
      }
      // Index options may change in place (as in turbopuffer).
      it->second.filterable = a.filterable;
      it->second.full_text_search = a.full_text_search;
    }
    return Status::OK();
  }

  Status CheckIds() {
    std::unordered_map<Id, std::string_view, IdHash> seen;
    seen.reserve(req_.upserts.size() + req_.patches.size() + req_.deletes.size());
    auto check = [&](Id& id, std::string_view kind) -> Status {
      const std::string before = id.ToString();
      Status s = CoerceId(id, schema_.id_type);
      if (!s.ok())
        return Status::InvalidArgument(std::string(kind) + " id=" + before + ": " + s.message());
      auto [it, inserted] = seen.emplace(id, kind);
      if (!inserted) {
        return Status::InvalidArgument(std::string(kind) + " id=" + id.ToString() +
                                       ": duplicate id in one request (also in " +
                                       std::string(it->second) + "s)");
      }
      return Status::OK();
    };
    for (Document& d : req_.upserts) GANNET_RETURN_IF_ERROR(check(d.id, "upsert"));
    for (Document& d : req_.patches) GANNET_RETURN_IF_ERROR(check(d.id, "patch"));
    for (Id& id : req_.deletes) GANNET_RETURN_IF_ERROR(check(id, "delete"));
    return Status::OK();
  }

  static Status RowError(std::string_view kind, const Document& d, std::string_view attr,
                         const Status& s) {
    return Status::InvalidArgument(std::string(kind) + " id=" + d.id.ToString() + ": attribute " +
                                   Quoted(attr) + ": " + s.message());
  }

  Status ValidateDoc(Document& d, bool is_patch) {
    const std::string_view kind = is_patch ? "patch" : "upsert";
    // Keep the Document invariant (sorted, unique names) even for hand-built documents.
    auto less = [](const auto& a, const auto& b) { return a.first < b.first; };
    if (!std::is_sorted(d.attrs.begin(), d.attrs.end(), less)) {
      std::stable_sort(d.attrs.begin(), d.attrs.end(), less);
    }
    for (size_t i = 1; i < d.attrs.size(); ++i) {
      if (d.attrs[i].first == d.attrs[i - 1].first) {
        return Status::InvalidArgument(std::string(kind) + " id=" + d.id.ToString() +
                                       ": attribute " + Quoted(d.attrs[i].first) +
                                       " appears twice");
      }
    }
    size_t out = 0;
    for (size_t i = 0; i < d.attrs.size(); ++i) {
      auto& [name, value] = d.attrs[i];
      Status s = CheckAttrName(name);
      if (!s.ok()) {
        return Status::InvalidArgument(std::string(kind) + " id=" + d.id.ToString() + ": " +
                                       s.message());
      }
      const AttributeSchema* a = schema_.Find(name);
      if (is_patch && ((a && a->type.is_vector()) || value.kind() == Value::Kind::kVector ||
                       name == kVectorAttr)) {
        return RowError(kind, d, name, Status::InvalidArgument("vectors cannot be patched"));
      }
      if (value.is_null()) {
        if (!is_patch) continue;  // absent in an upsert: dropped
        if (out != i) d.attrs[out] = std::move(d.attrs[i]);
        ++out;
        continue;
      }
      if (a == nullptr) {
        if (value.kind() == Value::Kind::kArray && value.as_array().empty()) {
          pending_.push_back({&d, kind, out});  // type decided by a later value
          if (out != i) d.attrs[out] = std::move(d.attrs[i]);
          ++out;
          continue;
        }
        auto t = InferType(name, value);
        if (!t.ok()) return RowError(kind, d, name, t.status());
        s = CheckDeclaredType(name, *t);
        if (!s.ok()) return RowError(kind, d, name, s);
        AttributeSchema added;
        added.type = *t;
        a = &schema_.attributes.emplace(name, added).first->second;
      }
      s = CoerceValue(value, a->type);
      if (!s.ok()) return RowError(kind, d, name, s);
      if (out != i) d.attrs[out] = std::move(d.attrs[i]);
      ++out;
    }
    d.attrs.resize(out);
    return Status::OK();
  }

  Status ResolvePending() {
    for (const Pending& p : pending_) {
      auto& [name, value] = p.doc->attrs[p.attr_index];
      const AttributeSchema* a = schema_.Find(name);
      if (a == nullptr) {
        return RowError(p.kind, *p.doc, name,
                        Status::InvalidArgument("cannot infer a type from an empty array; "
                                                "declare the attribute in the schema"));
      }
      Status s = CoerceValue(value, a->type);
      if (!s.ok()) return RowError(p.kind, *p.doc, name, s);
    }
    return Status::OK();
  }

  Status BindFilters() {
    if (req_.delete_by_filter) {
      GANNET_RETURN_IF_ERROR(BindFilterToSchema(*req_.delete_by_filter, schema_, false)
                                 .WithContext("delete_by_filter"));
    }
    if (req_.upsert_condition) {
      GANNET_RETURN_IF_ERROR(BindFilterToSchema(*req_.upsert_condition, schema_, true)
                                 .WithContext("upsert_condition"));
    }
    if (req_.patch_condition) {
      GANNET_RETURN_IF_ERROR(
          BindFilterToSchema(*req_.patch_condition, schema_, true).WithContext("patch_condition"));
    }
    if (req_.delete_condition) {
      GANNET_RETURN_IF_ERROR(BindFilterToSchema(*req_.delete_condition, schema_, true)
                                 .WithContext("delete_condition"));
    }
    return Status::OK();
  }

  WriteRequest& req_;
  Schema& schema_;
  std::vector<Pending> pending_;
};

}  // namespace

Result<AttrType> InferType(std::string_view name, const Value& value) {
  if (name == kVectorAttr) {
    size_t dims = 0;
    if (value.kind() == Value::Kind::kVector) {
      dims = value.as_vector().size();
    } else if (value.kind() == Value::Kind::kArray) {
      for (const Value& e : value.as_array()) {
        if (!IsNumber(e.kind())) {
          return Status::InvalidArgument("expected a vector (array of numbers), got array with " +
                                         std::string(e.KindName()));
        }
      }
      dims = value.as_array().size();
    } else {
      return Status::InvalidArgument("expected a vector, got " + std::string(value.KindName()));
    }
    if (dims == 0) return Status::InvalidArgument("expected a vector, got an empty one");
    if (dims > kMaxVectorDims) {
      return Status::InvalidArgument("vector dimension " + std::to_string(dims) +
                                     " exceeds the limit " + std::to_string(kMaxVectorDims));
    }
    return AttrType::Vector(static_cast<uint32_t>(dims));
  }
  switch (value.kind()) {
    case Value::Kind::kNull:
      return Status::InvalidArgument("cannot infer a type from null");
    case Value::Kind::kBool:
      return AttrType::Scalar(ScalarType::kBool);
    case Value::Kind::kInt:
      return AttrType::Scalar(ScalarType::kInt);
    case Value::Kind::kUint:
      return AttrType::Scalar(ScalarType::kUint);
    case Value::Kind::kFloat:
      return AttrType::Scalar(ScalarType::kFloat);
    case Value::Kind::kString:
      return AttrType::Scalar(ScalarType::kString);
    case Value::Kind::kDatetime:
      return AttrType::Scalar(ScalarType::kDatetime);
    case Value::Kind::kUuid:
      return AttrType::Scalar(ScalarType::kUuid);
    case Value::Kind::kVector: {
      const size_t dims = value.as_vector().size();
      if (dims == 0 || dims > kMaxVectorDims) {
        return Status::InvalidArgument("vector dimension " + std::to_string(dims) +
                                       " is outside 1.." + std::to_string(kMaxVectorDims));
      }
      return AttrType::Vector(static_cast<uint32_t>(dims));
    }
    case Value::Kind::kArray: {
      if (value.as_array().empty()) {
        return Status::InvalidArgument(
            "cannot infer a type from an empty array; declare the attribute in the schema");
      }
      GANNET_ASSIGN_OR_RETURN(ScalarType t, InferArrayElem(value.as_array()));
      return AttrType::Array(t);
    }
  }
  return Status::Internal("unknown value kind");
}

Status CoerceValue(Value& value, const AttrType& type) {
  if (value.is_null()) return Status::OK();
  switch (type.kind) {
    case AttrType::Kind::kScalar:
      if (value.kind() == Value::Kind::kArray || value.kind() == Value::Kind::kVector) {
        return Mismatch(type, value.KindName());
      }
      return CoerceScalar(value, type.scalar);
    case AttrType::Kind::kArray: {
      if (value.kind() != Value::Kind::kArray) return Mismatch(type, value.KindName());
      auto& elems = value.as_array();
      for (size_t i = 0; i < elems.size(); ++i) {
        Value& e = elems[i];
        if (e.is_null() || e.kind() == Value::Kind::kArray || e.kind() == Value::Kind::kVector) {
          return Mismatch(
              type, "array with " + std::string(e.KindName()) + " at index " + std::to_string(i));
        }
        Status s = CoerceScalar(e, type.scalar);
        if (!s.ok()) {
          return Mismatch(type, "array with " + std::string(e.KindName()) + " at index " +
                                    std::to_string(i) + " (" + s.message() + ")");
        }
      }
      return Status::OK();
    }
    case AttrType::Kind::kVector:
      return CoerceVector(value, type);
  }
  return Status::Internal("unknown attribute type kind");
}

Status ValidateWrite(WriteRequest& request, Schema& schema) {
  return Validator(request, schema).Run();
}

}  // namespace gannet::model
