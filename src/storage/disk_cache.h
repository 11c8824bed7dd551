// DiskCache: the local-disk tier of CachingStore. Whole objects' bytes in files under one
// directory, least recently used evicted first within a byte budget. It survives
// restarts (the directory is scanned on open) and is never trusted blindly: every read
// verifies the file's key and an XXH3 checksum of its contents, and a file that fails
// is deleted and reported as a miss. Layout: docs/format/disk-cache.md.
//
// Several processes may share a directory: files are written to a temporary name and
// renamed into place, so a reader sees a whole file or none; each process enforces its
// budget over the files it knows of.
//
// Thread safety: all methods may be called concurrently.
#pragma once

#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "gannet/object_store.h"

namespace gannet::storage {

struct DiskCacheStats {
  uint64_t hits = 0, misses = 0, evictions = 0, corrupt = 0;
  uint64_t bytes = 0, objects = 0;
};

class DiskCache {
 public:
  // Creates `dir` if needed and indexes the files already there.
  static Result<std::unique_ptr<DiskCache>> Open(const std::string& dir, uint64_t budget_bytes);

  // The cached object, verified; nullopt on a miss (or a file that failed verification).
  std::optional<GetResult> Get(std::string_view key);
  // Bytes `range` of the cached object (truncated at its end), read alone: the file's
  // header, key and length are checked but not its checksum, which covers the whole
  // file. Callers verify what they read (segment vector chunks carry checksums).
  std::optional<GetResult> GetRange(std::string_view key, ByteRange range);
  // Stores a whole object (objects larger than budget / 8 are skipped). Best effort: an
  // I/O error leaves the cache without the object.
  void Put(std::string_view key, const GetResult& object);
  void Erase(std::string_view key);
  DiskCacheStats stats() const;

 private:
  DiskCache(std::string dir, uint64_t budget) : dir_(std::move(dir)), budget_(budget) {}
  std::string PathOf(std::string_view key) const;
  void Scan();
  // Marks `key` most recently used; false (counted as a miss) when it is not cached.
  bool Touch(const std::string& key);
  // A file that could not be served (deleted by another process sharing the directory,
  // or `damaged`: then unlinked) leaves the index; counted as a miss.
  void Drop(const std::string& key, const std::string& path, bool damaged);
  // Fills r's metadata for a hit, and counts it.
  void Served(GetResult& r, const std::string& key, std::string_view etag, uint64_t size,
              int64_t mtime_ms);
  // REQUIRES: mu_ held. Returns the paths to unlink (outside the lock).
  void Track(const std::string& key, uint64_t size, std::vector<std::string>* unlink);
  void Untrack(const std::string& key);

  struct Entry {
    std::string key;
    uint64_t size = 0;
  };
  const std::string dir_;
  const uint64_t budget_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // most recent first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  uint64_t bytes_ = 0;
  DiskCacheStats stats_;
};

}  // namespace gannet::storage
