#include "common/memory.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>

namespace gannet {
namespace {

// Large buffers are aligned to a huge page (so that whole ones can back them), small ones
// are ordinary; both hold what is written, up to their last byte.
TEST(HugePagesTest, LargeAllocationsAreAlignedAndWholeSmallOnesOrdinary) {
  for (size_t bytes : {size_t{1}, size_t{4096}, kHugePageBytes - 1, kHugePageBytes,
                       kHugePageBytes + 1, 3 * kHugePageBytes + 12345}) {
    auto* p = static_cast<uint8_t*>(AllocateMaybeHuge(bytes));
    ASSERT_NE(p, nullptr) << bytes;
    if (bytes >= kHugePageBytes) {
      EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % kHugePageBytes, 0u) << bytes;
    }
    for (size_t i = 0; i < bytes; ++i) p[i] = static_cast<uint8_t>(i * 31);
    size_t wrong = 0;
    for (size_t i = 0; i < bytes; ++i) wrong += p[i] != static_cast<uint8_t>(i * 31);
    EXPECT_EQ(wrong, 0u) << bytes;
    FreeMaybeHuge(p, bytes);
  }
  FreeMaybeHuge(nullptr, kHugePageBytes);  // a no-op, as free(nullptr)
}

// A HugeVector grows across the threshold (reallocating from operator new to a mapping of
// its own), copies and swaps like a std::vector.
TEST(HugePagesTest, HugeVectorBehavesAsAVector) {
  HugeVector<uint32_t> v;
  const size_t n = 3 * kHugePageBytes / sizeof(uint32_t) + 7;
  for (size_t i = 0; i < n; ++i) v.push_back(static_cast<uint32_t>(i));
  ASSERT_EQ(v.size(), n);
  EXPECT_EQ(std::accumulate(v.begin(), v.end(), uint64_t{0}), uint64_t{n} * (n - 1) / 2);
  HugeVector<uint32_t> copy = v;
  EXPECT_EQ(copy, v);
  HugeVector<uint32_t>().swap(v);
  EXPECT_TRUE(v.empty());
  copy.resize(10);
  copy.shrink_to_fit();
  EXPECT_EQ(copy[9], 9u);
}

}  // namespace
}  // namespace gannet
