#include "storage/disk_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <tuple>
#include <vector>

#include "common/coding.h"
#include "storage/posix_file.h"

namespace gannet::storage {

namespace {

constexpr char kMagic[8] = {'G', 'A', 'N', 'N', 'E', 'T', 'D', 'C'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 48;
constexpr std::string_view kSuffix = ".obj";

struct Header {
  uint32_t key_len = 0, etag_len = 0;
  uint64_t data_len = 0;
  int64_t mtime_ms = 0;
  uint64_t checksum = 0;
};

bool ParseHeader(std::string_view h, Header* out) {
  if (h.size() < kHeaderBytes || std::memcmp(h.data(), kMagic, 8) != 0) return false;
  Reader r(h.substr(8));
  uint32_t version = 0, reserved = 0;
  uint64_t mtime = 0;
  if (!r.GetFixed32(&version) || !r.GetFixed32(&out->key_len) || !r.GetFixed32(&out->etag_len) ||
      !r.GetFixed32(&reserved) || !r.GetFixed64(&out->data_len) || !r.GetFixed64(&mtime) ||
      !r.GetFixed64(&out->checksum)) {
    return false;
  }
  out->mtime_ms = static_cast<int64_t>(mtime);
  return version == kVersion && out->key_len <= 4096 && out->etag_len <= 4096;
}

// An open file and its size; fd is invalid when it cannot be opened or stat'ed.
struct OpenFile {
  Fd fd;
  uint64_t size = 0;
  explicit OpenFile(const std::string& path) : fd(OpenRetry(path.c_str(), O_RDONLY | O_CLOEXEC)) {
    struct stat st;
    if (fd.valid() && ::fstat(fd.get(), &st) != 0) fd.Reset();
    if (fd.valid()) size = static_cast<uint64_t>(st.st_size);
  }
  // Exactly n bytes at `offset`, or false (an error or the file ends first).
  bool Read(uint64_t offset, uint64_t n, std::string* out, const std::string& path) const {
    return PReadAll(fd.get(), offset, n, out, path).ok() && out->size() == n;
  }
};

// Reads the whole file; nullopt when it cannot be opened or read.
std::optional<std::string> ReadFile(const std::string& path) {
  OpenFile f(path);
  std::string data;
  if (!f.fd.valid() || !f.Read(0, f.size, &data, path)) return std::nullopt;
  return data;
}

bool WriteFileAtomically(const std::string& path, std::string_view bytes) {
  const std::string tmp = path + ".tmp" + HexEncode(RandomBytes(6));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  const bool ok = done == bytes.size() && ::close(fd) == 0;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<DiskCache>> DiskCache::Open(const std::string& dir, uint64_t budget_bytes) {
  if (dir.empty()) return Status::InvalidArgument("disk cache: empty directory");
  // mkdir -p
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    const std::string part = dir.substr(0, pos);
    if (::mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) {
      return Status::IOError("disk cache: mkdir " + part + ": " + std::strerror(errno));
    }
  }
  std::unique_ptr<DiskCache> cache(new DiskCache(dir, budget_bytes));
  cache->Scan();
  return cache;
}

std::string DiskCache::PathOf(std::string_view key) const {
  char name[17];
  std::snprintf(name, sizeof(name), "%016llx", static_cast<unsigned long long>(Checksum64(key)));
  return dir_ + "/" + name + std::string(kSuffix);
}

void DiskCache::Scan() {
  DIR* d = ::opendir(dir_.c_str());
  if (d == nullptr) return;
  std::vector<std::tuple<int64_t, std::string, uint64_t>> found;  // mtime, key, size
  std::vector<std::string> junk;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    const std::string path = dir_ + "/" + name;
    if (name.find(".tmp") != std::string::npos) {
      // An interrupted write, or one another process sharing the directory is making:
      // only stale ones (over an hour old) are removed.
      struct stat st;
      if (::stat(path.c_str(), &st) == 0 && st.st_mtime + 3600 < ::time(nullptr)) {
        junk.push_back(path);
      }
      continue;
    }
    if (name.size() <= kSuffix.size() || name.substr(name.size() - kSuffix.size()) != kSuffix) {
      continue;
    }
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    std::string head(kHeaderBytes + 4096, '\0');
    const ssize_t n = ::pread(fd, head.data(), head.size(), 0);
    struct stat st;
    const bool stat_ok = ::fstat(fd, &st) == 0;
    ::close(fd);
    Header h;
    if (n < static_cast<ssize_t>(kHeaderBytes) || !stat_ok ||
        !ParseHeader(std::string_view(head.data(), static_cast<size_t>(n)), &h) ||
        static_cast<size_t>(n) < kHeaderBytes + h.key_len ||
        h.data_len > static_cast<uint64_t>(st.st_size) ||
        static_cast<uint64_t>(st.st_size) != kHeaderBytes + h.key_len + h.etag_len + h.data_len) {
      junk.push_back(path);
      continue;
    }
    std::string key = head.substr(kHeaderBytes, h.key_len);
    if (PathOf(key) != path) {
      junk.push_back(path);
      continue;
    }
    found.emplace_back(static_cast<int64_t>(st.st_mtime), std::move(key),
                       static_cast<uint64_t>(st.st_size));
  }
  ::closedir(d);
  for (const std::string& p : junk) ::unlink(p.c_str());
  std::sort(found.begin(), found.end());  // oldest first: tracked last ends up most recent
  std::vector<std::string> unlink;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [mtime, key, size] : found) Track(key, size, &unlink);
  }
  for (const std::string& p : unlink) ::unlink(p.c_str());
}

