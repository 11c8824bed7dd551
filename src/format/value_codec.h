// Binary encoding of the data model (ids, values, documents, attribute types, schemas,
// filters, write requests), shared by WAL entries, manifests and segments. Byte layouts:
// docs/format/wal.md ("Value codec").
//
// Encoders never fail. Decoders never read past their input, bound recursion depth
// (kMaxCodecDepth), check every count against the bytes that remain before allocating,
// reject unknown enum values, and report Corruption naming what was malformed; on error
// the output argument is left in an unspecified but valid state.
//
// Thread safety: stateless functions.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/coding.h"
#include "gannet/request.h"
#include "gannet/status.h"
#include "gannet/types.h"

namespace gannet::format {

// Maximum nesting of arrays inside values and of filters inside filters.
inline constexpr int kMaxCodecDepth = 64;

// Tags of Id kinds on disk.
enum class IdTag : uint8_t { kUint = 0, kUuid = 1, kString = 2 };

void EncodeId(Writer& w, const Id& id);
Status DecodeId(Reader& r, Id* id);

// A value: u8 Value::Kind, then the kind's payload.
void EncodeValue(Writer& w, const Value& v);
Status DecodeValue(Reader& r, Value* v, int depth = 0);

void EncodeDocument(Writer& w, const Document& doc);
Status DecodeDocument(Reader& r, Document* doc);

void EncodeAttrType(Writer& w, const AttrType& t);
Status DecodeAttrType(Reader& r, AttrType* t);

// Validity checks for enum bytes read from disk.
bool ValidScalarType(uint8_t v);
bool ValidVectorElem(uint8_t v);
bool ValidDistanceMetric(uint8_t v);

void EncodeSchema(Writer& w, const Schema& schema);
Status DecodeSchema(Reader& r, Schema* schema);

void EncodeFilter(Writer& w, const Filter& f);
Status DecodeFilter(Reader& r, Filter* f, int depth = 0);

void EncodeWriteRequest(Writer& w, const WriteRequest& req);
Status DecodeWriteRequest(Reader& r, WriteRequest* req);

// IEEE 754 binary16 conversion: round to nearest, ties to even; overflow becomes
// infinity, NaN stays NaN (quiet), subnormals are exact both ways.
uint16_t FloatToHalf(float f);
float HalfToFloat(uint16_t h);

}  // namespace gannet::format
