// libFuzzer target: Segment::Decode and DecodeDeletionVector must never crash, hang or
// over-allocate on any input; a decoded segment must be fully readable. Build flags as in
// wal_entry_fuzz.cpp.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "format/segment.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto seg = gannet::format::Segment::Decode(bytes);
  if (seg.ok()) {
    const auto& s = **seg;
    for (size_t row = 0; row < s.rows(); ++row) {
      if (s.Find(s.id(row)) != row) __builtin_trap();  // ids must be sorted and unique
      (void)s.GetDocument(row);
    }
  }
  (void)gannet::format::DecodeDeletionVector(bytes);
  return 0;
}
