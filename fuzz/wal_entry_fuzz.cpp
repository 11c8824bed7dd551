// libFuzzer target: DecodeWalEntry must never crash, hang or over-allocate on any input.
// Build with -fsanitize=fuzzer,address,undefined and
// -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION (skips checksum checks so the fuzzer reaches
// the structural decoders). Seed corpus: objects written by EncodeWalEntry.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "format/wal_entry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto entry =
      gannet::format::DecodeWalEntry(std::string_view(reinterpret_cast<const char*>(data), size));
  if (entry.ok()) {
    // A decoded entry re-encodes and decodes to an entry with the same shape.
    auto again = gannet::format::DecodeWalEntry(gannet::format::EncodeWalEntry(*entry));
    if (!again.ok() || again->batches.size() != entry->batches.size()) __builtin_trap();
  }
  return 0;
}
