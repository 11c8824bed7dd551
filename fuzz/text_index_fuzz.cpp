// libFuzzer target: TextIndex::Decode must never crash, hang or over-allocate on any
// input, and every posting list of a decoded index must iterate, skip and report block
// bounds without reading outside the object, and the dictionary's hash finds every term. Build flags as in wal_entry_fuzz.cpp.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "index/text_index.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using gannet::index::PostingCursor;
  using gannet::index::TextIndex;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  // The row count comes from the segment; try the one the first field claims.
  for (uint64_t rows : {uint64_t{0}, uint64_t{8}, uint64_t{300}}) {
    auto idx = TextIndex::Decode(bytes, rows);
    if (!idx.ok()) continue;
    for (const auto& f : (*idx)->fields()) {
      size_t terms = 0;
      f->ForEachWithPrefix("", 64, [&](std::string_view term, const gannet::index::TermInfo& t) {
        if (f->Find(term) != &t) __builtin_trap();  // the hashed dictionary finds every term
        PostingCursor c(*f, t);
        uint32_t prev = 0, n = 0;
        gannet::index::BlockBound bound;
        (void)c.BoundAt(0, &bound);
        while (c.doc() != PostingCursor::kEnd) {
          if (n > 0 && c.doc() <= prev) __builtin_trap();
          if (c.doc() >= f->rows() || c.tf() == 0 || c.tf() > t.max_tf) __builtin_trap();
          (void)f->norm(c.doc());
          if (n % 5 == 0) {  // only some postings: the others' positions are skipped
            const uint32_t* pos = c.Positions();
            for (uint32_t i = 1; i < c.tf(); ++i) {
              if (pos[i] <= pos[i - 1]) __builtin_trap();
            }
          }
          prev = c.doc();
          ++n;
          if (n % 3 == 0) {
            c.Advance(prev + 7);
          } else {
            c.Next();
          }
        }
        ++terms;
      });
      (void)terms;
    }
    auto again = TextIndex::Decode((*idx)->Encode(), rows);
    if (!again.ok()) __builtin_trap();
  }
  return 0;
}
