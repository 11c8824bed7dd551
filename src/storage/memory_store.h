// MemoryStore: an ObjectStore held entirely in process memory, for tests and simulation.
//
// Thread safety: all methods are safe to call concurrently; one mutex serialises them, so
// every operation is atomic and linearizable. Nothing is durable. Etags are "m" followed
// by a store-wide write counter, so every successful put yields a fresh etag.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "gannet/object_store.h"

namespace gannet::storage {

class MemoryStore final : public ObjectStore {
 public:
  // `clock_ms` returns mtimes in ms since the Unix epoch; null means the system clock.
  explicit MemoryStore(std::function<int64_t()> clock_ms);

  Result<GetResult> Get(std::string_view key, std::optional<ByteRange> range) override;
  Result<ObjectMeta> Head(std::string_view key) override;
  Result<ListResult> List(std::string_view prefix, std::string_view start_after,
                          size_t limit) override;
  Status Delete(std::string_view key) override;
  Result<ObjectMeta> PutIfAbsent(std::string_view key, std::string_view data) override;
  Result<ObjectMeta> PutIfMatch(std::string_view key, std::string_view data,
                                std::string_view etag) override;
  std::string Describe() const override { return "memory"; }

 private:
  struct Object {
    std::shared_ptr<const std::string> data;  // immutable once stored; shared with readers
    std::string etag;
    int64_t mtime_ms = 0;
  };
  static ObjectMeta MetaOf(const std::string& key, const Object& object);
  // REQUIRES: mu_ held.
  Object MakeObject(std::string_view data);

  const std::function<int64_t()> clock_ms_;
  std::mutex mu_;
  std::map<std::string, Object, std::less<>> objects_;  // guarded by mu_
  uint64_t next_etag_ = 1;                              // guarded by mu_
};

}  // namespace gannet::storage
