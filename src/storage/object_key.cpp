// Object key validation.
#include "storage/object_key.h"

#include <string>

namespace gannet::storage {

namespace {

bool IsPrintableAscii(char c) { return c >= 0x20 && c <= 0x7e; }

std::string Quoted(std::string_view key) {
  std::string out = "'";
  for (char c : key.substr(0, 80)) {
    if (IsPrintableAscii(c)) {
      out.push_back(c);
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[(static_cast<unsigned char>(c) >> 4) & 0xf]);
      out.push_back(kHex[static_cast<unsigned char>(c) & 0xf]);
    }
  }
  if (key.size() > 80) out += "...";
  return out + "'";
}

}  // namespace

bool IsValidKeyComponent(std::string_view component) {
  if (component.empty() || component.size() > kMaxKeyComponentLength || component == "." ||
      component == "..") {
    return false;
  }
  for (char c : component) {
    if (!IsPrintableAscii(c) || c == '/') return false;
  }
  return true;
}

Status ValidateKey(std::string_view key) {
  if (key.empty()) return Status::InvalidArgument("object key is empty");
  if (key.size() > kMaxKeyLength) {
    return Status::InvalidArgument("object key " + Quoted(key) + " is longer than " +
                                   std::to_string(kMaxKeyLength) + " bytes");
  }
  for (char c : key) {
    if (!IsPrintableAscii(c)) {
      return Status::InvalidArgument("object key " + Quoted(key) +
                                     " has a byte outside printable ASCII");
    }
  }
  size_t begin = 0;
  while (true) {
    size_t end = key.find('/', begin);
    std::string_view component =
        key.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin);
    if (!IsValidKeyComponent(component)) {
      return Status::InvalidArgument(
          "object key " + Quoted(key) + " has an empty, '.', '..' or over-long (> " +
          std::to_string(kMaxKeyComponentLength) + " bytes) path component");
    }
    if (end == std::string_view::npos) break;
    begin = end + 1;
  }
  return Status::OK();
}

}  // namespace gannet::storage
