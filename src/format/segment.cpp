// Segment and deletion-vector encoding. Layout: docs/format/segment.md and
// docs/format/deletion-vector.md.
#include "format/segment.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include "common/coding.h"
#include "format/frame.h"
#include "format/value_codec.h"

namespace gannet::format {

namespace {

enum : uint8_t { kCodecRaw = 0, kCodecZstd = 1 };
enum : uint8_t { kEncodingTyped = 1, kEncodingTagged = 2 };
enum : uint8_t { kPresenceAll = 0, kPresenceNone = 1, kPresenceBitmap = 2 };

constexpr size_t kSegmentTrailerBytes = 24;  // directory offset, length, checksum
static_assert(kSegmentTailBytes == kSegmentTrailerBytes + kFrameTrailerBytes);

Status Bad(const std::string& what) { return Status::Corruption("segment: " + what); }

size_t ElemBytes(VectorElem e) { return e == VectorElem::kF16 ? 2 : 4; }

// Version 2 added the vector chunks block (required when there are vectors).
constexpr uint32_t kSegmentVersion = 2;
constexpr uint64_t kMinChunkBytes = 512;

// ---- presence bitmaps -------------------------------------------------------------------

void PutBitmap(Writer& w, const std::vector<bool>& bits) {
  std::string& buf = w.buffer();
  const size_t start = buf.size();
  buf.resize(start + (bits.size() + 7) / 8, '\0');
  for (size_t i = 0; i < bits.size(); ++i) {
    if (bits[i]) buf[start + i / 8] = static_cast<char>(buf[start + i / 8] | (1 << (i % 8)));
  }
}

// Reads ceil(n/8) bytes into `bits` (size n); padding bits must be zero.
bool GetBitmap(Reader& r, size_t n, std::vector<bool>* bits, size_t* ones) {
  std::string_view b;
  if (!r.GetRaw((n + 7) / 8, &b)) return false;
  bits->assign(n, false);
  size_t count = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    const uint8_t byte = static_cast<uint8_t>(b[i]);
    if (byte == 0) continue;
    for (size_t j = 0; j < 8; ++j) {
      if ((byte >> j) & 1) {
        const size_t row = i * 8 + j;
        if (row >= n) return false;  // padding bit set
        (*bits)[row] = true;
        ++count;
      }
    }
  }
  if (ones != nullptr) *ones = count;
  return true;
}

void PutPresence(Writer& w, const std::vector<bool>& present, size_t n_present) {
  if (n_present == present.size()) {
    w.PutU8(kPresenceAll);
  } else if (n_present == 0) {
    w.PutU8(kPresenceNone);
  } else {
    w.PutU8(kPresenceBitmap);
    PutBitmap(w, present);
  }
}

Status GetPresence(Reader& r, size_t rows, std::vector<bool>* present, size_t* n_present) {
  uint8_t mode;
  if (!r.GetU8(&mode)) return Bad("truncated presence bitmap");
  switch (mode) {
    case kPresenceAll:
      present->assign(rows, true);
      *n_present = rows;
      return Status::OK();
    case kPresenceNone:
      present->assign(rows, false);
      *n_present = 0;
      return Status::OK();
    case kPresenceBitmap:
      if (!GetBitmap(r, rows, present, n_present)) return Bad("bad presence bitmap");
      return Status::OK();
  }
  return Bad("bad presence mode " + std::to_string(mode));
}

// ---- typed column values ----------------------------------------------------------------

Value::Kind ScalarKind(ScalarType t) {
  switch (t) {
    case ScalarType::kString:
      return Value::Kind::kString;
    case ScalarType::kInt:
      return Value::Kind::kInt;
    case ScalarType::kUint:
      return Value::Kind::kUint;
    case ScalarType::kFloat:
      return Value::Kind::kFloat;
    case ScalarType::kBool:
      return Value::Kind::kBool;
    case ScalarType::kDatetime:
      return Value::Kind::kDatetime;
    case ScalarType::kUuid:
      return Value::Kind::kUuid;
  }
  return Value::Kind::kNull;
}

bool MatchesType(const Value& v, const AttrType& t) {
  switch (t.kind) {
    case AttrType::Kind::kScalar:
      return v.kind() == ScalarKind(t.scalar);
    case AttrType::Kind::kArray: {
      if (v.kind() != Value::Kind::kArray) return false;
      const Value::Kind want = ScalarKind(t.scalar);
      for (const Value& e : v.as_array()) {
        if (e.kind() != want) return false;
      }
      return true;
    }
    case AttrType::Kind::kVector:
      return v.kind() == Value::Kind::kVector && v.as_vector().size() == t.dims && t.dims > 0;
  }
  return false;
}

// The type a segment uses for an attribute the schema does not name.
AttrType InferColumnType(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kBool:
      return AttrType::Scalar(ScalarType::kBool);
    case Value::Kind::kInt:
      return AttrType::Scalar(ScalarType::kInt);
    case Value::Kind::kUint:
      return AttrType::Scalar(ScalarType::kUint);
    case Value::Kind::kFloat:
      return AttrType::Scalar(ScalarType::kFloat);
    case Value::Kind::kDatetime:
      return AttrType::Scalar(ScalarType::kDatetime);
    case Value::Kind::kUuid:
      return AttrType::Scalar(ScalarType::kUuid);
    case Value::Kind::kArray: {
      const auto& a = v.as_array();
      if (!a.empty()) {
        const AttrType e = InferColumnType(a.front());
        if (e.kind == AttrType::Kind::kScalar) return AttrType::Array(e.scalar);
      }
      return AttrType::Array(ScalarType::kString);
    }
    case Value::Kind::kVector:
      return AttrType::Vector(static_cast<uint32_t>(v.as_vector().size()), VectorElem::kF32);
    case Value::Kind::kNull:
    case Value::Kind::kString:
      break;
  }
  return AttrType::Scalar(ScalarType::kString);
}

void PutScalar(Writer& w, const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kString:
      w.PutBytes(v.as_string());
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
    case Value::Kind::kBool:  // only inside arrays; scalar bool columns are bitmaps
      w.PutU8(v.as_bool() ? 1 : 0);
      break;
    case Value::Kind::kDatetime:
      w.PutSignedVarint(v.as_datetime().ms);
      break;
    case Value::Kind::kUuid:
      w.PutRaw(std::string_view(reinterpret_cast<const char*>(v.as_uuid().bytes.data()), 16));
      break;
    default:
      break;  // unreachable: MatchesType admitted only scalars
  }
}

