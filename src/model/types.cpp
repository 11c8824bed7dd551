// Implementation of the data model value types declared in gannet/types.h.
#include "gannet/types.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace gannet {

namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string Quote(std::string_view s) {
  // Error messages echo at most a bounded prefix of user text.
  constexpr size_t kMax = 80;
  std::string out = "\"";
  out.append(s.substr(0, kMax));
  if (s.size() > kMax) out += "...";
  out += "\"";
  return out;
}

// Days since 1970-01-01 of a proleptic Gregorian civil date (H. Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned DaysInMonth(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Reads exactly `n` decimal digits at `*pos`.
bool ReadDigits(std::string_view s, size_t* pos, int n, int* out) {
  if (*pos + static_cast<size_t>(n) > s.size()) return false;
  int v = 0;
  for (int i = 0; i < n; ++i) {
    char c = s[*pos + static_cast<size_t>(i)];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *pos += static_cast<size_t>(n);
  *out = v;
  return true;
}

// Splitmix64 finaliser: a fixed, platform-independent 64-bit mix.
uint64_t Mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

uint64_t HashBytes(const uint8_t* p, size_t n, uint64_t seed) {
  // FNV-1a 64 followed by a mix: stable across platforms and runs.
  uint64_t h = 0xcbf29ce484222325ULL ^ seed;
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return Mix64(h);
}

// Exact three-way comparison of numbers of different representations.
int Sign(bool less, bool greater) { return less ? -1 : (greater ? 1 : 0); }

int CmpInt(int64_t a, int64_t b) { return Sign(a<b, a> b); }
int CmpUint(uint64_t a, uint64_t b) { return Sign(a<b, a> b); }
int CmpIntUint(int64_t a, uint64_t b) {
  if (a < 0) return -1;
  return CmpUint(static_cast<uint64_t>(a), b);
}

// NaN orders after every other number and equal to itself, giving a total order.
int CmpFloat(double a, double b) {
  const bool an = std::isnan(a), bn = std::isnan(b);
  if (an || bn) return Sign(!an && bn, an && !bn);
  return Sign(a<b, a> b);
}

int CmpIntFloat(int64_t a, double b) {
  if (std::isnan(b)) return -1;
  constexpr double kTwo63 = 9223372036854775808.0;  // 2^63, exactly representable
  if (b >= kTwo63) return -1;
  if (b < -kTwo63) return 1;
  // -2^63 <= b < 2^63: trunc(b) fits in int64 exactly.
  const double tb = std::trunc(b);
  const int64_t ib = static_cast<int64_t>(tb);
  if (a != ib) return a < ib ? -1 : 1;
  const double frac = b - tb;  // exact
  return Sign(frac > 0, frac < 0);
}

int CmpUintFloat(uint64_t a, double b) {
  if (std::isnan(b)) return -1;
  constexpr double kTwo64 = 18446744073709551616.0;  // 2^64
  if (b < 0) return 1;
  if (b >= kTwo64) return -1;
  const double tb = std::trunc(b);
  const uint64_t ub = static_cast<uint64_t>(tb);
  if (a != ub) return a < ub ? -1 : 1;
  const double frac = b - tb;
  return frac > 0 ? -1 : 0;
}

bool IsNumberKind(Value::Kind k) {
  return k == Value::Kind::kInt || k == Value::Kind::kUint || k == Value::Kind::kFloat;
}

// Rank of a kind in the cross-kind order; all numbers share one rank.
int KindRank(Value::Kind k) {
  switch (k) {
    case Value::Kind::kNull:
      return 0;
    case Value::Kind::kBool:
      return 1;
    case Value::Kind::kInt:
    case Value::Kind::kUint:
    case Value::Kind::kFloat:
      return 2;
    case Value::Kind::kString:
      return 3;
    case Value::Kind::kDatetime:
      return 4;
    case Value::Kind::kUuid:
      return 5;
    case Value::Kind::kArray:
      return 6;
    case Value::Kind::kVector:
      return 7;
  }
  return 8;
}

}  // namespace

// ---------------------------------------------------------------------------- Uuid

