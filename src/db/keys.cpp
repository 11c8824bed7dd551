#include "db/keys.h"

namespace gannet::db {

std::optional<uint64_t> Keys::ParseWalKey(std::string_view key) const {
  const std::string prefix = wal_prefix();
  if (key.size() != prefix.size() + 20 || key.substr(0, prefix.size()) != prefix) {
    return std::nullopt;
  }
  uint64_t seq = 0;
  for (char c : key.substr(prefix.size())) {
    if (c < '0' || c > '9') return std::nullopt;
    seq = seq * 10 + static_cast<uint64_t>(c - '0');
  }
  return seq;
}

}  // namespace gannet::db