Status GetScalar(Reader& r, ScalarType t, Value* out) {
  switch (t) {
    case ScalarType::kString: {
      std::string_view b;
      if (!r.GetBytes(&b)) return Bad("truncated string value");
      *out = Value::String(std::string(b));
      return Status::OK();
    }
    case ScalarType::kInt: {
      int64_t v;
      if (!r.GetSignedVarint(&v)) return Bad("truncated int value");
      *out = Value::Int(v);
      return Status::OK();
    }
    case ScalarType::kUint: {
      uint64_t v;
      if (!r.GetVarint(&v)) return Bad("truncated uint value");
      *out = Value::Uint(v);
      return Status::OK();
    }
    case ScalarType::kFloat: {
      double v;
      if (!r.GetDouble(&v)) return Bad("truncated float value");
      *out = Value::Float(v);
      return Status::OK();
    }
    case ScalarType::kBool: {
      uint8_t v;
      if (!r.GetU8(&v) || v > 1) return Bad("bad bool value");
      *out = Value::Bool(v != 0);
      return Status::OK();
    }
    case ScalarType::kDatetime: {
      int64_t v;
      if (!r.GetSignedVarint(&v)) return Bad("truncated datetime value");
      *out = Value::Time(Datetime{v});
      return Status::OK();
    }
    case ScalarType::kUuid: {
      std::string_view b;
      if (!r.GetRaw(16, &b)) return Bad("truncated uuid value");
      Uuid u;
      std::memcpy(u.bytes.data(), b.data(), 16);
      *out = Value::FromUuid(u);
      return Status::OK();
    }
  }
  return Bad("bad scalar type");
}

// Encodes n elements of `v` into `dst` (n * ElemBytes(elem) bytes).
void EncodeVectorElems(const float* v, size_t n, VectorElem elem, char* dst) {
  if (elem == VectorElem::kF32) {
    if constexpr (std::endian::native == std::endian::little) {
      if (n > 0) std::memcpy(dst, v, n * 4);
    } else {
      for (size_t i = 0; i < n; ++i) {
        const uint32_t u = std::bit_cast<uint32_t>(v[i]);
        for (size_t b = 0; b < 4; ++b) dst[i * 4 + b] = static_cast<char>(u >> (8 * b));
      }
    }
  } else {
    for (size_t i = 0; i < n; ++i) {
      const uint16_t h = FloatToHalf(v[i]);
      dst[i * 2] = static_cast<char>(h & 0xff);
      dst[i * 2 + 1] = static_cast<char>(h >> 8);
    }
  }
}

void PutVectorElems(Writer& w, const float* v, size_t n, VectorElem elem) {
  std::string& buf = w.buffer();
  const size_t start = buf.size();
  buf.resize(start + n * ElemBytes(elem));
  EncodeVectorElems(v, n, elem, buf.data() + start);
}

// Decodes n elements from `src` (n * ElemBytes(elem) bytes) into `dst`.
void GetVectorElems(const char* src, size_t n, VectorElem elem, float* dst) {
  if (elem == VectorElem::kF32) {
    if constexpr (std::endian::native == std::endian::little) {
      if (n > 0) std::memcpy(dst, src, n * 4);
    } else {
      for (size_t i = 0; i < n; ++i) {
        uint32_t u = 0;
        for (size_t b = 0; b < 4; ++b) {
          u |= static_cast<uint32_t>(static_cast<uint8_t>(src[i * 4 + b])) << (8 * b);
        }
        dst[i] = std::bit_cast<float>(u);
      }
    }
  } else {
    for (size_t i = 0; i < n; ++i) {
      const uint16_t h = static_cast<uint16_t>(static_cast<uint8_t>(src[2 * i]) |
                                               (static_cast<uint8_t>(src[2 * i + 1]) << 8));
      dst[i] = HalfToFloat(h);
    }
  }
}

void PutTyped(Writer& w, const Value& v, const AttrType& t) {
  switch (t.kind) {
    case AttrType::Kind::kScalar:
      PutScalar(w, v);
      break;
    case AttrType::Kind::kArray:
      w.PutVarint(v.as_array().size());
      for (const Value& e : v.as_array()) PutScalar(w, e);
      break;
    case AttrType::Kind::kVector:
      PutVectorElems(w, v.as_vector().data(), t.dims, t.elem);
      break;
  }
}

Status GetTyped(Reader& r, const AttrType& t, Value* out) {
  switch (t.kind) {
    case AttrType::Kind::kScalar:
      return GetScalar(r, t.scalar, out);
    case AttrType::Kind::kArray: {
      uint64_t n;
      if (!r.GetVarint(&n)) return Bad("truncated array length");
      // Every element takes at least one byte.
      if (n > r.remaining()) return Bad("array length exceeds block");
      std::vector<Value> a(static_cast<size_t>(n));
      for (Value& e : a) GANNET_RETURN_IF_ERROR(GetScalar(r, t.scalar, &e));
      *out = Value::Array(std::move(a));
      return Status::OK();
    }
    case AttrType::Kind::kVector: {
      std::string_view b;
      if (!r.GetRaw(static_cast<size_t>(t.dims) * ElemBytes(t.elem), &b)) {
        return Bad("truncated vector value");
      }
      std::vector<float> v(t.dims);
      GetVectorElems(b.data(), t.dims, t.elem, v.data());
      *out = Value::Vector(std::move(v));
      return Status::OK();
    }
  }
  return Bad("bad attribute type");
}

// ---- ids --------------------------------------------------------------------------------

// Ids ascending: uint ids, then uuids, then strings (Id's order).
void PutIds(Writer& w, const std::vector<const Document*>& docs) {
  size_t n_uint = 0, n_uuid = 0;
  for (const Document* d : docs) {
    n_uint += d->id.is_uint();
    n_uuid += d->id.is_uuid();
  }
  w.PutVarint(n_uint);
  w.PutVarint(n_uuid);
  w.PutVarint(docs.size() - n_uint - n_uuid);
  uint64_t prev = 0;
  std::string_view prev_str;
  for (const Document* d : docs) {
    const Id& id = d->id;
    if (id.is_uint()) {
      w.PutVarint(id.as_uint() - prev);  // first: the value itself; then gaps >= 1
      prev = id.as_uint();
    } else if (id.is_uuid()) {
      w.PutRaw(std::string_view(reinterpret_cast<const char*>(id.as_uuid().bytes.data()), 16));
    } else {
      // Front coding: shared prefix length with the previous string id, then the suffix.
      const std::string& s = id.as_string();
      size_t shared = 0;
      const size_t max_shared = std::min(s.size(), prev_str.size());
      while (shared < max_shared && s[shared] == prev_str[shared]) ++shared;
      w.PutVarint(shared);
      w.PutBytes(std::string_view(s).substr(shared));
      prev_str = s;
    }
  }
}