Result<Uuid> Uuid::Parse(std::string_view text) {
  // Accepts the canonical 8-4-4-4-12 form (any hex case), optionally wrapped in braces,
  // and the 32-digit form without hyphens.
  std::string_view t = text;
  if (t.size() == 38 && t.front() == '{' && t.back() == '}') t = t.substr(1, 36);
  Uuid u;
  size_t n = 0;
  if (t.size() == 36) {
    for (size_t i = 0; i < 36; ++i) {
      if (i == 8 || i == 13 || i == 18 || i == 23) {
        if (t[i] != '-') return Status::InvalidArgument("invalid uuid " + Quote(text));
        continue;
      }
      int h = HexDigit(t[i]);
      if (h < 0) return Status::InvalidArgument("invalid uuid " + Quote(text));
      if (n % 2 == 0) {
        u.bytes[n / 2] = static_cast<uint8_t>(h << 4);
      } else {
        u.bytes[n / 2] |= static_cast<uint8_t>(h);
      }
      ++n;
    }
    return u;
  }
  if (t.size() == 32) {
    for (size_t i = 0; i < 32; ++i) {
      int h = HexDigit(t[i]);
      if (h < 0) return Status::InvalidArgument("invalid uuid " + Quote(text));
      if (i % 2 == 0) {
        u.bytes[i / 2] = static_cast<uint8_t>(h << 4);
      } else {
        u.bytes[i / 2] |= static_cast<uint8_t>(h);
      }
    }
    return u;
  }
  return Status::InvalidArgument("invalid uuid " + Quote(text));
}

std::string Uuid::ToString() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[bytes[i] >> 4]);
    out.push_back(kHex[bytes[i] & 0xf]);
  }
  return out;
}

// ---------------------------------------------------------------------------- Datetime

Result<Datetime> Datetime::Parse(std::string_view text) {
  // RFC 3339: YYYY-MM-DD[(T|t| )HH:MM[:SS[.fraction]][Z|z|(+|-)HH[:]MM]].
  // A time without an offset is taken as UTC; a plain date is midnight UTC. Fractions
  // beyond milliseconds are truncated toward the earlier instant.
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("invalid datetime " + Quote(text) + ": " + std::string(why));
  };
  size_t pos = 0;
  int year = 0, month = 0, day = 0;
  if (!ReadDigits(text, &pos, 4, &year) || pos >= text.size() || text[pos++] != '-' ||
      !ReadDigits(text, &pos, 2, &month) || pos >= text.size() || text[pos++] != '-' ||
      !ReadDigits(text, &pos, 2, &day)) {
    return bad("expected YYYY-MM-DD");
  }
  if (month < 1 || month > 12) return bad("month out of range");
  if (day < 1 || static_cast<unsigned>(day) > DaysInMonth(year, static_cast<unsigned>(month))) {
    return bad("day out of range");
  }
  int64_t days = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  int64_t ms = days * 86400000LL;
  if (pos == text.size()) return Datetime{ms};

  const char sep = text[pos++];
  if (sep != 'T' && sep != 't' && sep != ' ') return bad("expected 'T' after the date");
  int hour, minute, second = 0, frac_ms = 0;
  if (!ReadDigits(text, &pos, 2, &hour) || pos >= text.size() || text[pos++] != ':' ||
      !ReadDigits(text, &pos, 2, &minute)) {
    return bad("expected HH:MM");
  }
  if (pos < text.size() && text[pos] == ':') {
    ++pos;
    if (!ReadDigits(text, &pos, 2, &second)) return bad("expected seconds");
    if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
      ++pos;
      size_t start = pos;
      int scale = 100;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
        if (scale > 0) {
          frac_ms += (text[pos] - '0') * scale;
          scale /= 10;
        }
        ++pos;
      }
      if (pos == start) return bad("expected digits after '.'");
    }
  }
  if (hour > 23) return bad("hour out of range");
  if (minute > 59) return bad("minute out of range");
  if (second > 60) return bad("second out of range");  // 60: leap second
  ms += (static_cast<int64_t>(hour) * 3600 + minute * 60 + second) * 1000 + frac_ms;

  if (pos < text.size()) {
    const char z = text[pos];
    if (z == 'Z' || z == 'z') {
      ++pos;
    } else if (z == '+' || z == '-') {
      ++pos;
      int oh, om = 0;
      if (!ReadDigits(text, &pos, 2, &oh)) return bad("expected offset hours");
      if (pos < text.size() && text[pos] == ':') ++pos;
      if (!ReadDigits(text, &pos, 2, &om)) return bad("expected offset minutes");
      if (oh > 23 || om > 59) return bad("offset out of range");
      const int64_t off = (static_cast<int64_t>(oh) * 60 + om) * 60000;
      ms += z == '+' ? -off : off;
    } else {
      return bad("unexpected character after time");
    }
  }
  if (pos != text.size()) return bad("trailing characters");
  return Datetime{ms};
}

