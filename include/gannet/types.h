// The data model: document ids, typed attribute values, attribute types and schemas.
//
// Types are strict. A namespace's schema fixes each attribute's type on first write (or
// by declaration); every later write is checked against it.
//
// Thread safety: all types here are plain values.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "gannet/status.h"

namespace gannet {

// 16 raw bytes, printed in the canonical 8-4-4-4-12 lowercase hex form.
struct Uuid {
  std::array<uint8_t, 16> bytes{};
  static Result<Uuid> Parse(std::string_view text);
  std::string ToString() const;
  auto operator<=>(const Uuid&) const = default;
};

// Milliseconds since the Unix epoch (UTC). Parsed from / printed as RFC 3339.
struct Datetime {
  int64_t ms = 0;
  static Result<Datetime> Parse(std::string_view text);
  std::string ToString() const;  // e.g. "2024-03-01T12:00:00.000Z"
  auto operator<=>(const Datetime&) const = default;
};

// A document id: an unsigned integer, a UUID, or a string of at most 64 bytes.
// Ordering: all uint ids < all uuid ids < all string ids; within a kind, natural order.
class Id {
 public:
  static constexpr size_t kMaxStringBytes = 64;
  Id() : v_(uint64_t{0}) {}
  explicit Id(uint64_t v) : v_(v) {}
  explicit Id(Uuid v) : v_(v) {}
  explicit Id(std::string v) : v_(std::move(v)) {}

  bool is_uint() const { return v_.index() == 0; }
  bool is_uuid() const { return v_.index() == 1; }
  bool is_string() const { return v_.index() == 2; }
  uint64_t as_uint() const { return std::get<0>(v_); }
  const Uuid& as_uuid() const { return std::get<1>(v_); }
  const std::string& as_string() const { return std::get<2>(v_); }

  std::string ToString() const;  // 42, 0f0e...-..., or the string itself
  auto operator<=>(const Id&) const = default;
  bool operator==(const Id&) const = default;
  size_t Hash() const;

 private:
  std::variant<uint64_t, Uuid, std::string> v_;
};

struct IdHash {
  size_t operator()(const Id& id) const { return id.Hash(); }
};

// The scalar element types of attributes.
enum class ScalarType : uint8_t {
  kString = 1,
  kInt = 2,
  kUint = 3,
  kFloat = 4,
  kBool = 5,
  kDatetime = 6,
  kUuid = 7,
};

enum class VectorElem : uint8_t { kF32 = 1, kF16 = 2 };

// An attribute's declared type: a scalar ("int"), an array of scalars ("[]int"), or a
// vector of fixed dimension ("[384]f32", "[768]f16").
struct AttrType {
  enum class Kind : uint8_t { kScalar = 1, kArray = 2, kVector = 3 };
  Kind kind = Kind::kScalar;
  ScalarType scalar = ScalarType::kString;  // for kScalar and kArray
  VectorElem elem = VectorElem::kF32;       // for kVector
  uint32_t dims = 0;                        // for kVector

  static AttrType Scalar(ScalarType s) { return {Kind::kScalar, s, VectorElem::kF32, 0}; }
  static AttrType Array(ScalarType s) { return {Kind::kArray, s, VectorElem::kF32, 0}; }
  static AttrType Vector(uint32_t dims, VectorElem e = VectorElem::kF32) {
    return {Kind::kVector, ScalarType::kFloat, e, dims};
  }
  bool is_vector() const { return kind == Kind::kVector; }
  bool is_array() const { return kind == Kind::kArray; }

  // Parses "string", "int", "uint", "float", "bool", "datetime", "uuid", "[]T",
  // "[N]f32", "[N]f16". InvalidArgument names the bad text.
  static Result<AttrType> Parse(std::string_view text);
  std::string ToString() const;
  bool operator==(const AttrType&) const = default;
};

std::string_view ScalarTypeName(ScalarType t);

// A dynamically typed value. Values parsed from JSON start "untyped" (an integer literal
// is kInt or kUint, a string literal is kString) and are coerced to the schema's type by
// validation (e.g. kString -> kUuid, kInt -> kFloat).
class Value {
 public:
  enum class Kind : uint8_t {
    kNull = 0,
    kBool,
    kInt,
    kUint,
    kFloat,
    kString,
    kDatetime,
    kUuid,
    kArray,   // of scalar values, all of one kind after validation
    kVector,  // dense float vector (f16 vectors are widened to float in memory)
  };