Status GetIds(Reader& r, uint64_t rows, std::vector<Id>* ids) {
  uint64_t n_uint, n_uuid, n_string;
  if (!r.GetVarint(&n_uint) || !r.GetVarint(&n_uuid) || !r.GetVarint(&n_string)) {
    return Bad("truncated id counts");
  }
  // Each id occupies at least one byte (uuids 16), which bounds the counts.
  if (n_uint > r.remaining() || n_uuid > r.remaining() / 16 || n_string > r.remaining() ||
      n_uint + n_uuid + n_string != rows) {
    return Bad("id counts do not match the row count");
  }
  ids->clear();
  ids->reserve(static_cast<size_t>(rows));
  uint64_t prev = 0;
  for (uint64_t i = 0; i < n_uint; ++i) {
    uint64_t gap;
    if (!r.GetVarint(&gap)) return Bad("truncated uint ids");
    if (i > 0 && gap == 0) return Bad("uint ids not strictly ascending");
    if (gap > std::numeric_limits<uint64_t>::max() - prev) return Bad("uint id overflow");
    prev += gap;
    ids->emplace_back(prev);
  }
  Uuid prev_uuid;
  for (uint64_t i = 0; i < n_uuid; ++i) {
    std::string_view b;
    if (!r.GetRaw(16, &b)) return Bad("truncated uuid ids");
    Uuid u;
    std::memcpy(u.bytes.data(), b.data(), 16);
    if (i > 0 && !(prev_uuid < u)) return Bad("uuid ids not strictly ascending");
    prev_uuid = u;
    ids->emplace_back(u);
  }
  std::string prev_str;
  for (uint64_t i = 0; i < n_string; ++i) {
    uint64_t shared;
    std::string_view suffix;
    if (!r.GetVarint(&shared) || !r.GetBytes(&suffix)) return Bad("truncated string ids");
    if (shared > prev_str.size()) return Bad("string id prefix longer than previous id");
    std::string s = prev_str.substr(0, static_cast<size_t>(shared));
    s.append(suffix);
    if (i > 0 && !(prev_str < s)) return Bad("string ids not strictly ascending");
    prev_str = s;
    ids->emplace_back(std::move(s));
  }
  if (!r.done()) return Bad("trailing bytes in id block");
  return Status::OK();
}

// ---- encoder ----------------------------------------------------------------------------

struct ColumnPlan {
  std::string name;
  AttrType type;
  bool typed = true;
  std::vector<bool> present;
  size_t n_present = 0;
  Writer values;
  std::vector<bool> bools;  // values of a typed scalar bool column
};

struct PendingBlock {
  SegmentBlockKind kind;
  std::string name;
  AttrType type;
  std::string raw;
  bool compressible = true;
};

// The vector chunks block: varint rows per chunk, then the XXH3-64 of each chunk's bytes.
void PutVectorChunkChecksums(Writer& w, std::string_view vectors, size_t rows, uint32_t dims,
                             VectorElem elem) {
  const uint32_t per = VectorRowsPerChunk(dims, elem);
  const size_t chunk_bytes = size_t{per} * dims * ElemBytes(elem);
  w.PutVarint(per);
  for (size_t row = 0; row < rows; row += per) {
    w.PutFixed64(Checksum64(vectors.substr(row * dims * ElemBytes(elem), chunk_bytes)));
  }
}

void PutDirectoryBlock(Writer& w, const SegmentBlockRef& b) {
  w.PutU8(static_cast<uint8_t>(b.kind));
  w.PutBytes(b.name);
  if (b.kind == SegmentBlockKind::kColumn) EncodeAttrType(w, b.type);
  w.PutU8(b.zstd ? kCodecZstd : kCodecRaw);
  w.PutVarint(b.offset);
  w.PutVarint(b.stored_bytes);
  w.PutVarint(b.raw_bytes);
  w.PutFixed64(b.checksum);
}

}  // namespace

uint32_t VectorRowsPerChunk(uint32_t dims, VectorElem elem) {
  const uint64_t row_bytes = uint64_t{dims} * ElemBytes(elem);
  return row_bytes == 0 ? 1 : static_cast<uint32_t>((kMinChunkBytes + row_bytes - 1) / row_bytes);
}

