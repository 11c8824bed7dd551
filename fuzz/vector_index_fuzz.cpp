// libFuzzer target: IvfIndex::Decode and the cold path (HeadPrefixBytes, DecodeHead and a
// search that reads posting lists by range from the same bytes) must never crash, hang or
// over-allocate on any input, and a decoded index must survive a search and re-encode to
// an equal index. Build flags as in wal_entry_fuzz.cpp.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "index/ivf_index.h"

namespace {

using gannet::index::IvfIndex;

void Search(const IvfIndex& ix) {
  if (ix.rows() * ix.dims() > (size_t{1} << 20)) return;
  std::vector<float> vectors(ix.rows() * ix.dims(), 0.5f), query(ix.dims(), 0.25f);
  gannet::index::VectorRows rows;
  rows.data = vectors.data();
  rows.rows = ix.rows();
  rows.dims = ix.dims();
  gannet::index::RowFilter filter(ix.rows(), true);
  for (size_t r = 0; r < ix.rows(); r += 3) filter.Deny(r);
  gannet::Status error;
  (void)ix.Search(query.data(), rows, {.k = 5, .error = &error});
  (void)ix.Search(query.data(), rows,
                  {.k = 5, .recall_target = 0.5, .filter = &filter, .error = &error});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto idx = IvfIndex::Decode(bytes);
  if (idx.ok()) {
    auto again = IvfIndex::Decode((*idx)->Encode());
    if (!again.ok() || (*again)->Encode() != (*idx)->Encode()) __builtin_trap();
    Search(**idx);
  }
  auto need = IvfIndex::HeadPrefixBytes(bytes.substr(0, IvfIndex::kHeadProbeBytes), size);
  if (need.ok() && *need > 0 && *need <= size) {
    auto cold = IvfIndex::DecodeHead(
        bytes.substr(0, *need), size,
        [bytes](const std::vector<gannet::ByteRange>& ranges, std::vector<std::string>* out) {
          out->clear();
          for (const gannet::ByteRange& r : ranges) {
            out->emplace_back(r.offset < bytes.size() ? bytes.substr(r.offset, r.length) : "");
          }
          return gannet::Status::OK();
        });
    if (cold.ok()) Search(**cold);
  }
  return 0;
}
