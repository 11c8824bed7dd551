#include "model/base64.h"

#include <array>
#include <cstdint>
#include <cstring>
#include <limits>

namespace gannet::model {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> MakeDecodeTable() {
  std::array<int8_t, 256> t{};
  for (auto& x : t) x = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<uint8_t>(kAlphabet[i])] = static_cast<int8_t>(i);
  return t;
}
constexpr std::array<int8_t, 256> kDecode = MakeDecodeTable();

}  // namespace

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8) | p[i + 2];
    out.push_back(kAlphabet[v >> 18]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  const size_t rest = bytes.size() - i;
  if (rest == 1) {
    const uint32_t v = uint32_t{p[i]} << 16;
    out.push_back(kAlphabet[v >> 18]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out += "==";
  } else if (rest == 2) {
    const uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8);
    out.push_back(kAlphabet[v >> 18]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back('=');
  }
  return out;
}

Result<std::string> Base64Decode(std::string_view text) {
  size_t n = text.size();
  if (n % 4 == 0 && n >= 4) {  // strip padding
    if (text[n - 1] == '=') --n;
    if (text[n - 1] == '=') --n;
  }
  if (n % 4 == 1) return Status::InvalidArgument("invalid base64: bad length");
  std::string out;
  out.reserve(n / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; ++i) {
    const int8_t d = kDecode[static_cast<uint8_t>(text[i])];
    if (d < 0) {
      return Status::InvalidArgument("invalid base64: unexpected character at offset " +
                                     std::to_string(i));
    }
    acc = (acc << 6) | static_cast<uint32_t>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
    return Status::InvalidArgument("invalid base64: non-zero trailing bits");
  }
  return out;
}

Result<std::vector<float>> DecodeBase64Floats(std::string_view text) {
  GANNET_ASSIGN_OR_RETURN(std::string bytes, Base64Decode(text));
  if (bytes.size() % 4 != 0) {
    return Status::InvalidArgument("base64 vector: " + std::to_string(bytes.size()) +
                                   " bytes is not a multiple of 4 (little-endian f32)");
  }
  std::vector<float> v(bytes.size() / 4);
  for (size_t i = 0; i < v.size(); ++i) {
    const auto* b = reinterpret_cast<const uint8_t*>(bytes.data()) + 4 * i;
    const uint32_t u =
        uint32_t{b[0]} | (uint32_t{b[1]} << 8) | (uint32_t{b[2]} << 16) | (uint32_t{b[3]} << 24);
    std::memcpy(&v[i], &u, 4);
  }
  return v;
}

float ToF32(double d) {
  constexpr double kMax = std::numeric_limits<float>::max();
  if (d > kMax) return std::numeric_limits<float>::infinity();
  if (d < -kMax) return -std::numeric_limits<float>::infinity();
  return static_cast<float>(d);
}

std::string EncodeBase64Floats(const std::vector<float>& v) {
  std::string bytes(v.size() * 4, '\0');
  for (size_t i = 0; i < v.size(); ++i) {
    uint32_t u;
    std::memcpy(&u, &v[i], 4);
    bytes[4 * i] = static_cast<char>(u & 0xff);
    bytes[4 * i + 1] = static_cast<char>((u >> 8) & 0xff);
    bytes[4 * i + 2] = static_cast<char>((u >> 16) & 0xff);
    bytes[4 * i + 3] = static_cast<char>(u >> 24);
  }
  return Base64Encode(bytes);
}

}  // namespace gannet::model