std::string EncodeSegment(const std::vector<Document>& input, const Schema& schema) {
  // Order (defensively: sorted, last of equal ids wins).
  std::vector<const Document*> docs;
  docs.reserve(input.size());
  for (const Document& d : input) docs.push_back(&d);
  bool sorted = true;
  for (size_t i = 1; i < docs.size() && sorted; ++i) sorted = docs[i - 1]->id < docs[i]->id;
  if (!sorted) {
    std::stable_sort(docs.begin(), docs.end(),
                     [](const Document* a, const Document* b) { return a->id < b->id; });
    std::vector<const Document*> unique;
    unique.reserve(docs.size());
    for (const Document* d : docs) {
      if (!unique.empty() && unique.back()->id == d->id) {
        unique.back() = d;
      } else {
        unique.push_back(d);
      }
    }
    docs.swap(unique);
  }
  const size_t rows = docs.size();

  // Columns: every schema attribute plus any attribute the schema lacks.
  std::map<std::string, AttrType, std::less<>> types;
  for (const auto& [name, attr] : schema.attributes) types.emplace(name, attr.type);
  for (const Document* d : docs) {
    for (const auto& [name, value] : d->attrs) {
      if (value.is_null() || types.find(name) != types.end()) continue;
      types.emplace(name, InferColumnType(value));
    }
  }
  std::vector<ColumnPlan> cols;
  cols.reserve(types.size());
  for (auto& [name, type] : types) {
    ColumnPlan c;
    c.name = name;
    c.type = type;
    c.present.assign(rows, false);
    cols.push_back(std::move(c));
  }
  auto find_col = [&](std::string_view name) -> ColumnPlan* {
    auto it = std::lower_bound(cols.begin(), cols.end(), name,
                               [](const ColumnPlan& c, std::string_view n) { return c.name < n; });
    return it != cols.end() && it->name == name ? &*it : nullptr;
  };
  // Pass 1: presence and type conformance.
  for (size_t row = 0; row < rows; ++row) {
    for (const auto& [name, value] : docs[row]->attrs) {
      if (value.is_null()) continue;
      ColumnPlan* c = find_col(name);
      if (c == nullptr || c->present[row]) continue;  // (duplicate name: first wins)
      c->present[row] = true;
      ++c->n_present;
      if (c->typed && !MatchesType(value, c->type)) c->typed = false;
    }
  }
  // The vector block takes the "vector" column when it is a well-formed vector column.
  ColumnPlan* vec_col = find_col(kVectorAttr);
  uint32_t dims = 0;
  VectorElem elem = VectorElem::kF32;
  if (vec_col != nullptr && vec_col->type.is_vector() && vec_col->typed && vec_col->n_present > 0) {
    dims = vec_col->type.dims;
    elem = vec_col->type.elem;
  } else {
    vec_col = nullptr;
  }
  // Pass 2: values.
  std::string vectors;
  if (dims != 0) vectors.resize(rows * dims * ElemBytes(elem), '\0');
  // last_row[c] == row once column c got this row's value (a repeated name keeps the first).
  std::vector<size_t> last_row(cols.size(), SIZE_MAX);
  for (size_t row = 0; row < rows; ++row) {
    for (const auto& [name, value] : docs[row]->attrs) {
      if (value.is_null()) continue;
      ColumnPlan* c = find_col(name);
      if (c == nullptr) continue;
      const size_t ci = static_cast<size_t>(c - cols.data());
      if (last_row[ci] == row) continue;
      last_row[ci] = row;
      if (c == vec_col) {
        EncodeVectorElems(value.as_vector().data(), dims, elem,
                          vectors.data() + row * dims * ElemBytes(elem));
      } else if (!c->typed) {
        EncodeValue(c->values, value);
      } else if (c->type.kind == AttrType::Kind::kScalar && c->type.scalar == ScalarType::kBool) {
        c->bools.push_back(value.as_bool());
      } else {
        PutTyped(c->values, value, c->type);
      }
    }
  }

  // Blocks.
  std::vector<PendingBlock> blocks;
  {
    Writer w;
    PutIds(w, docs);
    blocks.push_back({SegmentBlockKind::kIds, "", AttrType(), w.Release(), true});
  }
  if (dims != 0) {
    Writer w;
    PutPresence(w, vec_col->present, vec_col->n_present);
    blocks.push_back({SegmentBlockKind::kVectorPresence, "", AttrType(), w.Release(), true});
    // Raw, so a re-ranker can fetch one row's vector by byte range, and checksummed in
    // chunks of a few rows, so that what it fetches can be verified.
    Writer chunks;
    PutVectorChunkChecksums(chunks, vectors, rows, dims, elem);
    blocks.push_back({SegmentBlockKind::kVectors, "", AttrType(), std::move(vectors), false});
    blocks.push_back({SegmentBlockKind::kVectorChunks, "", AttrType(), chunks.Release(), false});
  }
  for (ColumnPlan& c : cols) {
    if (&c == vec_col) continue;
    Writer w;
    w.PutU8(c.typed ? kEncodingTyped : kEncodingTagged);
    PutPresence(w, c.present, c.n_present);
    if (c.typed && c.type.kind == AttrType::Kind::kScalar && c.type.scalar == ScalarType::kBool) {
      PutBitmap(w, c.bools);
    } else {
      w.PutRaw(c.values.buffer());
    }
    c.values = Writer();
    blocks.push_back({SegmentBlockKind::kColumn, c.name, c.type, w.Release(), true});
  }

  // Object: frame header, blocks, directory, trailer, frame checksum.
  size_t total = kFrameOverheadBytes + kSegmentTrailerBytes + 256;
  for (const PendingBlock& b : blocks) total += b.raw.size();
  Writer out;
  out.buffer().reserve(total);
  BeginFrame(out, ObjectKind::kSegment, kSegmentVersion);
  SegmentDirectory dir;
  dir.rows = rows;
  dir.dims = dims;
  dir.elem = elem;
  std::string compressed;
  for (PendingBlock& b : blocks) {
    SegmentBlockRef ref;
    ref.kind = b.kind;
    ref.name = b.name;
    ref.type = b.type;
    ref.raw_bytes = b.raw.size();
    ref.zstd = b.compressible && b.raw.size() >= kCompressThresholdBytes &&
               ZstdCompressIfSmaller(b.raw, &compressed);
    const std::string_view stored = ref.zstd ? std::string_view(compressed) : b.raw;
    ref.offset = out.size();
    ref.stored_bytes = stored.size();
    ref.checksum = Checksum64(stored);
    out.PutRaw(stored);
    std::string().swap(b.raw);
    dir.blocks.push_back(std::move(ref));
  }
  Writer d;
  d.PutVarint(dir.rows);
  d.PutVarint(dir.dims);
  d.PutU8(static_cast<uint8_t>(dir.elem));
  d.PutU8(rows > 0 ? 1 : 0);
  if (rows > 0) {
    EncodeId(d, docs.front()->id);
    EncodeId(d, docs.back()->id);
  }
  d.PutVarint(dir.blocks.size());
  for (const SegmentBlockRef& b : dir.blocks) PutDirectoryBlock(d, b);
  const uint64_t dir_offset = out.size();
  out.PutRaw(d.buffer());
  out.PutFixed64(dir_offset);
  out.PutFixed64(d.size());
  out.PutFixed64(Checksum64(d.buffer()));
  FinishFrame(out);
  return out.Release();
}

// ---- layout decoding --------------------------------------------------------------------

Result<SegmentDirectoryLocation> LocateSegmentDirectory(std::string_view tail,
                                                        uint64_t object_size) {
  if (tail.size() != kSegmentTailBytes) return Bad("tail must be 32 bytes");
  if (object_size < kFrameOverheadBytes + kSegmentTrailerBytes) return Bad("object too small");
  Reader r(tail);
  SegmentDirectoryLocation loc;
  if (!r.GetFixed64(&loc.offset) || !r.GetFixed64(&loc.length) || !r.GetFixed64(&loc.checksum)) {
    return Bad("truncated trailer");
  }
  const uint64_t dir_end = object_size - kSegmentTailBytes;
  if (loc.offset < kFrameHeaderBytes || loc.offset > dir_end ||
      loc.length != dir_end - loc.offset) {
    return Bad("directory location out of range");
  }
  return loc;
}

