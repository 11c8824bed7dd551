#include "db/database_impl.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <vector>

#include "common/coding.h"
#include "common/limits.h"
#include "db/keys.h"

namespace gannet::db {

DatabaseImpl::DatabaseImpl(DatabaseOptions options) : options_(std::move(options)) {
  memory_budget_ = options_.memory_budget_bytes;
  if (memory_budget_ == 0) memory_budget_ = UsableMemoryBytes() / 2;
  if (options_.background_indexing) background_ = std::thread([this] { BackgroundLoop(); });
}

DatabaseImpl::~DatabaseImpl() { Close(); }

int64_t DatabaseImpl::NowMs() const {
  if (options_.clock_ms) return options_.clock_ms();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::shared_ptr<NamespaceImpl> DatabaseImpl::GetOrCreate(std::string_view name) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = namespaces_.find(name);
  if (it != namespaces_.end()) return it->second;
  auto ns = std::make_shared<NamespaceImpl>(*this, std::string(name));
  namespaces_.emplace(std::string(name), ns);
  return ns;
}

Result<std::shared_ptr<Namespace>> DatabaseImpl::OpenNamespace(std::string_view name) {
  GANNET_RETURN_IF_ERROR(ValidateNamespaceName(name));
  return std::shared_ptr<Namespace>(GetOrCreate(name));
}

Result<NamespaceList> DatabaseImpl::ListNamespaces(std::string_view prefix, std::string_view cursor,
                                                   size_t page_size) {
  if (page_size == 0 || page_size > 1000) {
    return Status::InvalidArgument("page_size: must be between 1 and 1000");
  }
  const std::string catalog = Keys::CatalogPrefix(options_.prefix);
  std::string start_after = cursor.empty() ? std::string() : catalog + std::string(cursor);
  GANNET_ASSIGN_OR_RETURN(
      ListResult list, options_.store->List(catalog + std::string(prefix), start_after, page_size));
  NamespaceList out;
  for (const ObjectMeta& o : list.objects) out.names.push_back(o.key.substr(catalog.size()));
  if (list.truncated && !out.names.empty()) out.next_cursor = out.names.back();
  return out;
}

Status DatabaseImpl::DeleteNamespace(std::string_view name) {
  GANNET_RETURN_IF_ERROR(ValidateNamespaceName(name));
  Keys keys(options_.prefix, std::string(name));
  ObjectStore& store = *options_.store;
  Result<ObjectMeta> marker = store.Head(keys.catalog());
  if (!marker.ok()) {
    if (marker.status().IsNotFound()) {
      return Status::NotFound("namespace '" + std::string(name) + "' not found");
    }
    return marker.status();
  }
  // The manifest goes first, then the rest: a concurrent reader sees either the old
  // namespace or an empty one, never segments without the manifest naming them.
  GANNET_RETURN_IF_ERROR(store.Delete(keys.manifest()));
  for (;;) {
    GANNET_ASSIGN_OR_RETURN(ListResult list, store.List(keys.base(), {}, 1000));
    for (const ObjectMeta& o : list.objects) GANNET_RETURN_IF_ERROR(store.Delete(o.key));
    if (!list.truncated) break;
  }
  GANNET_RETURN_IF_ERROR(store.Delete(keys.catalog()));
  GetOrCreate(name)->Reset();
  return Status::OK();
}

void DatabaseImpl::Close() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
  }
  bg_cv_.notify_all();
  if (background_.joinable()) background_.join();
}

void DatabaseImpl::BackgroundLoop() {
  std::unique_lock<std::mutex> l(mu_);
  while (!stopping_) {
    bg_cv_.wait_for(l, std::chrono::milliseconds(200));
    if (stopping_) break;
    std::vector<std::shared_ptr<NamespaceImpl>> open;
    for (const auto& [name, ns] : namespaces_) open.push_back(ns);
    l.unlock();
    for (const auto& ns : open) ns->MaybeMaintain();
    l.lock();
  }
}

