// libFuzzer target: Segment::Decode, the ranged decode of a cold load
// (LocateSegmentDirectory, DecodeSegmentDirectory, Segment::DecodeWithoutVectors) and
// DecodeDeletionVector must never crash, hang or over-allocate on any input; a decoded
// segment must be fully readable. Build flags as in wal_entry_fuzz.cpp.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "format/frame.h"
#include "format/segment.h"

namespace {

void CheckReadable(const gannet::format::Segment& s) {
  for (size_t row = 0; row < s.rows(); ++row) {
    if (s.Find(s.id(row)) != row) __builtin_trap();  // ids must be sorted and unique
    (void)s.GetDocument(row);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gannet::format;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto seg = Segment::Decode(bytes);
  if (seg.ok()) CheckReadable(**seg);
  if (size >= kFrameHeaderBytes + kSegmentTailBytes) {
    auto loc = LocateSegmentDirectory(bytes.substr(size - kSegmentTailBytes), size);
    if (loc.ok()) {
      auto dir = DecodeSegmentDirectory(bytes.substr(loc->offset, loc->length), *loc);
      if (dir.ok()) {
        std::vector<std::string> blocks;
        for (const gannet::ByteRange& r : SegmentBlocksWithoutVectors(*dir)) {
          blocks.emplace_back(bytes.substr(r.offset, r.length));
        }
        SegmentDecodeOptions options;
        options.vector_reader = [bytes](const std::vector<gannet::ByteRange>& ranges,
                                        std::vector<std::string>* out) {
          out->clear();
          for (const gannet::ByteRange& r : ranges) {
            out->emplace_back(r.offset < bytes.size() ? bytes.substr(r.offset, r.length) : "");
          }
          return gannet::Status::OK();
        };
        auto cold = Segment::DecodeWithoutVectors(bytes.substr(0, kFrameHeaderBytes), size, *dir,
                                                  blocks, options);
        if (cold.ok()) CheckReadable(**cold);
      }
    }
  }
  (void)DecodeDeletionVector(bytes);
  return 0;
}