Result<SegmentDirectory> DecodeSegmentDirectory(std::string_view bytes,
                                                const SegmentDirectoryLocation& loc) {
  if (bytes.size() != loc.length) return Bad("directory length mismatch");
  if (kVerifyChecksums && Checksum64(bytes) != loc.checksum)
    return Bad("directory checksum mismatch");
  Reader r(bytes);
  SegmentDirectory dir;
  uint64_t dims;
  uint8_t elem, has_range;
  if (!r.GetVarint(&dir.rows) || !r.GetVarint(&dims) || !r.GetU8(&elem) || !r.GetU8(&has_range)) {
    return Bad("truncated directory");
  }
  if (dir.rows > std::numeric_limits<uint32_t>::max()) return Bad("row count out of range");
  if (dims > std::numeric_limits<uint32_t>::max()) return Bad("dims out of range");
  if (!ValidVectorElem(elem)) return Bad("bad vector element type");
  if (has_range != (dir.rows > 0 ? 1 : 0)) return Bad("bad id range flag");
  dir.dims = static_cast<uint32_t>(dims);
  dir.elem = static_cast<VectorElem>(elem);
  if (has_range) {
    Id lo, hi;
    GANNET_RETURN_IF_ERROR(DecodeId(r, &lo).WithContext("segment: min id"));
    GANNET_RETURN_IF_ERROR(DecodeId(r, &hi).WithContext("segment: max id"));
    if (hi < lo) return Bad("min id above max id");
    dir.min_id = std::move(lo);
    dir.max_id = std::move(hi);
  }
  uint64_t n;
  // A block entry is at least 14 bytes: kind, name length, codec, 3 varints, checksum.
  if (!r.GetVarint(&n) || n > r.remaining() / 12) return Bad("bad block count");
  dir.blocks.resize(static_cast<size_t>(n));
  for (SegmentBlockRef& b : dir.blocks) {
    uint8_t kind, codec;
    std::string_view name;
    if (!r.GetU8(&kind) || !r.GetBytes(&name)) return Bad("truncated block entry");
    if (kind < 1 || kind > 5) return Bad("bad block kind " + std::to_string(kind));
    b.kind = static_cast<SegmentBlockKind>(kind);
    b.name.assign(name.data(), name.size());
    if (b.kind == SegmentBlockKind::kColumn) {
      GANNET_RETURN_IF_ERROR(
          DecodeAttrType(r, &b.type).WithContext("segment: column '" + b.name + "'"));
    } else if (!b.name.empty()) {
      return Bad("unexpected name on a non-column block");
    }
    if (!r.GetU8(&codec) || !r.GetVarint(&b.offset) || !r.GetVarint(&b.stored_bytes) ||
        !r.GetVarint(&b.raw_bytes) || !r.GetFixed64(&b.checksum)) {
      return Bad("truncated block entry");
    }
    if (codec > kCodecZstd) return Bad("bad block codec " + std::to_string(codec));
    b.zstd = codec == kCodecZstd;
    if (b.offset < kFrameHeaderBytes || b.offset > loc.offset ||
        b.stored_bytes > loc.offset - b.offset) {
      return Bad("block range out of bounds");
    }
    if (b.raw_bytes > kMaxFramePayloadBytes || (!b.zstd && b.raw_bytes != b.stored_bytes)) {
      return Bad("bad block length");
    }
  }
  if (!r.done()) return Bad("trailing bytes in directory");
  return dir;
}

// ---- Segment::Decode --------------------------------------------------------------------

namespace {

// Heap bytes a value owns beyond sizeof(Value) (strings past the small-string buffer).
size_t HeapBytes(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kString:
      return v.as_string().size() > 15 ? v.as_string().capacity() + 1 : 0;
    case Value::Kind::kArray: {
      size_t n = v.as_array().capacity() * sizeof(Value);
      for (const Value& e : v.as_array()) n += HeapBytes(e);
      return n;
    }
    case Value::Kind::kVector:
      return v.as_vector().capacity() * sizeof(float);
    default:
      return 0;
  }
}

}  // namespace

size_t Segment::ComputeMemoryBytes() const {
  size_t n = sizeof(Segment) + ids_.capacity() * sizeof(Id) + vectors_.capacity() * sizeof(float) +
             vector_present_.capacity() / 8 + chunk_checksums_.capacity() * sizeof(uint64_t);
  for (const Id& id : ids_) {
    if (id.is_string() && id.as_string().size() > 15) n += id.as_string().capacity() + 1;
  }
  for (const Column& c : columns_) {
    n += sizeof(Column) + c.name.capacity() + c.values.capacity() * sizeof(Value);
    for (const Value& v : c.values) n += HeapBytes(v);
  }
  return n;
}

class SegmentDecoder {
 public:
  // The stored bytes of a block of the directory being decoded.
  using StoredOf = std::function<std::string_view(const SegmentBlockRef&)>;

  static Result<std::shared_ptr<const Segment>> Decode(std::string_view bytes,
                                                       const SegmentDecodeOptions& options) {
    std::string storage;
    FrameHeader header;
    GANNET_ASSIGN_OR_RETURN(std::string_view payload,
                            DecodeFrame(ObjectKind::kSegment, bytes, &storage, &header));
    (void)payload;
    if (header.flags != 0) return Bad("segment frame must not be compressed");
    if (bytes.size() < kFrameOverheadBytes + kSegmentTrailerBytes) return Bad("too small");
    GANNET_ASSIGN_OR_RETURN(
        SegmentDirectoryLocation loc,
        LocateSegmentDirectory(bytes.substr(bytes.size() - kSegmentTailBytes), bytes.size()));
    GANNET_ASSIGN_OR_RETURN(
        SegmentDirectory dir,
        DecodeSegmentDirectory(
            bytes.substr(static_cast<size_t>(loc.offset), static_cast<size_t>(loc.length)), loc));
    return Assemble(
        header.version, bytes.size(), dir,
        [bytes](const SegmentBlockRef& b) {
          return bytes.substr(static_cast<size_t>(b.offset), static_cast<size_t>(b.stored_bytes));
        },
        /*with_vectors=*/true, options);
  }