void DatabaseImpl::Account(NamespaceImpl* ns) {
  // Dropped snapshots are freed after the lock is released (a large one takes a while).
  std::vector<SnapshotPtr> dropped;
  std::lock_guard<std::mutex> l(memory_mu_);
  const NamespaceImpl::Footprint mine = ns->footprint();
  uint64_t& used = memory_used_[ns];
  memory_total_ = memory_total_ - used + mine.bytes;
  used = mine.bytes;
  if (memory_total_ <= memory_budget_) return;
  // Evict down to 90% of the budget, least recently used first, so that the next few
  // loads do not each trigger a round of eviction.
  const uint64_t target = memory_budget_ / 10 * 9;
  std::vector<std::pair<uint64_t, NamespaceImpl*>> candidates;  // (last use, namespace)
  for (const auto& [other, bytes] : memory_used_) {
    if (other == ns || bytes == 0) continue;
    const NamespaceImpl::Footprint f = other->footprint();
    if (f.evictable) candidates.emplace_back(f.last_use, other);
  }
  std::sort(candidates.begin(), candidates.end());
  for (const auto& [last_use, victim] : candidates) {
    if (memory_total_ <= target) break;
    SnapshotPtr snap;
    if (!victim->DropSnapshot(&snap)) continue;  // became busy meanwhile
    dropped.push_back(std::move(snap));
    memory_total_ -= memory_used_[victim];
    memory_used_[victim] = 0;
    ++memory_evictions_;
  }
}

DatabaseImpl::MemoryStats DatabaseImpl::memory_stats() const {
  std::lock_guard<std::mutex> l(memory_mu_);
  return MemoryStats{memory_budget_, memory_total_, memory_evictions_};
}

}  // namespace gannet::db

namespace gannet {

Result<std::unique_ptr<Database>> Database::Open(DatabaseOptions options) {
  if (options.store == nullptr) return Status::InvalidArgument("DatabaseOptions.store is required");
  if (!options.prefix.empty() && options.prefix.back() != '/') options.prefix += '/';
  if (options.index_tail_rows == 0) {
    return Status::InvalidArgument("DatabaseOptions.index_tail_rows must be positive");
  }
  return std::unique_ptr<Database>(new db::DatabaseImpl(std::move(options)));
}

bool IsImmutableDataKey(std::string_view key) {
  // By the key layout (db/keys.h), from the end, so any store prefix and any namespace
  // name work: .../ns/<ns>/segments/<id> and .../ns/<ns>/deletes/<id>/<version>.
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    const size_t slash = key.find('/', start);
    parts.push_back(key.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  const size_t n = parts.size();
  if (n >= 4 && parts[n - 2] == "segments" && parts[n - 4] == "ns") return true;
  return n >= 5 && parts[n - 3] == "deletes" && parts[n - 5] == "ns";
}

namespace {

// A positive byte count from the environment variable `name`, nullopt when it is unset.
Result<std::optional<uint64_t>> EnvBytes(const char* name) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return std::optional<uint64_t>();
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text, &end, 10);
  if (text[0] < '0' || text[0] > '9' || end == nullptr || *end != '\0' || v == 0 ||
      v == ULLONG_MAX) {
    return Status::InvalidArgument(std::string(name) + ": expected a positive byte count, got '" +
                                   text + "'");
  }
  return std::optional<uint64_t>(v);
}

// The disk cache in front of a bucket: GANNET_CACHE_DIR (default
// $XDG_CACHE_HOME/gannet or ~/.cache/gannet; "off" disables it), one subdirectory per
// bucket URL, GANNET_CACHE_BYTES (default 10 GiB). Only immutable objects (segments,
// their indexes, deletion vectors) are cached; the manifest and WAL always go to the
// bucket.
Result<ObjectStorePtr> WithDiskCache(ObjectStorePtr store, const std::string& url) {
  const char* env_dir = std::getenv("GANNET_CACHE_DIR");
  std::string root;
  if (env_dir != nullptr) {
    root = env_dir;
    if (root == "off" || root.empty()) return store;
  } else if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != '\0') {
    root = std::string(xdg) + "/gannet";
  } else if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    root = std::string(home) + "/.cache/gannet";
  } else {
    return store;
  }
  CacheOptions o;
  o.budget_bytes = 0;  // the engine keeps decoded objects in memory itself
  o.cacheable = IsImmutableDataKey;
  char sub[17];
  std::snprintf(sub, sizeof(sub), "%016llx", static_cast<unsigned long long>(Checksum64(url)));
  o.disk_dir = root + "/" + sub;
  GANNET_ASSIGN_OR_RETURN(std::optional<uint64_t> budget, EnvBytes("GANNET_CACHE_BYTES"));
  if (budget) o.disk_budget_bytes = *budget;
  GANNET_ASSIGN_OR_RETURN(std::shared_ptr<CachingStore> cached,
                          OpenCachingStore(std::move(store), std::move(o)));
  return ObjectStorePtr(std::move(cached));
}

}  // namespace