std::string Datetime::ToString() const {
  // Floor division so that instants before the epoch print correctly.
  int64_t days = ms / 86400000LL;
  int64_t rem = ms % 86400000LL;
  if (rem < 0) {
    rem += 86400000LL;
    --days;
  }
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  const int64_t hh = rem / 3600000, mm = rem / 60000 % 60, ss = rem / 1000 % 60, fff = rem % 1000;
  char buf[64];
  if (y >= 0 && y <= 9999) {
    std::snprintf(buf, sizeof(buf), "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
                  static_cast<long long>(y), m, d, static_cast<long long>(hh),
                  static_cast<long long>(mm), static_cast<long long>(ss),
                  static_cast<long long>(fff));
  } else {  // ISO 8601 expanded years
    std::snprintf(buf, sizeof(buf), "%+05lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
                  static_cast<long long>(y), m, d, static_cast<long long>(hh),
                  static_cast<long long>(mm), static_cast<long long>(ss),
                  static_cast<long long>(fff));
  }
  return buf;
}

// ---------------------------------------------------------------------------- Id

std::string Id::ToString() const {
  if (is_uint()) return std::to_string(as_uint());
  if (is_uuid()) return as_uuid().ToString();
  return as_string();
}

size_t Id::Hash() const {
  // Stable across processes and platforms (usable for partitioning), not only in-memory.
  if (is_uint()) return static_cast<size_t>(Mix64(as_uint() ^ 0x9e3779b97f4a7c15ULL));
  if (is_uuid()) return static_cast<size_t>(HashBytes(as_uuid().bytes.data(), 16, 1));
  const std::string& s = as_string();
  return static_cast<size_t>(HashBytes(reinterpret_cast<const uint8_t*>(s.data()), s.size(), 2));
}

// ---------------------------------------------------------------------------- AttrType

std::string_view ScalarTypeName(ScalarType t) {
  switch (t) {
    case ScalarType::kString:
      return "string";
    case ScalarType::kInt:
      return "int";
    case ScalarType::kUint:
      return "uint";
    case ScalarType::kFloat:
      return "float";
    case ScalarType::kBool:
      return "bool";
    case ScalarType::kDatetime:
      return "datetime";
    case ScalarType::kUuid:
      return "uuid";
  }
  return "unknown";
}

namespace {
std::optional<ScalarType> ParseScalarType(std::string_view s) {
  static constexpr ScalarType kAll[] = {
      ScalarType::kString, ScalarType::kInt,      ScalarType::kUint, ScalarType::kFloat,
      ScalarType::kBool,   ScalarType::kDatetime, ScalarType::kUuid};
  for (ScalarType t : kAll) {
    if (ScalarTypeName(t) == s) return t;
  }
  return std::nullopt;
}
}  // namespace

Result<AttrType> AttrType::Parse(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument(
        "invalid type " + Quote(text) +
        ": expected string, int, uint, float, bool, datetime, uuid, []T, [N]f32 or [N]f16");
  };
  if (auto s = ParseScalarType(text)) return AttrType::Scalar(*s);
  if (text.size() < 3 || text[0] != '[') return bad();
  const size_t close = text.find(']');
  if (close == std::string_view::npos) return bad();
  const std::string_view inner = text.substr(1, close - 1);
  const std::string_view rest = text.substr(close + 1);
  if (inner.empty()) {
    if (auto s = ParseScalarType(rest)) return AttrType::Array(*s);
    return bad();
  }
  uint32_t dims = 0;
  auto [p, ec] = std::from_chars(inner.data(), inner.data() + inner.size(), dims);
  if (ec != std::errc() || p != inner.data() + inner.size() || dims == 0) {
    return Status::InvalidArgument("invalid type " + Quote(text) +
                                   ": vector dimension must be a positive integer");
  }
  if (rest == "f32") return AttrType::Vector(dims, VectorElem::kF32);
  if (rest == "f16") return AttrType::Vector(dims, VectorElem::kF16);
  return bad();
}

std::string AttrType::ToString() const {
  switch (kind) {
    case Kind::kScalar:
      return std::string(ScalarTypeName(scalar));
    case Kind::kArray:
      return "[]" + std::string(ScalarTypeName(scalar));
    case Kind::kVector:
      return "[" + std::to_string(dims) + "]" + (elem == VectorElem::kF16 ? "f16" : "f32");
  }
  return "unknown";
}

// ---------------------------------------------------------------------------- Value

std::optional<double> Value::AsNumber() const {
  switch (kind()) {
    case Kind::kInt:
      return static_cast<double>(as_int());
    case Kind::kUint:
      return static_cast<double>(as_uint());
    case Kind::kFloat:
      return as_float();
    case Kind::kDatetime:
      return static_cast<double>(as_datetime().ms);
    default:
      return std::nullopt;
  }
}

std::string_view Value::KindName() const {
  switch (kind()) {
    case Kind::kNull:
      return "null";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kUint:
      return "uint";
    case Kind::kFloat:
      return "float";
    case Kind::kString:
      return "string";
    case Kind::kDatetime:
      return "datetime";
    case Kind::kUuid:
      return "uuid";
    case Kind::kArray:
      return "array";
    case Kind::kVector:
      return "vector";
  }
  return "unknown";
}

