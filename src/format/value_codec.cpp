// Binary encoding of the data model. See value_codec.h and docs/format/wal.md.
#include "format/value_codec.h"

#include <bit>
#include <cstring>
#include <string>

namespace gannet::format {

namespace {

Status Bad(std::string_view what) { return Status::Corruption(std::string(what)); }

// A count read from disk is plausible only if each element could occupy at least
// `min_bytes` of the remaining input; this bounds every allocation by the input size.
Status GetCount(Reader& r, size_t min_bytes, std::string_view what, uint64_t* n) {
  if (!r.GetVarint(n)) return Bad(std::string("truncated ") + std::string(what) + " count");
  if (min_bytes > 0 && *n > r.remaining() / min_bytes) {
    return Bad(std::string(what) + " count " + std::to_string(*n) + " exceeds remaining bytes");
  }
  return Status::OK();
}

Status GetString(Reader& r, std::string_view what, std::string* out) {
  std::string_view b;
  if (!r.GetBytes(&b)) return Bad(std::string("truncated ") + std::string(what));
  out->assign(b.data(), b.size());
  return Status::OK();
}

Status GetUuid(Reader& r, Uuid* u) {
  std::string_view b;
  if (!r.GetRaw(16, &b)) return Bad("truncated uuid");
  std::memcpy(u->bytes.data(), b.data(), 16);
  return Status::OK();
}

void PutUuid(Writer& w, const Uuid& u) {
  w.PutRaw(std::string_view(reinterpret_cast<const char*>(u.bytes.data()), 16));
}

Status GetBool(Reader& r, bool* b) {
  uint8_t v;
  if (!r.GetU8(&v)) return Bad("truncated bool");
  if (v > 1) return Bad("bad bool byte " + std::to_string(v));
  *b = v != 0;
  return Status::OK();
}

// Optional<T> on disk: u8 0 (absent) or 1 (present) then T.
Status GetPresence(Reader& r, std::string_view what, bool* present) {
  uint8_t v;
  if (!r.GetU8(&v)) return Bad(std::string("truncated ") + std::string(what));
  if (v > 1) return Bad(std::string("bad presence byte for ") + std::string(what));
  *present = v != 0;
  return Status::OK();
}

Status GetOptionalFilter(Reader& r, std::string_view what, std::optional<Filter>* out) {
  bool present;
  GANNET_RETURN_IF_ERROR(GetPresence(r, what, &present));
  if (!present) {
    out->reset();
    return Status::OK();
  }
  Filter f;
  GANNET_RETURN_IF_ERROR(DecodeFilter(r, &f).WithContext(what));
  *out = std::move(f);
  return Status::OK();
}

void PutOptionalFilter(Writer& w, const std::optional<Filter>& f) {
  w.PutU8(f ? 1 : 0);
  if (f) EncodeFilter(w, *f);
}

Status GetDocuments(Reader& r, std::string_view what, std::vector<Document>* docs) {
  uint64_t n;
  // A document is at least 3 bytes: id tag, id payload, attribute count.
  GANNET_RETURN_IF_ERROR(GetCount(r, 3, what, &n));
  docs->clear();
  docs->resize(static_cast<size_t>(n));
  for (uint64_t i = 0; i < n; ++i) {
    GANNET_RETURN_IF_ERROR(DecodeDocument(r, &(*docs)[i])
                               .WithContext(std::string(what) + "[" + std::to_string(i) + "]"));
  }
  return Status::OK();
}

void PutDocuments(Writer& w, const std::vector<Document>& docs) {
  w.PutVarint(docs.size());
  for (const Document& d : docs) EncodeDocument(w, d);
}

}  // namespace

// ---- Id ---------------------------------------------------------------------------------

void EncodeId(Writer& w, const Id& id) {
  if (id.is_uint()) {
    w.PutU8(static_cast<uint8_t>(IdTag::kUint));
    w.PutVarint(id.as_uint());
  } else if (id.is_uuid()) {
    w.PutU8(static_cast<uint8_t>(IdTag::kUuid));
    PutUuid(w, id.as_uuid());
  } else {
    w.PutU8(static_cast<uint8_t>(IdTag::kString));
    w.PutBytes(id.as_string());
  }
}

Status DecodeId(Reader& r, Id* id) {
  uint8_t tag;
  if (!r.GetU8(&tag)) return Bad("truncated id");
  switch (static_cast<IdTag>(tag)) {
    case IdTag::kUint: {
      uint64_t v;
      if (!r.GetVarint(&v)) return Bad("truncated uint id");
      *id = Id(v);
      return Status::OK();
    }
    case IdTag::kUuid: {
      Uuid u;
      GANNET_RETURN_IF_ERROR(GetUuid(r, &u));
      *id = Id(u);
      return Status::OK();
    }
    case IdTag::kString: {
      std::string s;
      GANNET_RETURN_IF_ERROR(GetString(r, "string id", &s));
      *id = Id(std::move(s));
      return Status::OK();
    }
  }
  return Bad("bad id tag " + std::to_string(tag));
}

// ---- Value ------------------------------------------------------------------------------

void EncodeValue(Writer& w, const Value& v) {
  w.PutU8(static_cast<uint8_t>(v.kind()));
  switch (v.kind()) {
    case Value::Kind::kNull:
      break;
    case Value::Kind::kBool:
      w.PutU8(v.as_bool() ? 1 : 0);
      break;
    case Value::Kind::kInt:
      w.PutSignedVarint(v.as_int());
      break;
    case Value::Kind::kUint:
      w.PutVarint(v.as_uint());
      break;
    case Value::Kind::kFloat:
      w.PutDouble(v.as_float());
      break;
    case Value::Kind::kString:
      w.PutBytes(v.as_string());
      break;
    case Value::Kind::kDatetime:
      w.PutSignedVarint(v.as_datetime().ms);
      break;
    case Value::Kind::kUuid:
      PutUuid(w, v.as_uuid());
      break;
    case Value::Kind::kArray: {
      const auto& a = v.as_array();
      w.PutVarint(a.size());
      for (const Value& e : a) EncodeValue(w, e);
      break;
    }
    case Value::Kind::kVector: {
      const auto& vec = v.as_vector();
      w.PutVarint(vec.size());
      if constexpr (std::endian::native == std::endian::little) {
        w.PutRaw(std::string_view(reinterpret_cast<const char*>(vec.data()),
                                  vec.size() * sizeof(float)));
      } else {
        for (float f : vec) w.PutFloat(f);
      }
      break;
    }
  }
}

Status DecodeValue(Reader& r, Value* v, int depth) {
  if (depth > kMaxCodecDepth) return Bad("value nested too deeply");
  uint8_t kind;
  if (!r.GetU8(&kind)) return Bad("truncated value");
  switch (static_cast<Value::Kind>(kind)) {
    case Value::Kind::kNull:
      *v = Value();
      return Status::OK();
    case Value::Kind::kBool: {
      bool b;
      GANNET_RETURN_IF_ERROR(GetBool(r, &b));
      *v = Value::Bool(b);
      return Status::OK();
    }
    case Value::Kind::kInt: {
      int64_t i;
      if (!r.GetSignedVarint(&i)) return Bad("truncated int value");
      *v = Value::Int(i);
      return Status::OK();
    }
    case Value::Kind::kUint: {
      uint64_t u;
      if (!r.GetVarint(&u)) return Bad("truncated uint value");
      *v = Value::Uint(u);
      return Status::OK();
    }
    case Value::Kind::kFloat: {
      double d;
      if (!r.GetDouble(&d)) return Bad("truncated float value");
      *v = Value::Float(d);
      return Status::OK();
    }
    case Value::Kind::kString: {
      std::string s;
      GANNET_RETURN_IF_ERROR(GetString(r, "string value", &s));
      *v = Value::String(std::move(s));
      return Status::OK();
    }
    case Value::Kind::kDatetime: {
      int64_t ms;
      if (!r.GetSignedVarint(&ms)) return Bad("truncated datetime value");
      *v = Value::Time(Datetime{ms});
      return Status::OK();
    }
    case Value::Kind::kUuid: {
      Uuid u;
      GANNET_RETURN_IF_ERROR(GetUuid(r, &u));
      *v = Value::FromUuid(u);
      return Status::OK();
    }
    case Value::Kind::kArray: {
      uint64_t n;
      GANNET_RETURN_IF_ERROR(GetCount(r, 1, "array", &n));
      std::vector<Value> a(static_cast<size_t>(n));
      for (auto& e : a) GANNET_RETURN_IF_ERROR(DecodeValue(r, &e, depth + 1));
      *v = Value::Array(std::move(a));
      return Status::OK();
    }
    case Value::Kind::kVector: {
      uint64_t n;
      GANNET_RETURN_IF_ERROR(GetCount(r, sizeof(float), "vector", &n));
      std::vector<float> vec(static_cast<size_t>(n));
      std::string_view raw;
      if (!r.GetRaw(vec.size() * sizeof(float), &raw)) return Bad("truncated vector");
      if constexpr (std::endian::native == std::endian::little) {
        if (!raw.empty()) std::memcpy(vec.data(), raw.data(), raw.size());
      } else {
        Reader fr(raw);
        for (float& f : vec) (void)fr.GetFloat(&f);
      }
      *v = Value::Vector(std::move(vec));
      return Status::OK();
    }
  }
  return Bad("bad value kind " + std::to_string(kind));
}

// ---- Document ---------------------------------------------------------------------------

void EncodeDocument(Writer& w, const Document& doc) {
  EncodeId(w, doc.id);
  w.PutVarint(doc.attrs.size());
  for (const auto& [name, value] : doc.attrs) {
    w.PutBytes(name);
    EncodeValue(w, value);
  }
}

Status DecodeDocument(Reader& r, Document* doc) {
  GANNET_RETURN_IF_ERROR(DecodeId(r, &doc->id));
  uint64_t n;
  // An attribute is at least 2 bytes: an empty name's length and a null value's kind.
  GANNET_RETURN_IF_ERROR(GetCount(r, 2, "attribute", &n));
  doc->attrs.clear();
  doc->attrs.resize(static_cast<size_t>(n));
  for (auto& [name, value] : doc->attrs) {
    GANNET_RETURN_IF_ERROR(GetString(r, "attribute name", &name));
    GANNET_RETURN_IF_ERROR(DecodeValue(r, &value).WithContext("attribute '" + name + "'"));
  }
  return Status::OK();
}

// ---- AttrType / Schema ------------------------------------------------------------------

bool ValidScalarType(uint8_t v) { return v >= 1 && v <= 7; }
bool ValidVectorElem(uint8_t v) { return v == 1 || v == 2; }
bool ValidDistanceMetric(uint8_t v) { return v == 1 || v == 2; }

void EncodeAttrType(Writer& w, const AttrType& t) {
  w.PutU8(static_cast<uint8_t>(t.kind));
  w.PutU8(static_cast<uint8_t>(t.scalar));
  w.PutU8(static_cast<uint8_t>(t.elem));
  w.PutVarint(t.dims);
}

Status DecodeAttrType(Reader& r, AttrType* t) {
  uint8_t kind, scalar, elem;
  uint64_t dims;
  if (!r.GetU8(&kind) || !r.GetU8(&scalar) || !r.GetU8(&elem) || !r.GetVarint(&dims)) {
    return Bad("truncated attribute type");
  }
  if (kind < 1 || kind > 3) return Bad("bad attribute type kind " + std::to_string(kind));
  if (!ValidScalarType(scalar)) return Bad("bad scalar type " + std::to_string(scalar));
  if (!ValidVectorElem(elem)) return Bad("bad vector element type " + std::to_string(elem));
  if (dims > UINT32_MAX) return Bad("vector dims out of range");
  t->kind = static_cast<AttrType::Kind>(kind);
  t->scalar = static_cast<ScalarType>(scalar);
  t->elem = static_cast<VectorElem>(elem);
  t->dims = static_cast<uint32_t>(dims);
  return Status::OK();
}

void EncodeSchema(Writer& w, const Schema& schema) {
  w.PutU8(schema.id_type ? static_cast<uint8_t>(*schema.id_type) : 0);
  w.PutU8(schema.distance_metric ? static_cast<uint8_t>(*schema.distance_metric) : 0);
  w.PutVarint(schema.attributes.size());
  for (const auto& [name, attr] : schema.attributes) {
    w.PutBytes(name);
    EncodeAttrType(w, attr.type);
    w.PutU8(attr.filterable ? 1 : 0);
    w.PutBytes(attr.full_text_search);
  }
}

Status DecodeSchema(Reader& r, Schema* schema) {
  uint8_t id_type, metric;
  if (!r.GetU8(&id_type) || !r.GetU8(&metric)) return Bad("truncated schema");
  if (id_type != 0 && !ValidScalarType(id_type)) {
    return Bad("schema: bad id type " + std::to_string(id_type));
  }
  if (metric != 0 && !ValidDistanceMetric(metric)) {
    return Bad("schema: bad distance metric " + std::to_string(metric));
  }
  *schema = Schema();
  if (id_type != 0) schema->id_type = static_cast<ScalarType>(id_type);
  if (metric != 0) schema->distance_metric = static_cast<DistanceMetric>(metric);
  uint64_t n;
  // name length + 4 type bytes + filterable + fts length.
  GANNET_RETURN_IF_ERROR(GetCount(r, 7, "schema attribute", &n));
  const std::string* prev = nullptr;
  for (uint64_t i = 0; i < n; ++i) {
    std::string name;
    GANNET_RETURN_IF_ERROR(GetString(r, "schema attribute name", &name));
    AttributeSchema attr;
    GANNET_RETURN_IF_ERROR(DecodeAttrType(r, &attr.type).WithContext("schema '" + name + "'"));
    GANNET_RETURN_IF_ERROR(GetBool(r, &attr.filterable).WithContext("schema '" + name + "'"));
    GANNET_RETURN_IF_ERROR(GetString(r, "full_text_search", &attr.full_text_search));
    // Written from a sorted map: strictly ascending names, so no duplicate is dropped.
    if (prev != nullptr && !(*prev < name)) {
      return Bad("schema: attribute names not strictly ascending at '" + name + "'");
    }
    auto it =
        schema->attributes.emplace_hint(schema->attributes.end(), std::move(name), std::move(attr));
    prev = &it->first;
  }
  return Status::OK();
}

// ---- Filter -----------------------------------------------------------------------------

void EncodeFilter(Writer& w, const Filter& f) {
  // The high bit of the op byte carries last_as_prefix (full-text filters).
  w.PutU8(static_cast<uint8_t>(static_cast<uint8_t>(f.op) | (f.last_as_prefix ? 0x80 : 0)));
  w.PutBytes(f.attr);
  EncodeValue(w, f.value);
  w.PutU8(f.ref_new ? 1 : 0);
  if (f.ref_new) w.PutBytes(*f.ref_new);
  w.PutVarint(f.children.size());
  for (const Filter& c : f.children) EncodeFilter(w, c);
}

Status DecodeFilter(Reader& r, Filter* f, int depth) {
  if (depth > kMaxCodecDepth) return Bad("filter nested too deeply");
  uint8_t op;
  if (!r.GetU8(&op)) return Bad("truncated filter");
  f->last_as_prefix = (op & 0x80) != 0;
  op &= 0x7F;
  if (op > static_cast<uint8_t>(Filter::Op::kContainsTokenSequence)) {
    return Bad("bad filter op " + std::to_string(op));
  }
  f->op = static_cast<Filter::Op>(op);
  GANNET_RETURN_IF_ERROR(GetString(r, "filter attribute", &f->attr));
  GANNET_RETURN_IF_ERROR(DecodeValue(r, &f->value).WithContext("filter operand"));
  bool has_ref;
  GANNET_RETURN_IF_ERROR(GetPresence(r, "filter $ref_new", &has_ref));
  if (has_ref) {
    std::string ref;
    GANNET_RETURN_IF_ERROR(GetString(r, "filter $ref_new", &ref));
    f->ref_new = std::move(ref);
  } else {
    f->ref_new.reset();
  }
  uint64_t n;
  // A child filter is at least 5 bytes: op, attr length, value kind, ref flag, count.
  GANNET_RETURN_IF_ERROR(GetCount(r, 5, "filter child", &n));
  f->children.clear();
  f->children.resize(static_cast<size_t>(n));
  for (Filter& c : f->children) GANNET_RETURN_IF_ERROR(DecodeFilter(r, &c, depth + 1));
  return Status::OK();
}

// ---- WriteRequest -----------------------------------------------------------------------

void EncodeWriteRequest(Writer& w, const WriteRequest& req) {
  PutDocuments(w, req.upserts);
  PutDocuments(w, req.patches);
  w.PutVarint(req.deletes.size());
  for (const Id& id : req.deletes) EncodeId(w, id);
  PutOptionalFilter(w, req.delete_by_filter);
  PutOptionalFilter(w, req.upsert_condition);
  PutOptionalFilter(w, req.patch_condition);
  PutOptionalFilter(w, req.delete_condition);
  w.PutU8(req.distance_metric ? static_cast<uint8_t>(*req.distance_metric) : 0);
  w.PutU8(req.schema ? 1 : 0);
  if (req.schema) EncodeSchema(w, *req.schema);
  w.PutU8(req.return_affected_ids ? 1 : 0);
}

Status DecodeWriteRequest(Reader& r, WriteRequest* req) {
  *req = WriteRequest();
  GANNET_RETURN_IF_ERROR(GetDocuments(r, "upserts", &req->upserts));
  GANNET_RETURN_IF_ERROR(GetDocuments(r, "patches", &req->patches));
  uint64_t n;
  GANNET_RETURN_IF_ERROR(GetCount(r, 2, "deletes", &n));
  req->deletes.resize(static_cast<size_t>(n));
  for (uint64_t i = 0; i < n; ++i) {
    GANNET_RETURN_IF_ERROR(
        DecodeId(r, &req->deletes[i]).WithContext("deletes[" + std::to_string(i) + "]"));
  }
  GANNET_RETURN_IF_ERROR(GetOptionalFilter(r, "delete_by_filter", &req->delete_by_filter));
  GANNET_RETURN_IF_ERROR(GetOptionalFilter(r, "upsert_condition", &req->upsert_condition));
  GANNET_RETURN_IF_ERROR(GetOptionalFilter(r, "patch_condition", &req->patch_condition));
  GANNET_RETURN_IF_ERROR(GetOptionalFilter(r, "delete_condition", &req->delete_condition));
  uint8_t metric;
  if (!r.GetU8(&metric)) return Bad("truncated distance_metric");
  if (metric != 0 && !ValidDistanceMetric(metric)) {
    return Bad("bad distance_metric " + std::to_string(metric));
  }
  if (metric != 0) req->distance_metric = static_cast<DistanceMetric>(metric);
  bool has_schema;
  GANNET_RETURN_IF_ERROR(GetPresence(r, "schema", &has_schema));
  if (has_schema) {
    Schema s;
    GANNET_RETURN_IF_ERROR(DecodeSchema(r, &s).WithContext("request schema"));
    req->schema = std::move(s);
  }
  GANNET_RETURN_IF_ERROR(GetBool(r, &req->return_affected_ids).WithContext("return_affected_ids"));
  return Status::OK();
}

// ---- binary16 ---------------------------------------------------------------------------

uint16_t FloatToHalf(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t exp = (x >> 23) & 0xffu;
  uint32_t mant = x & 0x7fffffu;
  if (exp == 0xff) {  // inf or NaN; keep NaN quiet and non-zero
    return static_cast<uint16_t>(sign | 0x7c00u | (mant != 0 ? 0x200u | (mant >> 13) : 0u));
  }
  const int32_t e = static_cast<int32_t>(exp) - 127 + 15;       // rebiased exponent
  if (e >= 0x1f) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow -> inf
  if (e <= 0) {
    // Subnormal half (or underflow to zero). The value is mant' * 2^-24 where mant' is
    // the 24-bit significand shifted right by (14 - e) (1 - e + 13) bits.
    if (e < -10) return sign;  // below half the smallest subnormal: rounds to zero
    mant |= 0x800000u;         // implicit leading one
    const uint32_t shift = static_cast<uint32_t>(14 - e);
    uint32_t h = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1u))) ++h;  // may carry into the normal range
    return static_cast<uint16_t>(sign | h);
  }
  uint32_t h = (static_cast<uint32_t>(e) << 10) | (mant >> 13);
  const uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // carry may reach inf: correct
  return static_cast<uint16_t>(sign | h);
}

float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t x;
  if (exp == 0x1f) {
    x = sign | 0x7f800000u | (mant << 13);
  } else if (exp != 0) {
    x = sign | ((exp - 15 + 127) << 23) | (mant << 13);
  } else if (mant == 0) {
    x = sign;
  } else {
    // Subnormal: normalise.
    int32_t e = -14;
    while ((mant & 0x400u) == 0) {
      mant <<= 1;
      --e;
    }
    mant &= 0x3ffu;
    x = sign | (static_cast<uint32_t>(e + 127) << 23) | (mant << 13);
  }
  return std::bit_cast<float>(x);
}

}  // namespace gannet::format