void DiskCache::Track(const std::string& key, uint64_t size, std::vector<std::string>* unlink) {
  auto it = index_.find(key);
  if (it != index_.end()) {
    bytes_ -= it->second->size;
    lru_.erase(it->second);
    index_.erase(it);
  }
  lru_.push_front(Entry{key, size});
  index_.emplace(key, lru_.begin());
  bytes_ += size;
  while (bytes_ > budget_ && lru_.size() > 1) {
    const Entry& victim = lru_.back();
    unlink->push_back(PathOf(victim.key));
    bytes_ -= victim.size;
    index_.erase(victim.key);
    lru_.pop_back();
    ++stats_.evictions;
  }
}

void DiskCache::Untrack(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(key);
  if (it == index_.end()) return;
  bytes_ -= it->second->size;
  lru_.erase(it->second);
  index_.erase(it);
}

bool DiskCache::Touch(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(key);
  if (it == index_.end()) {
    ++stats_.misses;
    return false;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  return true;
}

void DiskCache::Drop(const std::string& key, const std::string& path, bool damaged) {
  Untrack(key);
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.misses;
  if (damaged) {
    ++stats_.corrupt;
    ::unlink(path.c_str());
  }
}

void DiskCache::Served(GetResult& r, const std::string& key, std::string_view etag, uint64_t size,
                       int64_t mtime_ms) {
  r.meta.key = key;
  r.meta.etag = std::string(etag);
  r.meta.size = size;
  r.meta.mtime_ms = mtime_ms;
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.hits;
}

std::optional<GetResult> DiskCache::Get(std::string_view key) {
  const std::string k(key);
  if (!Touch(k)) return std::nullopt;
  const std::string path = PathOf(key);
  std::optional<std::string> file = ReadFile(path);
  Header h;
  const bool ok = file.has_value() && ParseHeader(*file, &h) && h.data_len <= file->size() &&
                  file->size() == kHeaderBytes + h.key_len + h.etag_len + h.data_len &&
                  std::string_view(*file).substr(kHeaderBytes, h.key_len) == key &&
                  Checksum64(std::string_view(*file).substr(kHeaderBytes)) == h.checksum;
  if (!ok) {
    // Deleted by another process sharing the directory, or damaged: never served.
    Drop(k, path, file.has_value());
    return std::nullopt;
  }
  GetResult r;
  r.data = file->substr(kHeaderBytes + h.key_len + h.etag_len);
  Served(r, k, std::string_view(*file).substr(kHeaderBytes + h.key_len, h.etag_len), h.data_len,
         h.mtime_ms);
  return r;
}

std::optional<GetResult> DiskCache::GetRange(std::string_view key, ByteRange range) {
  const std::string k(key);
  if (!Touch(k)) return std::nullopt;
  const std::string path = PathOf(key);
  OpenFile f(path);
  // The header, key and etag in one read (both are at most 4096 bytes).
  std::string head;
  Header h;
  bool ok = f.fd.valid() &&
            f.Read(0, std::min<uint64_t>(f.size, kHeaderBytes + 8192), &head, path) &&
            ParseHeader(head, &h) && h.data_len <= f.size &&
            f.size == kHeaderBytes + h.key_len + h.etag_len + h.data_len &&
            std::string_view(head).substr(kHeaderBytes, h.key_len) == key;
  GetResult r;
  if (ok) {
    const uint64_t offset = std::min(range.offset, h.data_len);
    const uint64_t length = std::min(range.length, h.data_len - offset);
    ok = f.Read(kHeaderBytes + h.key_len + h.etag_len + offset, length, &r.data, path);
  }
  if (!ok) {
    Drop(k, path, f.fd.valid());
    return std::nullopt;
  }
  Served(r, k, std::string_view(head).substr(kHeaderBytes + h.key_len, h.etag_len), h.data_len,
         h.mtime_ms);
  return r;
}

void DiskCache::Put(std::string_view key, const GetResult& object) {
  if (object.data.size() > budget_ / 8 || key.size() > 4096 || object.meta.etag.size() > 4096) {
    return;
  }
  Writer w;
  w.PutRaw(std::string_view(kMagic, 8));
  w.PutFixed32(kVersion);
  w.PutFixed32(static_cast<uint32_t>(key.size()));
  w.PutFixed32(static_cast<uint32_t>(object.meta.etag.size()));
  w.PutFixed32(0);
  w.PutFixed64(object.data.size());
  w.PutFixed64(static_cast<uint64_t>(object.meta.mtime_ms));
  w.PutFixed64(0);  // checksum, patched below
  w.PutRaw(key);
  w.PutRaw(object.meta.etag);
  w.PutRaw(object.data);
  std::string& bytes = w.buffer();
  const uint64_t sum = Checksum64(std::string_view(bytes).substr(kHeaderBytes));
  std::memcpy(bytes.data() + 40, &sum, 8);  // little-endian hosts, as PutFixed64
  if (!WriteFileAtomically(PathOf(key), bytes)) return;
  std::vector<std::string> unlink;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Track(std::string(key), bytes.size(), &unlink);
  }
  for (const std::string& p : unlink) ::unlink(p.c_str());
}

void DiskCache::Erase(std::string_view key) {
  Untrack(std::string(key));
  ::unlink(PathOf(key).c_str());
}

DiskCacheStats DiskCache::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  DiskCacheStats s = stats_;
  s.bytes = bytes_;
  s.objects = index_.size();
  return s;
}

}  // namespace gannet::storage
