// Helpers shared by the format tests (header-only; not part of the library).
#pragma once

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/coding.h"
#include "format/frame.h"
#include "gannet/request.h"
#include "gannet/types.h"

namespace gannet::format::testing {

// Same kind and bit-identical contents (Value::operator== equates 1 and 1.0).
inline bool StrictEq(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::kNull:
      return true;
    case Value::Kind::kBool:
      return a.as_bool() == b.as_bool();
    case Value::Kind::kInt:
      return a.as_int() == b.as_int();
    case Value::Kind::kUint:
      return a.as_uint() == b.as_uint();
    case Value::Kind::kFloat:
      return std::bit_cast<uint64_t>(a.as_float()) == std::bit_cast<uint64_t>(b.as_float());
    case Value::Kind::kString:
      return a.as_string() == b.as_string();
    case Value::Kind::kDatetime:
      return a.as_datetime() == b.as_datetime();
    case Value::Kind::kUuid:
      return a.as_uuid() == b.as_uuid();
    case Value::Kind::kArray: {
      const auto& x = a.as_array();
      const auto& y = b.as_array();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!StrictEq(x[i], y[i])) return false;
      }
      return true;
    }
    case Value::Kind::kVector: {
      const auto& x = a.as_vector();
      const auto& y = b.as_vector();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (std::bit_cast<uint32_t>(x[i]) != std::bit_cast<uint32_t>(y[i])) return false;
      }
      return true;
    }
  }
  return false;
}

inline ::testing::AssertionResult DocsEqual(const Document& a, const Document& b) {
  if (a.id != b.id) {
    return ::testing::AssertionFailure() << "id " << a.id.ToString() << " vs " << b.id.ToString();
  }
  if (a.attrs.size() != b.attrs.size()) {
    return ::testing::AssertionFailure()
           << "id " << a.id.ToString() << ": " << a.attrs.size() << " attrs vs " << b.attrs.size();
  }
  for (size_t i = 0; i < a.attrs.size(); ++i) {
    if (a.attrs[i].first != b.attrs[i].first || !StrictEq(a.attrs[i].second, b.attrs[i].second)) {
      return ::testing::AssertionFailure()
             << "id " << a.id.ToString() << ": attribute " << i << " '" << a.attrs[i].first
             << "' vs '" << b.attrs[i].first << "'";
    }
  }
  return ::testing::AssertionSuccess();
}

inline bool FiltersEqual(const Filter& a, const Filter& b) {
  if (a.op != b.op || a.attr != b.attr || !StrictEq(a.value, b.value) || a.ref_new != b.ref_new ||
      a.children.size() != b.children.size()) {
    return false;
  }
  for (size_t i = 0; i < a.children.size(); ++i) {
    if (!FiltersEqual(a.children[i], b.children[i])) return false;
  }
  return true;
}

inline bool OptFiltersEqual(const std::optional<Filter>& a, const std::optional<Filter>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a || FiltersEqual(*a, *b);
}

inline ::testing::AssertionResult RequestsEqual(const WriteRequest& a, const WriteRequest& b) {
  auto docs_equal = [](const std::vector<Document>& x,
                       const std::vector<Document>& y) -> ::testing::AssertionResult {
    if (x.size() != y.size()) return ::testing::AssertionFailure() << "doc count";
    for (size_t i = 0; i < x.size(); ++i) {
      auto r = DocsEqual(x[i], y[i]);
      if (!r) return r;
    }
    return ::testing::AssertionSuccess();
  };
  if (auto r = docs_equal(a.upserts, b.upserts); !r) return r << " (upserts)";
  if (auto r = docs_equal(a.patches, b.patches); !r) return r << " (patches)";
  if (a.deletes != b.deletes) return ::testing::AssertionFailure() << "deletes";
  if (!OptFiltersEqual(a.delete_by_filter, b.delete_by_filter) ||
      !OptFiltersEqual(a.upsert_condition, b.upsert_condition) ||
      !OptFiltersEqual(a.patch_condition, b.patch_condition) ||
      !OptFiltersEqual(a.delete_condition, b.delete_condition)) {
    return ::testing::AssertionFailure() << "filters";
  }
  if (a.distance_metric != b.distance_metric) return ::testing::AssertionFailure() << "metric";
  if (a.schema != b.schema) return ::testing::AssertionFailure() << "schema";
  if (a.return_affected_ids != b.return_affected_ids) {
    return ::testing::AssertionFailure() << "return_affected_ids";
  }
  return ::testing::AssertionSuccess();
}

