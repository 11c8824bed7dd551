// Process memory: large arrays backed by huge pages, and the heap's free pages returned.
//
// HugePageAllocator: an allocator for large arrays read at random (an index's codes, a
// segment's vectors) that asks the kernel to back them with transparent huge pages.
//
// A search reads a few hundred scattered rows of arrays of tens to hundreds of MB; with
// 4 KiB pages nearly every such read also misses the TLB and walks the page table. With
// 2 MiB pages the walks mostly vanish: on GCIDE × MiniLM (384-d) the SQ8 shortlist stage
// took 20 µs a query instead of 38 and the f32 re-rank 9 instead of 14.
//
// An allocation of at least kHugePageBytes is a private anonymous mapping of its own,
// aligned to 2 MiB, whose whole 2 MiB pages are advised MADV_HUGEPAGE before anything
// touches them: the kernel backs them with huge pages as they fault in where transparent
// huge pages are "madvise" (Debian's default) or "always". The tail short of a whole huge
// page keeps 4 KiB pages, so no memory is spent beyond what is asked (rounded to 4 KiB).
// The advice is a hint: where huge pages are off or unavailable the memory is ordinary.
// Smaller allocations come from operator new.
//
// Thread safety: stateless; every instance is interchangeable.
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace gannet {

inline constexpr size_t kHugePageBytes = size_t{2} << 20;

// Raw memory of `bytes` (> 0) as described above, or nullptr when the system has none.
// Release with FreeMaybeHuge(p, bytes), the same `bytes`.
void* AllocateMaybeHuge(size_t bytes);
void FreeMaybeHuge(void* p, size_t bytes);

// Returns the C heap's free pages to the system (glibc's malloc_trim; a no-op elsewhere).
// For after a large build whose scratch came from the heap: glibc keeps freed chunks of
// up to 32 MiB in the process. Takes the heap's locks for a walk over it: not for hot
// paths.
void ReleaseFreeMemory();

template <class T>
struct HugePageAllocator {
  using value_type = T;
  HugePageAllocator() = default;
  template <class U>
  HugePageAllocator(const HugePageAllocator<U>&) {}  // NOLINT: rebinding is implicit

  T* allocate(size_t n) {
    if (n > static_cast<size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
    void* p = AllocateMaybeHuge(n * sizeof(T));
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t n) { FreeMaybeHuge(p, n * sizeof(T)); }

  template <class U>
  bool operator==(const HugePageAllocator<U>&) const {
    return true;
  }
};

// A vector whose large buffers are backed by huge pages.
template <class T>
using HugeVector = std::vector<T, HugePageAllocator<T>>;

}  // namespace gannet
