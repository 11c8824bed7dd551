// Binary encoding helpers: little-endian fixed ints, LEB128 varints, length-prefixed
// bytes. Reader never reads past its buffer: every Get* reports failure instead.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace gannet {

class Writer {
 public:
  void PutU8(uint8_t v) { buf_.push_back(static_cast<char>(v)); }
  void PutFixed32(uint32_t v);
  void PutFixed64(uint64_t v);
  void PutVarint(uint64_t v);
  void PutSignedVarint(int64_t v);  // zig-zag
  void PutDouble(double v);
  void PutFloat(float v);
  void PutBytes(std::string_view b);        // varint length + bytes
  void PutRaw(std::string_view b) { buf_.append(b); }
  std::string& buffer() { return buf_; }
  std::string Release() { return std::move(buf_); }
  size_t size() const { return buf_.size(); }

 private:
  std::string buf_;
};

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  [[nodiscard]] bool GetU8(uint8_t* v);
  [[nodiscard]] bool GetFixed32(uint32_t* v);
  [[nodiscard]] bool GetFixed64(uint64_t* v);
  [[nodiscard]] bool GetVarint(uint64_t* v);
  [[nodiscard]] bool GetSignedVarint(int64_t* v);
  [[nodiscard]] bool GetDouble(double* v);
  [[nodiscard]] bool GetFloat(float* v);
  [[nodiscard]] bool GetBytes(std::string_view* b);  // view into the input
  [[nodiscard]] bool GetRaw(size_t n, std::string_view* b);
  size_t remaining() const { return data_.size() - pos_; }
  size_t position() const { return pos_; }
  bool done() const { return pos_ == data_.size(); }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

// 64-bit checksum (XXH3) of `data`.
uint64_t Checksum64(std::string_view data);

// Random bytes from the OS (for writer nonces and object ids).
std::string RandomBytes(size_t n);
std::string HexEncode(std::string_view bytes);

// 20-digit zero-padded decimal, so keys sort numerically.
std::string PadSequence(uint64_t seq);

}  // namespace gannet
