// libFuzzer target: DecodeDeletionVector must never crash or over-allocate.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "format/segment.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto rows = gannet::format::DecodeDeletionVector(
      std::string_view(reinterpret_cast<const char*>(data), size));
  if (rows.ok()) {
    auto again = gannet::format::DecodeDeletionVector(gannet::format::EncodeDeletionVector(*rows));
    if (!again.ok() || *again != *rows) __builtin_trap();
  }
  return 0;
}
