#include "common/memory.h"

#include <sys/mman.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <cstdint>

namespace gannet {
namespace {

constexpr size_t kPageBytes = 4096;

size_t RoundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }

}  // namespace

void* AllocateMaybeHuge(size_t bytes) {
  if (bytes < kHugePageBytes) return ::operator new(bytes, std::nothrow);
  const size_t len = RoundUp(bytes, kPageBytes);
  // Over-map by a huge page and unmap the unaligned ends.
  void* raw = ::mmap(nullptr, len + kHugePageBytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const auto start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = RoundUp(start, kHugePageBytes);
  const uintptr_t end = aligned + len, raw_end = start + len + kHugePageBytes;
  if (aligned > start) ::munmap(raw, aligned - start);
  if (raw_end > end) ::munmap(reinterpret_cast<void*>(end), raw_end - end);
  // A hint only: EINVAL where the kernel has no transparent huge pages.
  (void)::madvise(reinterpret_cast<void*>(aligned), len / kHugePageBytes * kHugePageBytes,
                  MADV_HUGEPAGE);
  return reinterpret_cast<void*>(aligned);
}

void FreeMaybeHuge(void* p, size_t bytes) {
  if (p == nullptr) return;
  if (bytes < kHugePageBytes) {
    ::operator delete(p);
  } else {
    ::munmap(p, RoundUp(bytes, kPageBytes));
  }
}

void ReleaseFreeMemory() {
#if defined(__GLIBC__)
  (void)::malloc_trim(0);
#endif
}

}  // namespace gannet