int Value::Compare(const Value& other) const {
  const Kind a = kind(), b = other.kind();
  if (IsNumberKind(a) && IsNumberKind(b)) {
    switch (a) {
      case Kind::kInt:
        if (b == Kind::kInt) return CmpInt(as_int(), other.as_int());
        if (b == Kind::kUint) return CmpIntUint(as_int(), other.as_uint());
        return CmpIntFloat(as_int(), other.as_float());
      case Kind::kUint:
        if (b == Kind::kInt) return -CmpIntUint(other.as_int(), as_uint());
        if (b == Kind::kUint) return CmpUint(as_uint(), other.as_uint());
        return CmpUintFloat(as_uint(), other.as_float());
      default:  // kFloat
        if (b == Kind::kInt) return -CmpIntFloat(other.as_int(), as_float());
        if (b == Kind::kUint) return -CmpUintFloat(other.as_uint(), as_float());
        return CmpFloat(as_float(), other.as_float());
    }
  }
  const int ra = KindRank(a), rb = KindRank(b);
  if (ra != rb) return ra < rb ? -1 : 1;
  switch (a) {
    case Kind::kNull:
      return 0;
    case Kind::kBool:
      return Sign(!as_bool() && other.as_bool(), as_bool() && !other.as_bool());
    case Kind::kString: {
      const int c = as_string().compare(other.as_string());
      return Sign(c<0, c> 0);
    }
    case Kind::kDatetime:
      return CmpInt(as_datetime().ms, other.as_datetime().ms);
    case Kind::kUuid: {
      const auto c = as_uuid() <=> other.as_uuid();
      return Sign(c<0, c> 0);
    }
    case Kind::kArray: {
      const auto& x = as_array();
      const auto& y = other.as_array();
      const size_t n = std::min(x.size(), y.size());
      for (size_t i = 0; i < n; ++i) {
        const int c = x[i].Compare(y[i]);
        if (c != 0) return c;
      }
      return Sign(x.size() < y.size(), x.size() > y.size());
    }
    case Kind::kVector: {
      const auto& x = as_vector();
      const auto& y = other.as_vector();
      const size_t n = std::min(x.size(), y.size());
      for (size_t i = 0; i < n; ++i) {
        const int c = CmpFloat(x[i], y[i]);
        if (c != 0) return c;
      }
      return Sign(x.size() < y.size(), x.size() > y.size());
    }
    default:
      return 0;  // numbers handled above
  }
}

// ---------------------------------------------------------------------------- Document

namespace {
struct AttrNameLess {
  bool operator()(const std::pair<std::string, Value>& a, std::string_view b) const {
    return std::string_view(a.first) < b;
  }
};
}  // namespace

const Value* Document::Find(std::string_view name) const {
  auto it = std::lower_bound(attrs.begin(), attrs.end(), name, AttrNameLess{});
  if (it == attrs.end() || it->first != name) return nullptr;
  return &it->second;
}

void Document::Set(std::string name, Value v) {
  auto it = std::lower_bound(attrs.begin(), attrs.end(), std::string_view(name), AttrNameLess{});
  if (it != attrs.end() && it->first == name) {
    it->second = std::move(v);
    return;
  }
  attrs.emplace(it, std::move(name), std::move(v));
}

void Document::Erase(std::string_view name) {
  auto it = std::lower_bound(attrs.begin(), attrs.end(), name, AttrNameLess{});
  if (it != attrs.end() && it->first == name) attrs.erase(it);
}

// ---------------------------------------------------------------------------- Misc

std::string_view DistanceMetricName(DistanceMetric m) {
  switch (m) {
    case DistanceMetric::kCosineDistance:
      return "cosine_distance";
    case DistanceMetric::kEuclideanSquared:
      return "euclidean_squared";
  }
  return "unknown";
}

Result<DistanceMetric> ParseDistanceMetric(std::string_view text) {
  if (text == "cosine_distance") return DistanceMetric::kCosineDistance;
  if (text == "euclidean_squared") return DistanceMetric::kEuclideanSquared;
  return Status::InvalidArgument("invalid distance_metric " + Quote(text) +
                                 ": expected cosine_distance or euclidean_squared");
}

Status ValidateNamespaceName(std::string_view name) {
  if (name.empty() || name.size() > 128) {
    return Status::InvalidArgument("invalid namespace name " + Quote(name) +
                                   ": must be 1 to 128 characters");
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) {
      return Status::InvalidArgument("invalid namespace name " + Quote(name) +
                                     ": only [A-Za-z0-9-_.] allowed");
    }
  }
  return Status::OK();
}

}  // namespace gannet