  Value() = default;  // null
  static Value Bool(bool b) { return Value(b); }
  static Value Int(int64_t v) { return Value(v); }
  static Value Uint(uint64_t v) { return Value(v); }
  static Value Float(double v) { return Value(v); }
  static Value String(std::string s) { return Value(std::move(s)); }
  static Value Time(Datetime d) { return Value(d); }
  static Value FromUuid(Uuid u) { return Value(u); }
  static Value Array(std::vector<Value> a) { return Value(std::move(a)); }
  static Value Vector(std::vector<float> v) { return Value(std::move(v)); }

  Kind kind() const { return static_cast<Kind>(v_.index()); }
  bool is_null() const { return kind() == Kind::kNull; }
  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return std::get<int64_t>(v_); }
  uint64_t as_uint() const { return std::get<uint64_t>(v_); }
  double as_float() const { return std::get<double>(v_); }
  const std::string& as_string() const { return std::get<std::string>(v_); }
  Datetime as_datetime() const { return std::get<Datetime>(v_); }
  const Uuid& as_uuid() const { return std::get<Uuid>(v_); }
  const std::vector<Value>& as_array() const { return std::get<std::vector<Value>>(v_); }
  std::vector<Value>& as_array() { return std::get<std::vector<Value>>(v_); }
  const std::vector<float>& as_vector() const { return std::get<std::vector<float>>(v_); }

  // The value as a number, as ranking expressions read it: int, uint and float as
  // themselves, datetime as milliseconds since the epoch; nullopt for any other kind.
  std::optional<double> AsNumber() const;

  // Human-readable name of this value's kind for error messages ("string", "int",
  // "array", ...).
  std::string_view KindName() const;

  // Total order used by filters and sorting: null < everything; numbers (int, uint,
  // float) compare numerically with each other; otherwise values of different kinds
  // order by kind.
  int Compare(const Value& other) const;
  bool operator==(const Value& other) const { return Compare(other) == 0; }

 private:
  explicit Value(bool b) : v_(b) {}
  explicit Value(int64_t v) : v_(v) {}
  explicit Value(uint64_t v) : v_(v) {}
  explicit Value(double v) : v_(v) {}
  explicit Value(std::string s) : v_(std::move(s)) {}
  explicit Value(Datetime d) : v_(d) {}
  explicit Value(Uuid u) : v_(u) {}
  explicit Value(std::vector<Value> a) : v_(std::move(a)) {}
  explicit Value(std::vector<float> v) : v_(std::move(v)) {}

  std::variant<std::monostate, bool, int64_t, uint64_t, double, std::string, Datetime, Uuid,
               std::vector<Value>, std::vector<float>>
      v_;
};

// The attribute named "vector" holds a document's vector (as in turbopuffer's API).
inline constexpr std::string_view kVectorAttr = "vector";
inline constexpr std::string_view kIdAttr = "id";

// A document: an id plus attributes, sorted by name, unique names. A null value in a
// patch means "remove this attribute"; stored documents never hold nulls.
struct Document {
  Id id;
  std::vector<std::pair<std::string, Value>> attrs;

  const Value* Find(std::string_view name) const;
  // Inserts or replaces, keeping attrs sorted.
  void Set(std::string name, Value v);
  void Erase(std::string_view name);
};

enum class DistanceMetric : uint8_t { kCosineDistance = 1, kEuclideanSquared = 2 };
std::string_view DistanceMetricName(DistanceMetric m);
Result<DistanceMetric> ParseDistanceMetric(std::string_view text);

struct AttributeSchema {
  AttrType type;
  bool filterable = true;
  // Full-text options as given (JSON text) when full_text_search is enabled; the
  // full-text issue gives this structure. Empty when disabled.
  std::string full_text_search;
  bool operator==(const AttributeSchema&) const = default;
};

// A namespace's schema: the id type, the type of each attribute, and the metric.
struct Schema {
  std::optional<ScalarType> id_type;  // kUint, kUuid or kString; set on first write
  std::optional<DistanceMetric> distance_metric;
  std::map<std::string, AttributeSchema, std::less<>> attributes;

  const AttributeSchema* Find(std::string_view name) const {
    auto it = attributes.find(name);
    return it == attributes.end() ? nullptr : &it->second;
  }
  bool operator==(const Schema&) const = default;
};

// Namespace names match [A-Za-z0-9-_.]{1,128}. InvalidArgument otherwise.
Status ValidateNamespaceName(std::string_view name);

}  // namespace gannet