  static Result<std::shared_ptr<const Segment>> DecodeWithoutVectors(
      std::string_view frame_header, uint64_t object_size, const SegmentDirectory& dir,
      const std::vector<std::string>& blocks, const SegmentDecodeOptions& options) {
    GANNET_ASSIGN_OR_RETURN(FrameHeader header,
                            ParseFrameHeader(ObjectKind::kSegment, frame_header, object_size));
    if (header.flags != 0) return Bad("segment frame must not be compressed");
    if (header.version < 2 || dir.dims == 0 || options.vector_reader == nullptr) {
      return Status::InvalidArgument(
          "segment: only a version 2 segment with vectors decodes without them, given a "
          "vector reader");
    }
    std::vector<std::string_view> stored(dir.blocks.size());
    size_t next = 0;
    for (size_t i = 0; i < dir.blocks.size(); ++i) {
      if (dir.blocks[i].kind == SegmentBlockKind::kVectors) continue;
      if (next == blocks.size()) return Status::InvalidArgument("segment: a block is missing");
      if (blocks[next].size() != dir.blocks[i].stored_bytes) return Bad("block length mismatch");
      stored[i] = blocks[next++];
    }
    if (next != blocks.size()) return Status::InvalidArgument("segment: more blocks than needed");
    const SegmentBlockRef* first = dir.blocks.data();
    return Assemble(
        header.version, object_size, dir,
        [&stored, first](const SegmentBlockRef& b) {
          return stored[static_cast<size_t>(&b - first)];
        },
        /*with_vectors=*/false, options);
  }

 private:
  // Builds the segment of `dir` from its blocks' stored bytes; without `with_vectors` the
  // vectors block is not read (REQUIRES: then the chunks block and a vector reader).
  static Result<std::shared_ptr<const Segment>> Assemble(uint32_t version, uint64_t object_size,
                                                         const SegmentDirectory& dir,
                                                         const StoredOf& stored_of,
                                                         bool with_vectors,
                                                         const SegmentDecodeOptions& options) {
    auto seg = std::make_shared<Segment>();
    seg->encoded_bytes_ = object_size;
    const size_t rows = static_cast<size_t>(dir.rows);

    const SegmentBlockRef* ids_block = nullptr;
    const SegmentBlockRef* presence_block = nullptr;
    const SegmentBlockRef* vectors_block = nullptr;
    const SegmentBlockRef* chunks_block = nullptr;
    std::vector<const SegmentBlockRef*> column_blocks;
    for (const SegmentBlockRef& b : dir.blocks) {
      const SegmentBlockRef** slot = nullptr;
      switch (b.kind) {
        case SegmentBlockKind::kIds:
          slot = &ids_block;
          break;
        case SegmentBlockKind::kVectorPresence:
          slot = &presence_block;
          break;
        case SegmentBlockKind::kVectors:
          slot = &vectors_block;
          break;
        case SegmentBlockKind::kVectorChunks:
          slot = &chunks_block;
          break;
        case SegmentBlockKind::kColumn:
          if (!column_blocks.empty() && !(column_blocks.back()->name < b.name)) {
            return Bad("column names not strictly ascending");
          }
          if (dir.dims != 0 && b.name == kVectorAttr) return Bad("duplicate vector column");
          column_blocks.push_back(&b);
          continue;
      }
      if (*slot != nullptr) return Bad("duplicate block");
      *slot = &b;
    }
    if (ids_block == nullptr) return Bad("missing id block");
    if ((dir.dims != 0) != (vectors_block != nullptr) ||
        (dir.dims != 0) != (presence_block != nullptr)) {
      return Bad("vector blocks do not match dims");
    }
    // Version 2 checksums the vectors in chunks; version 1 has no chunks block.
    if ((version >= 2 && dir.dims != 0) != (chunks_block != nullptr)) {
      return Bad(chunks_block != nullptr ? "vector chunks block in a version 1 segment"
                                         : "missing vector chunks block");
    }

    std::string scratch;
    std::string_view data;
    GANNET_RETURN_IF_ERROR(BlockData(stored_of(*ids_block), *ids_block, &scratch, &data));
    {
      Reader r(data);
      GANNET_RETURN_IF_ERROR(GetIds(r, dir.rows, &seg->ids_));
    }
    if (rows > 0 && (seg->ids_.front() != *dir.min_id || seg->ids_.back() != *dir.max_id)) {
      return Bad("id range does not match the id block");
    }

    if (dir.dims != 0) {
      seg->dims_ = dir.dims;
      seg->vector_elem_ = dir.elem;
      GANNET_RETURN_IF_ERROR(
          BlockData(stored_of(*presence_block), *presence_block, &scratch, &data));
      Reader r(data);
      size_t n_present = 0;
      GANNET_RETURN_IF_ERROR(GetPresence(r, rows, &seg->vector_present_, &n_present));
      if (!r.done()) return Bad("trailing bytes in vector presence block");
      // Overflow-safe: rows < 2^32 and dims < 2^32, elem bytes <= 4.
      const unsigned __int128 want =
          static_cast<unsigned __int128>(rows) * dir.dims * ElemBytes(dir.elem);
      if (vectors_block->zstd || want != vectors_block->raw_bytes) {
        return Bad("vector block length does not match rows * dims");
      }
      // Without the vectors block, the chunk checksums are taken on their block's checksum
      // (each chunk is checked when it is read).
      std::string_view vectors;
      if (with_vectors) {
        GANNET_RETURN_IF_ERROR(
            BlockData(stored_of(*vectors_block), *vectors_block, &scratch, &data));
        vectors = data;
      }
      if (chunks_block != nullptr) {
        GANNET_RETURN_IF_ERROR(
            DecodeChunks(stored_of(*chunks_block), *chunks_block, vectors, with_vectors, *seg));
      }
      if (chunks_block != nullptr && options.vector_reader != nullptr) {
        seg->reader_ = options.vector_reader;
        seg->vectors_offset_ = vectors_block->offset;
      } else {
        std::vector<uint64_t>().swap(seg->chunk_checksums_);
        seg->vectors_.resize(rows * static_cast<size_t>(dir.dims));
        GetVectorElems(vectors.data(), seg->vectors_.size(), dir.elem, seg->vectors_.data());
      }
    }

    seg->columns_.reserve(column_blocks.size());
    for (const SegmentBlockRef* b : column_blocks) {
      GANNET_RETURN_IF_ERROR(BlockData(stored_of(*b), *b, &scratch, &data));
      Segment::Column col;
      col.name = b->name;
      col.type = b->type;
      GANNET_RETURN_IF_ERROR(
          DecodeColumn(data, rows, &col).WithContext("column '" + b->name + "'"));
      for (const Value& v : col.values) {
        if (const std::optional<double> x = v.AsNumber()) {
          col.lo = std::min(col.lo, *x);
          col.hi = std::max(col.hi, *x);
        }
      }
      seg->columns_.push_back(std::move(col));
    }
    seg->memory_bytes_ = seg->ComputeMemoryBytes();
    return std::shared_ptr<const Segment>(std::move(seg));
  }

