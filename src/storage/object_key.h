// Object key rules shared by every ObjectStore backend.
//
// A valid key is 1..kMaxKeyLength bytes of printable ASCII (0x20-0x7E) split by '/' into
// components of at most kMaxKeyComponentLength bytes, none of which is empty, "." or
// "..". So a key has no leading, trailing or
// doubled '/', and maps safely onto a relative file system path.
#pragma once

#include <cstddef>
#include <string_view>

#include "gannet/status.h"

namespace gannet::storage {

inline constexpr size_t kMaxKeyLength = 1024;          // as in S3
inline constexpr size_t kMaxKeyComponentLength = 255;  // NAME_MAX of local file systems

// OK if `key` is valid, else InvalidArgument naming the problem.
Status ValidateKey(std::string_view key);

// True if `component` (text between two '/') may appear in a valid key.
bool IsValidKeyComponent(std::string_view component);

}  // namespace gannet::storage
