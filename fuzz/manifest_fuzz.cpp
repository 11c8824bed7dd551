// libFuzzer target: DecodeManifest must never crash, hang or over-allocate on any input.
// Build flags as in wal_entry_fuzz.cpp.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "format/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto m =
      gannet::format::DecodeManifest(std::string_view(reinterpret_cast<const char*>(data), size));
  if (m.ok()) {
    auto again = gannet::format::DecodeManifest(gannet::format::EncodeManifest(*m));
    if (!again.ok() || again->segments.size() != m->segments.size() || again->schema != m->schema) {
      __builtin_trap();
    }
  }
  return 0;
}