Result<std::unique_ptr<Database>> Database::OpenPath(const std::string& dir) {
  ObjectStorePtr store;
  if (IsS3Url(dir)) {
    GANNET_ASSIGN_OR_RETURN(S3Options s3, S3Options::FromUrlAndEnv(dir));
    // Segments and indexes have one writer each (unique names): large ones go multipart.
    s3.multipart_keys = IsImmutableDataKey;
    GANNET_ASSIGN_OR_RETURN(store, OpenS3Store(s3));
    // Hedged GETs (GANNET_S3_HEDGE_MS: resend a GET unanswered after this many ms; off
    // by default), below the disk cache so that only real bucket reads are hedged.
    if (const char* hedge = std::getenv("GANNET_S3_HEDGE_MS"); hedge != nullptr && *hedge) {
      char* end = nullptr;
      const long ms = std::strtol(hedge, &end, 10);
      if (end == nullptr || *end != '\0' || ms <= 0 || ms > 60000) {
        return Status::InvalidArgument(
            "GANNET_S3_HEDGE_MS: expected milliseconds in 1..60000, got '" + std::string(hedge) +
            "'");
      }
      store = NewHedgingStore(std::move(store), HedgeOptions{std::chrono::milliseconds(ms), 1});
    }
    GANNET_ASSIGN_OR_RETURN(store, WithDiskCache(std::move(store), dir));
  } else {
    GANNET_ASSIGN_OR_RETURN(store, OpenLocalStore(dir));
  }
  DatabaseOptions options;
  options.store = std::move(store);
  GANNET_ASSIGN_OR_RETURN(std::optional<uint64_t> memory, EnvBytes("GANNET_MEMORY_BYTES"));
  if (memory) options.memory_budget_bytes = *memory;
  if (const char* v = std::getenv("GANNET_COLD_LOAD_BYTES"); v != nullptr && *v != '\0') {
    if (std::string_view(v) == "0" || std::string_view(v) == "off") {
      options.cold_load_min_bytes = 0;
    } else {
      GANNET_ASSIGN_OR_RETURN(std::optional<uint64_t> cold, EnvBytes("GANNET_COLD_LOAD_BYTES"));
      options.cold_load_min_bytes = *cold;
    }
  }
  if (const char* v = std::getenv("GANNET_INDEXED_VECTORS"); v != nullptr && *v != '\0') {
    const std::string_view mode(v);
    if (mode != "memory" && mode != "ranged") {
      return Status::InvalidArgument("GANNET_INDEXED_VECTORS: expected memory or ranged, got '" +
                                     std::string(mode) + "'");
    }
    options.resident_indexed_vectors = mode == "memory";
  }
  return Open(std::move(options));
}

}  // namespace gannet