  // Parses the vector chunks block (its stored bytes) into seg's chunking and checksums,
  // and, `with_vectors`, checks them against the (verified) vectors block `vectors`.
  static Status DecodeChunks(std::string_view stored, const SegmentBlockRef& b,
                             std::string_view vectors, bool with_vectors, Segment& seg) {
    if (b.zstd) return Bad("vector chunks block must be raw");
    std::string scratch;
    std::string_view data;
    GANNET_RETURN_IF_ERROR(BlockData(stored, b, &scratch, &data));
    Reader r(data);
    uint64_t per;
    const size_t rows = seg.ids_.size();
    if (!r.GetVarint(&per) || per == 0 || per > kMinChunkBytes) {
      return Bad("bad rows per vector chunk");
    }
    const size_t chunks = (rows + per - 1) / per;
    if (r.remaining() != chunks * 8) return Bad("vector chunks block length mismatch");
    const size_t row_bytes = size_t{seg.dims_} * ElemBytes(seg.vector_elem_);
    seg.rows_per_chunk_ = static_cast<uint32_t>(per);
    seg.chunk_checksums_.resize(chunks);
    for (size_t c = 0; c < chunks; ++c) {
      uint64_t sum;
      (void)r.GetFixed64(&sum);
      if (kVerifyChecksums && with_vectors &&
          Checksum64(vectors.substr(c * per * row_bytes, per * row_bytes)) != sum) {
        return Bad("vector chunk " + std::to_string(c) + " does not match its checksum");
      }
      seg.chunk_checksums_[c] = sum;
    }
    return Status::OK();
  }

  // Verifies a block's stored bytes against its checksum and returns its raw bytes
  // (decompressed into *scratch).
  static Status BlockData(std::string_view stored, const SegmentBlockRef& b, std::string* scratch,
                          std::string_view* out) {
    if (stored.size() != b.stored_bytes) return Bad("block length mismatch");
    if (kVerifyChecksums && Checksum64(stored) != b.checksum) return Bad("block checksum mismatch");
    if (!b.zstd) {
      *out = stored;
      return Status::OK();
    }
    scratch->resize(static_cast<size_t>(b.raw_bytes));
    GANNET_RETURN_IF_ERROR(
        ZstdDecompressExact(stored, scratch->data(), scratch->size(), "segment: block"));
    *out = *scratch;
    return Status::OK();
  }

  static Status DecodeColumn(std::string_view data, size_t rows, Segment::Column* col) {
    Reader r(data);
    uint8_t encoding;
    if (!r.GetU8(&encoding) || (encoding != kEncodingTyped && encoding != kEncodingTagged)) {
      return Bad("bad column encoding");
    }
    std::vector<bool> present;
    size_t n_present = 0;
    GANNET_RETURN_IF_ERROR(GetPresence(r, rows, &present, &n_present));
    col->values.assign(rows, Value());
    const AttrType& t = col->type;
    if (encoding == kEncodingTyped && t.kind == AttrType::Kind::kScalar &&
        t.scalar == ScalarType::kBool) {
      std::vector<bool> bits;
      if (!GetBitmap(r, n_present, &bits, nullptr)) return Bad("bad bool bitmap");
      size_t k = 0;
      for (size_t row = 0; row < rows; ++row) {
        if (present[row]) col->values[row] = Value::Bool(bits[k++]);
      }
    } else if (encoding == kEncodingTyped) {
      if (t.is_vector() && t.dims == 0) return Bad("vector column without dims");
      for (size_t row = 0; row < rows; ++row) {
        if (present[row]) GANNET_RETURN_IF_ERROR(GetTyped(r, t, &col->values[row]));
      }
    } else {
      for (size_t row = 0; row < rows; ++row) {
        if (!present[row]) continue;
        GANNET_RETURN_IF_ERROR(DecodeValue(r, &col->values[row]).WithContext("segment"));
        if (col->values[row].is_null()) return Bad("null value marked present");
      }
    }
    if (!r.done()) return Bad("trailing bytes in column");
    return Status::OK();
  }
};

Result<std::shared_ptr<const Segment>> Segment::Decode(std::string_view bytes,
                                                       const SegmentDecodeOptions& options) {
  return SegmentDecoder::Decode(bytes, options);
}

Result<std::shared_ptr<const Segment>> Segment::DecodeWithoutVectors(
    std::string_view frame_header, uint64_t object_size, const SegmentDirectory& dir,
    const std::vector<std::string>& blocks, const SegmentDecodeOptions& options) {
  return SegmentDecoder::DecodeWithoutVectors(frame_header, object_size, dir, blocks, options);
}

std::vector<ByteRange> SegmentBlocksWithoutVectors(const SegmentDirectory& dir) {
  std::vector<ByteRange> out;
  for (const SegmentBlockRef& b : dir.blocks) {
    if (b.kind != SegmentBlockKind::kVectors) out.push_back({b.offset, b.stored_bytes});
  }
  return out;
}

