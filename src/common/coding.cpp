// Binary encoding helpers. See coding.h for the contracts.
#include "common/coding.h"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>
#include <xxhash.h>

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace gannet {

static_assert(std::endian::native == std::endian::little || std::endian::native == std::endian::big,
              "mixed-endian platforms are not supported");

namespace {

template <typename T>
inline void AppendLE(std::string& buf, T v) {
  char tmp[sizeof(T)];
  for (size_t i = 0; i < sizeof(T); ++i) {
    tmp[i] = static_cast<char>(static_cast<uint8_t>(v >> (8 * i)));
  }
  buf.append(tmp, sizeof(T));
}

template <typename T>
inline T LoadLE(const char* p) {
  if constexpr (std::endian::native == std::endian::little) {
    T v;
    std::memcpy(&v, p, sizeof(T));
    return v;
  } else {
    T v = 0;
    for (size_t i = 0; i < sizeof(T); ++i) {
      v |= static_cast<T>(static_cast<uint8_t>(p[i])) << (8 * i);
    }
    return v;
  }
}

}  // namespace

void Writer::PutFixed32(uint32_t v) { AppendLE(buf_, v); }
void Writer::PutFixed64(uint64_t v) { AppendLE(buf_, v); }

void Writer::PutVarint(uint64_t v) {
  char tmp[10];
  size_t n = 0;
  while (v >= 0x80) {
    tmp[n++] = static_cast<char>(static_cast<uint8_t>(v) | 0x80);
    v >>= 7;
  }
  tmp[n++] = static_cast<char>(static_cast<uint8_t>(v));
  buf_.append(tmp, n);
}

void Writer::PutSignedVarint(int64_t v) {
  PutVarint((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}

void Writer::PutDouble(double v) { PutFixed64(std::bit_cast<uint64_t>(v)); }
void Writer::PutFloat(float v) { PutFixed32(std::bit_cast<uint32_t>(v)); }

void Writer::PutBytes(std::string_view b) {
  PutVarint(b.size());
  buf_.append(b);
}

bool Reader::GetU8(uint8_t* v) {
  if (remaining() < 1) return false;
  *v = static_cast<uint8_t>(data_[pos_++]);
  return true;
}

bool Reader::GetFixed32(uint32_t* v) {
  if (remaining() < 4) return false;
  *v = LoadLE<uint32_t>(data_.data() + pos_);
  pos_ += 4;
  return true;
}

bool Reader::GetFixed64(uint64_t* v) {
  if (remaining() < 8) return false;
  *v = LoadLE<uint64_t>(data_.data() + pos_);
  pos_ += 8;
  return true;
}

bool Reader::GetVarint(uint64_t* v) {
  uint64_t result = 0;
  size_t p = pos_;
  for (int shift = 0; shift < 64; shift += 7) {
    if (p >= data_.size()) return false;
    const uint8_t byte = static_cast<uint8_t>(data_[p++]);
    if (shift == 63) {
      // The tenth byte may only contribute the single remaining bit and must end.
      if (byte > 1) return false;
    }
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      // Reject non-canonical (overlong) encodings: a trailing zero byte after the first.
      if (byte == 0 && p - pos_ > 1) return false;
      *v = result;
      pos_ = p;
      return true;
    }
  }
  return false;
}

bool Reader::GetSignedVarint(int64_t* v) {
  uint64_t u;
  if (!GetVarint(&u)) return false;
  *v = static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
  return true;
}

bool Reader::GetDouble(double* v) {
  uint64_t u;
  if (!GetFixed64(&u)) return false;
  *v = std::bit_cast<double>(u);
  return true;
}

bool Reader::GetFloat(float* v) {
  uint32_t u;
  if (!GetFixed32(&u)) return false;
  *v = std::bit_cast<float>(u);
  return true;
}

bool Reader::GetBytes(std::string_view* b) {
  const size_t saved = pos_;
  uint64_t n;
  if (!GetVarint(&n)) return false;
  if (n > remaining()) {
    pos_ = saved;
    return false;
  }
  *b = data_.substr(pos_, static_cast<size_t>(n));
  pos_ += static_cast<size_t>(n);
  return true;
}

bool Reader::GetRaw(size_t n, std::string_view* b) {
  if (n > remaining()) return false;
  *b = data_.substr(pos_, n);
  pos_ += n;
  return true;
}

uint64_t Checksum64(std::string_view data) { return XXH3_64bits(data.data(), data.size()); }

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  size_t got = 0;
  while (got < n) {
    const ssize_t r = getrandom(out.data() + got, n - got, 0);
    if (r > 0) {
      got += static_cast<size_t>(r);
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    break;  // getrandom unavailable: fall back to /dev/urandom below
  }
  if (got < n) {
    const int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    while (fd >= 0 && got < n) {
      const ssize_t r = ::read(fd, out.data() + got, n - got);
      if (r > 0) {
        got += static_cast<size_t>(r);
      } else if (r < 0 && errno == EINTR) {
        continue;
      } else {
        break;
      }
    }
    if (fd >= 0) ::close(fd);
  }
  if (got < n) {
    // No entropy source at all: nonces would collide silently, which could make a writer
    // mistake another's WAL entry for its own. Refuse to continue.
    std::fputs("gannet: no OS randomness source available\n", stderr);
    std::abort();
  }
  return out;
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.resize(bytes.size() * 2);
  for (size_t i = 0; i < bytes.size(); ++i) {
    const uint8_t b = static_cast<uint8_t>(bytes[i]);
    out[2 * i] = kDigits[b >> 4];
    out[2 * i + 1] = kDigits[b & 0xf];
  }
  return out;
}

std::string PadSequence(uint64_t seq) {
  char buf[21];
  std::snprintf(buf, sizeof(buf), "%020llu", static_cast<unsigned long long>(seq));
  return std::string(buf, 20);
}

}  // namespace gannet
