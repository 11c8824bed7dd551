// MemoryStore: std::map under a mutex.
#include "storage/memory_store.h"

#include <algorithm>
#include <chrono>

#include "storage/object_key.h"

namespace gannet::storage {

namespace {

constexpr size_t kDefaultListLimit = 1000;

int64_t SystemClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

MemoryStore::MemoryStore(std::function<int64_t()> clock_ms)
    : clock_ms_(clock_ms ? std::move(clock_ms) : SystemClockMs) {}

ObjectMeta MemoryStore::MetaOf(const std::string& key, const Object& object) {
  return ObjectMeta{key, object.data->size(), object.etag, object.mtime_ms};
}

MemoryStore::Object MemoryStore::MakeObject(std::string_view data) {
  return Object{std::make_shared<const std::string>(data), "m" + std::to_string(next_etag_++),
                clock_ms_()};
}

Result<GetResult> MemoryStore::Get(std::string_view key, std::optional<ByteRange> range) {
  GANNET_RETURN_IF_ERROR(ValidateKey(key));
  std::shared_ptr<const std::string> data;
  GetResult result;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = objects_.find(key);
    if (it == objects_.end()) return Status::NotFound("object '" + std::string(key) + "'");
    data = it->second.data;
    result.meta = MetaOf(it->first, it->second);
  }
  // Copy outside the lock: the bytes are immutable and kept alive by `data`.
  if (!range) {
    result.data = *data;
  } else {
    uint64_t offset = std::min<uint64_t>(range->offset, data->size());
    uint64_t length = std::min<uint64_t>(range->length, data->size() - offset);
    result.data = data->substr(offset, length);
  }
  return result;
}

Result<ObjectMeta> MemoryStore::Head(std::string_view key) {
  GANNET_RETURN_IF_ERROR(ValidateKey(key));
  std::lock_guard<std::mutex> lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return Status::NotFound("object '" + std::string(key) + "'");
  return MetaOf(it->first, it->second);
}

Result<ListResult> MemoryStore::List(std::string_view prefix, std::string_view start_after,
                                     size_t limit) {
  if (limit == 0) limit = kDefaultListLimit;
  ListResult result;
  std::lock_guard<std::mutex> lock(mu_);
  // First key that is both >= prefix and > start_after.
  auto it = start_after < prefix ? objects_.lower_bound(prefix) : objects_.upper_bound(start_after);
  for (; it != objects_.end() && it->first.starts_with(prefix); ++it) {
    if (result.objects.size() == limit) {
      result.truncated = true;
      break;
    }
    result.objects.push_back(MetaOf(it->first, it->second));
  }
  return result;
}

Status MemoryStore::Delete(std::string_view key) {
  GANNET_RETURN_IF_ERROR(ValidateKey(key));
  std::lock_guard<std::mutex> lock(mu_);
  auto it = objects_.find(key);
  if (it != objects_.end()) objects_.erase(it);
  return Status::OK();
}

Result<ObjectMeta> MemoryStore::PutIfAbsent(std::string_view key, std::string_view data) {
  GANNET_RETURN_IF_ERROR(ValidateKey(key));
  std::lock_guard<std::mutex> lock(mu_);
  auto it = objects_.find(key);
  if (it != objects_.end()) {
    return Status::AlreadyExists("object '" + std::string(key) + "' already exists");
  }
  it = objects_.emplace(std::string(key), MakeObject(data)).first;
  return MetaOf(it->first, it->second);
}

Result<ObjectMeta> MemoryStore::PutIfMatch(std::string_view key, std::string_view data,
                                           std::string_view etag) {
  GANNET_RETURN_IF_ERROR(ValidateKey(key));
  std::lock_guard<std::mutex> lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) {
    return Status::PreconditionFailed("object '" + std::string(key) + "' does not exist");
  }
  if (it->second.etag != etag) {
    return Status::PreconditionFailed("object '" + std::string(key) + "' has etag " +
                                      it->second.etag + ", not " + std::string(etag));
  }
  it->second = MakeObject(data);
  return MetaOf(it->first, it->second);
}

}  // namespace gannet::storage

namespace gannet {

ObjectStorePtr NewMemoryStore(std::function<int64_t()> clock_ms) {
  return std::make_shared<storage::MemoryStore>(std::move(clock_ms));
}

}  // namespace gannet