Status Segment::ReadVectors(const uint32_t* rows, size_t n, float* out) const {
  if (n == 0) return Status::OK();
  if (reader_ == nullptr) {
    for (size_t i = 0; i < n; ++i) std::memcpy(out + i * dims_, vector(rows[i]), dims_ * 4);
    return Status::OK();
  }
  // Runs of adjacent chunks holding the rows, one ranged read each.
  struct Run {
    size_t first_chunk = 0, chunks = 0;
  };
  std::vector<Run> runs;
  for (size_t i = 0; i < n; ++i) {
    if (rows[i] >= ids_.size() || (i > 0 && rows[i] < rows[i - 1])) {
      return Status::InvalidArgument("segment: ReadVectors needs ascending rows in range");
    }
    const size_t c = rows[i] / rows_per_chunk_;
    if (!runs.empty() && c < runs.back().first_chunk + runs.back().chunks) continue;
    if (!runs.empty() && c == runs.back().first_chunk + runs.back().chunks) {
      ++runs.back().chunks;
    } else {
      runs.push_back({c, 1});
    }
  }
  const size_t row_bytes = size_t{dims_} * ElemBytes(vector_elem_);
  const size_t chunk_bytes = size_t{rows_per_chunk_} * row_bytes;
  const size_t total_bytes = ids_.size() * row_bytes;
  std::vector<ByteRange> ranges;
  ranges.reserve(runs.size());
  for (const Run& run : runs) {
    const size_t begin = run.first_chunk * chunk_bytes;
    ranges.push_back(
        {vectors_offset_ + begin, std::min(run.chunks * chunk_bytes, total_bytes - begin)});
  }
  std::vector<std::string> got;
  GANNET_RETURN_IF_ERROR(reader_(ranges, &got));
  if (got.size() != ranges.size()) return Status::Internal("segment: range reader miscounted");
  for (size_t k = 0; k < runs.size(); ++k) {
    if (got[k].size() != ranges[k].length) return Bad("vector range read short");
    for (size_t c = 0; c < runs[k].chunks; ++c) {
      const std::string_view chunk = std::string_view(got[k]).substr(c * chunk_bytes, chunk_bytes);
      if (Checksum64(chunk) != chunk_checksums_[runs[k].first_chunk + c]) {
        return Bad("vector chunk " + std::to_string(runs[k].first_chunk + c) +
                   " does not match its checksum");
      }
    }
  }
  size_t k = 0;
  for (size_t i = 0; i < n; ++i) {
    const size_t c = rows[i] / rows_per_chunk_;
    while (c >= runs[k].first_chunk + runs[k].chunks) ++k;
    const size_t at = (rows[i] - runs[k].first_chunk * rows_per_chunk_) * row_bytes;
    GetVectorElems(got[k].data() + at, dims_, vector_elem_, out + i * dims_);
  }
  return Status::OK();
}

std::optional<size_t> Segment::Find(const Id& id) const {
  auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
  if (it == ids_.end() || *it != id) return std::nullopt;
  return static_cast<size_t>(it - ids_.begin());
}

const Segment::Column* Segment::column(std::string_view name) const {
  auto it = std::lower_bound(columns_.begin(), columns_.end(), name,
                             [](const Column& c, std::string_view n) { return c.name < n; });
  return it != columns_.end() && it->name == name ? &*it : nullptr;
}

Result<Document> Segment::GetDocument(size_t row, bool with_vector) const {
  std::vector<float> vec;
  if (with_vector && has_vector(row)) {
    vec.resize(dims_);
    const auto r = static_cast<uint32_t>(row);
    GANNET_RETURN_IF_ERROR(ReadVectors(&r, 1, vec.data()));
  }
  return DocumentWith(row, std::move(vec));
}

Status Segment::GetDocuments(const std::vector<uint32_t>& rows, std::vector<Document>* out) const {
  constexpr size_t kBatch = 4096;
  std::vector<uint32_t> with;
  std::vector<float> vecs;
  for (size_t begin = 0; begin < rows.size(); begin += kBatch) {
    const size_t end = std::min(rows.size(), begin + kBatch);
    with.clear();
    for (size_t i = begin; i < end; ++i) {
      if (has_vector(rows[i])) with.push_back(rows[i]);
    }
    vecs.resize(with.size() * dims_);
    GANNET_RETURN_IF_ERROR(ReadVectors(with.data(), with.size(), vecs.data()));
    size_t k = 0;
    for (size_t i = begin; i < end; ++i) {
      std::vector<float> vec;
      if (k < with.size() && with[k] == rows[i]) {
        vec.assign(vecs.begin() + k * dims_, vecs.begin() + (k + 1) * dims_);
        ++k;
      }
      out->push_back(DocumentWith(rows[i], std::move(vec)));
    }
  }
  return Status::OK();
}

Document Segment::DocumentWith(size_t row, std::vector<float> vec) const {
  Document doc;
  doc.id = ids_[row];
  doc.attrs.reserve(columns_.size() + 1);
  bool vector_pending = !vec.empty();
  for (const Column& c : columns_) {
    if (vector_pending && c.name > kVectorAttr) {
      doc.attrs.emplace_back(std::string(kVectorAttr), Value::Vector(std::move(vec)));
      vector_pending = false;
    }
    const Value& v = c.values[row];
    if (!v.is_null()) doc.attrs.emplace_back(c.name, v);
  }
  if (vector_pending)
    doc.attrs.emplace_back(std::string(kVectorAttr), Value::Vector(std::move(vec)));
  return doc;
}

// ---- deletion vectors -------------------------------------------------------------------

std::string EncodeDeletionVector(const std::vector<uint32_t>& rows) {
  Writer w;
  w.PutVarint(rows.size());
  uint32_t prev = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    // First: the row; then the gap minus one (consecutive rows encode as 0).
    w.PutVarint(i == 0 ? rows[i] : static_cast<uint64_t>(rows[i] - prev - 1));
    prev = rows[i];
  }
  return EncodeFrame(ObjectKind::kDeletionVector, w.buffer(), Compression::kAuto);
}

Result<std::vector<uint32_t>> DecodeDeletionVector(std::string_view bytes) {
  std::string storage;
  GANNET_ASSIGN_OR_RETURN(std::string_view payload,
                          DecodeFrame(ObjectKind::kDeletionVector, bytes, &storage));
  Reader r(payload);
  uint64_t n;
  if (!r.GetVarint(&n) || n > r.remaining()) {
    return Status::Corruption("deletion vector: bad row count");
  }
  std::vector<uint32_t> rows;
  rows.reserve(static_cast<size_t>(n));
  uint64_t prev = 0;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t v;
    if (!r.GetVarint(&v)) return Status::Corruption("deletion vector: truncated rows");
    const uint64_t row = i == 0 ? v : prev + 1 + v;
    if (v > std::numeric_limits<uint32_t>::max() || row > std::numeric_limits<uint32_t>::max()) {
      return Status::Corruption("deletion vector: row out of range");
    }
    rows.push_back(static_cast<uint32_t>(row));
    prev = row;
  }
  if (!r.done()) return Status::Corruption("deletion vector: trailing bytes");
  return rows;
}

}  // namespace gannet::format