inline Uuid MakeUuid(uint8_t seed) {
  Uuid u;
  for (size_t i = 0; i < 16; ++i) u.bytes[i] = static_cast<uint8_t>(seed * 17 + i);
  return u;
}

// One value of every kind (plus edge cases), keyed by a descriptive name.
inline std::vector<std::pair<std::string, Value>> AllValueKinds() {
  return {
      {"null", Value()},
      {"bool_true", Value::Bool(true)},
      {"bool_false", Value::Bool(false)},
      {"int_min", Value::Int(INT64_MIN)},
      {"int_neg", Value::Int(-42)},
      {"uint_max", Value::Uint(UINT64_MAX)},
      {"float_neg_zero", Value::Float(-0.0)},
      {"float_pi", Value::Float(3.141592653589793)},
      {"string_empty", Value::String("")},
      {"string_unicode", Value::String("h\xC3\xA9llo \xE4\xB8\x96\xE7\x95\x8C \xF0\x9F\x90\xA6")},
      {"string_nul", Value::String(std::string("a\0b", 3))},
      {"datetime", Value::Time(Datetime{1709294400000})},
      {"datetime_neg", Value::Time(Datetime{-86400000})},
      {"uuid", Value::FromUuid(MakeUuid(3))},
      {"array_empty", Value::Array({})},
      {"array_ints", Value::Array({Value::Int(1), Value::Int(-2), Value::Int(3)})},
      {"array_strings", Value::Array({Value::String("x"), Value::String("\xC3\xBF")})},
      {"array_nested", Value::Array({Value::Array({Value::Bool(true)}), Value()})},
      {"vector_empty", Value::Vector({})},
      {"vector", Value::Vector({1.0f, -2.5f, 0.0f, 1e-30f})},
  };
}

// Re-writes the frame checksum of `bytes` after its contents were changed on purpose.
inline void RefreshFrameChecksum(std::string& bytes) {
  const size_t n = bytes.size() - kFrameTrailerBytes;
  Writer w;
  w.PutFixed64(Checksum64(std::string_view(bytes).substr(0, n)));
  bytes.replace(n, kFrameTrailerBytes, w.buffer());
}

// Every single-bit flip and every truncation of `bytes` must give Corruption. For objects
// over `max_exhaustive_bits` bits, every `stride`-th bit is flipped instead.
inline void ExpectCorruptionsDetected(const std::string& bytes,
                                      const std::function<Status(std::string_view)>& decode,
                                      size_t max_exhaustive_bits = 64 * 1024) {
  ASSERT_TRUE(decode(bytes).ok()) << decode(bytes).ToString();
  const size_t bits = bytes.size() * 8;
  const size_t stride = bits <= max_exhaustive_bits ? 1 : bits / max_exhaustive_bits + 1;
  std::string copy = bytes;
  for (size_t bit = 0; bit < bits; bit += stride) {
    copy[bit / 8] = static_cast<char>(copy[bit / 8] ^ (1 << (bit % 8)));
    const Status s = decode(copy);
    EXPECT_TRUE(s.IsCorruption()) << "bit " << bit << ": " << s.ToString();
    copy[bit / 8] = bytes[bit / 8];
    if (!s.IsCorruption()) return;  // one report is enough
  }
  const size_t len_stride = bytes.size() <= 8192 ? 1 : bytes.size() / 8192 + 1;
  for (size_t len = 0; len < bytes.size(); len += len_stride) {
    const Status s = decode(std::string_view(bytes).substr(0, len));
    EXPECT_TRUE(s.IsCorruption()) << "truncated to " << len << ": " << s.ToString();
    if (!s.IsCorruption()) return;
  }
  // Appended garbage.
  EXPECT_TRUE(decode(bytes + std::string(1, '\0')).IsCorruption());
}

// With the frame checksum recomputed, single-byte mutations of the payload must never
// crash: the decoder returns OK (a different valid object) or Corruption.
inline void ExpectPayloadMutationsSafe(const std::string& bytes,
                                       const std::function<Status(std::string_view)>& decode) {
  std::string copy = bytes;
  for (size_t i = kFrameHeaderBytes; i + kFrameTrailerBytes < bytes.size(); ++i) {
    for (uint8_t x : {0x01, 0x80, 0xff}) {
      copy[i] = static_cast<char>(bytes[i] ^ x);
      RefreshFrameChecksum(copy);
      const Status s = decode(copy);
      EXPECT_TRUE(s.ok() || s.IsCorruption()) << "byte " << i << ": " << s.ToString();
    }
    copy[i] = bytes[i];
  }
}

}  // namespace gannet::format::testing
