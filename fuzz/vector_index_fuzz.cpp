// libFuzzer target: IvfIndex::Decode must never crash, hang or over-allocate on any input,
// and a decoded index must survive a search and re-encode to an equal index.
// Build flags as in wal_entry_fuzz.cpp.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "index/ivf_index.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using gannet::index::IvfIndex;
  auto idx = IvfIndex::Decode(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!idx.ok()) return 0;
  auto again = IvfIndex::Decode((*idx)->Encode());
  if (!again.ok() || (*again)->Encode() != (*idx)->Encode()) __builtin_trap();
  const IvfIndex& ix = **idx;
  if (ix.rows() * ix.dims() <= (size_t{1} << 20)) {
    std::vector<float> vectors(ix.rows() * ix.dims(), 0.5f), query(ix.dims(), 0.25f);
    gannet::index::VectorRows rows;
    rows.data = vectors.data();
    rows.rows = ix.rows();
    rows.dims = ix.dims();
    gannet::index::RowFilter filter(ix.rows(), true);
    for (size_t r = 0; r < ix.rows(); r += 3) filter.Deny(r);
    (void)ix.Search(query.data(), rows, {.k = 5});
    (void)ix.Search(query.data(), rows, {.k = 5, .recall_target = 0.5, .filter = &filter});
  }
  return 0;
}
