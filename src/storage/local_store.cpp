// LocalStore: objects as files, atomic create by link(2), compare-and-swap under flock(2).
#include "storage/local_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <system_error>
#include <utility>
#include <vector>

#include "storage/object_key.h"
#include "storage/posix_file.h"

namespace gannet::storage {

namespace {

constexpr char kTmpDir[] = ".tmp";
constexpr char kLocksDir[] = ".locks";
constexpr char kEtagXattr[] = "user.gannet.etag";
constexpr size_t kEtagLength = 16;
constexpr size_t kDefaultListLimit = 1000;
// PutIfMatch and Delete lock one of this many lock files, chosen by a hash of the key:
// a bounded set of files, at the cost of rare false sharing between keys.
constexpr uint64_t kLockStripes = 1024;
// How often PutIfAbsent retries creating parent directories that a concurrent Delete
// removed between mkdir and link.
constexpr int kMaxCreateAttempts = 100;
constexpr auto kStaleTempAge = std::chrono::hours(1);

std::string HexEtag(uint64_t hash) {
  char buf[kEtagLength + 1];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(hash));
  return std::string(buf, kEtagLength);
}

std::string ContentEtag(std::string_view data) {
  return HexEtag(XXH3_64bits(data.data(), data.size()));
}

bool IsHexEtag(std::string_view s) {
  return s.size() == kEtagLength && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

int64_t MtimeMs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
}

// errno values meaning "there is no object at this path".
bool IsMissing(int err) { return err == ENOENT || err == ENOTDIR || err == ELOOP; }

bool IsReservedName(std::string_view top_component) {
  return top_component == kTmpDir || top_component == kLocksDir;
}

std::string Quote(std::string_view key) { return "'" + std::string(key) + "'"; }

// Etag of the open regular file `fd` holding `size` bytes: its etag xattr, or the hash of
// its bytes when the xattr is absent or the file system does not support xattrs.
Result<std::string> EtagOfFile(int fd, uint64_t size, const std::string& path) {
  char buf[kEtagLength + 1];
  ssize_t n = ::fgetxattr(fd, kEtagXattr, buf, sizeof buf);
  if (n >= 0 && IsHexEtag(std::string_view(buf, static_cast<size_t>(n)))) {
    return std::string(buf, static_cast<size_t>(n));
  }
  if (n < 0 && errno != ENODATA && errno != ENOTSUP && errno != ERANGE) {
    return ErrnoStatus("getxattr", path, errno);
  }
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> state(XXH3_createState(),
                                                                 &XXH3_freeState);
  if (!state || XXH3_64bits_reset(state.get()) != XXH_OK) {
    return Status::Internal("cannot allocate an XXH3 state");
  }
  constexpr uint64_t kChunk = 1 << 20;
  std::string chunk;
  for (uint64_t offset = 0; offset < size;) {
    GANNET_RETURN_IF_ERROR(PReadAll(fd, offset, std::min(kChunk, size - offset), &chunk, path));
    if (chunk.empty()) break;
    XXH3_64bits_update(state.get(), chunk.data(), chunk.size());
    offset += chunk.size();
  }
  return HexEtag(XXH3_64bits_digest(state.get()));
}

struct OpenedObject {
  Fd fd;
  ObjectMeta meta;
};

// Opens the object file at `path` for reading. NotFound if there is no regular file.
Result<OpenedObject> OpenObject(std::string_view key, const std::string& path) {
  // O_NONBLOCK: never hang on a FIFO someone left in the tree. O_NOFOLLOW: objects are
  // regular files, never symlinks (List skips symlinks too).
  Fd fd(OpenRetry(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW));
  if (!fd.valid()) {
    if (IsMissing(errno)) return Status::NotFound("object " + Quote(key));
    return ErrnoStatus("open", path, errno);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus("stat", path, errno);
  if (!S_ISREG(st.st_mode)) return Status::NotFound("object " + Quote(key));
  OpenedObject opened{std::move(fd), {}};
  opened.meta.key = std::string(key);
  opened.meta.size = static_cast<uint64_t>(st.st_size);
  opened.meta.mtime_ms = MtimeMs(st);
  GANNET_ASSIGN_OR_RETURN(opened.meta.etag, EtagOfFile(opened.fd.get(), opened.meta.size, path));
  return opened;
}

// `range` of an opened object (all of it without one; clamped to its size), with the
// object's meta. The file is never modified in place, so the open descriptor reads a
// stable snapshot.
Result<GetResult> ReadOpened(const OpenedObject& opened, const std::optional<ByteRange>& range,
                             const std::string& path) {
  uint64_t offset = 0, length = opened.meta.size;
  if (range) {
    offset = std::min(range->offset, opened.meta.size);
    length = std::min(range->length, opened.meta.size - offset);
  }
  GetResult result;
  GANNET_RETURN_IF_ERROR(PReadAll(opened.fd.get(), offset, length, &result.data, path));
  result.meta = opened.meta;
  return result;
}

Status MakeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    return ErrnoStatus("mkdir", path, errno);
  }
  return Status::OK();
}

uint64_t RandomSeed() {
  uint64_t seed = 0;
  if (::getrandom(&seed, sizeof seed, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof seed)) {
    seed = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  }
  return seed ^ (static_cast<uint64_t>(::getpid()) << 32);
}

// Removes temp files under `tmp_dir` older than kStaleTempAge: writers that crashed
// between writing a temp file and linking it. Younger files may belong to live writers.
void SweepStaleTemps(const std::string& tmp_dir) {
  DIR* dir = ::opendir(tmp_dir.c_str());
  if (dir == nullptr) return;
  const auto cutoff = std::chrono::system_clock::now() - kStaleTempAge;
  const int64_t cutoff_s =
      std::chrono::duration_cast<std::chrono::seconds>(cutoff.time_since_epoch()).count();
  while (dirent* entry = ::readdir(dir)) {
    std::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    if (::fstatat(::dirfd(dir), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISREG(st.st_mode) && st.st_mtim.tv_sec < cutoff_s) {
      ::unlinkat(::dirfd(dir), entry->d_name, 0);  // best effort
    }
  }
  ::closedir(dir);
}

}  // namespace

// A fsynced temp file under <root>/.tmp, removed on destruction unless consumed.
struct LocalStore::TempFile {
  std::string path;  // empty once consumed (renamed into place)
  uint64_t size = 0;
  std::string etag;
  int64_t mtime_ms = 0;

  TempFile() = default;
  TempFile(TempFile&& other) noexcept
      : path(std::exchange(other.path, {})),
        size(other.size),
        etag(std::move(other.etag)),
        mtime_ms(other.mtime_ms) {}
  TempFile& operator=(TempFile&&) = delete;
  ~TempFile() {
    if (!path.empty()) ::unlink(path.c_str());  // best effort; swept later if it fails
  }
};

struct LocalStore::ListState {
  std::string_view start_after;
  size_t limit = 0;
  ListResult result;
  bool done = false;
};

LocalStore::LocalStore(std::string root, uint64_t temp_seed)
    : root_(std::move(root)), temp_seed_(temp_seed) {}

Result<std::shared_ptr<LocalStore>> LocalStore::Open(const std::string& root) {
  if (root.empty()) return Status::InvalidArgument("local store root is empty");
  std::error_code ec;
  std::filesystem::create_directories(root, ec);
  if (ec) return Status::IOError("create directory '" + root + "': " + ec.message());
  char* real = ::realpath(root.c_str(), nullptr);
  if (real == nullptr) return ErrnoStatus("realpath", root, errno);
  std::string abs_root(real);
  std::free(real);
  GANNET_RETURN_IF_ERROR(MakeDir(abs_root + "/" + kTmpDir));
  GANNET_RETURN_IF_ERROR(MakeDir(abs_root + "/" + kLocksDir));
  GANNET_RETURN_IF_ERROR(FsyncDir(abs_root));
  SweepStaleTemps(abs_root + "/" + kTmpDir);
  return std::shared_ptr<LocalStore>(new LocalStore(std::move(abs_root), RandomSeed()));
}

std::string LocalStore::PathOf(std::string_view key) const {
  std::string path;
  path.reserve(root_.size() + 1 + key.size());
  path.append(root_).append("/").append(key);
  return path;
}

std::string LocalStore::ParentPathOf(std::string_view key) const {
  size_t slash = key.rfind('/');
  return slash == std::string_view::npos ? root_ : PathOf(key.substr(0, slash));
}

Status LocalStore::CheckKey(std::string_view key) const {
  GANNET_RETURN_IF_ERROR(ValidateKey(key));
  if (IsReservedName(key.substr(0, key.find('/')))) {
    return Status::InvalidArgument("object key " + Quote(key) +
                                   " uses a name the local store reserves (.tmp, .locks)");
  }
  return Status::OK();
}

Status LocalStore::InvalidNesting(std::string_view key) const {
  return Status::InvalidArgument("local store " + root_ + " cannot hold key " + Quote(key) +
                                 ": a key cannot be both an object and a prefix directory of "
                                 "other keys ('a' and 'a/b')");
}

Result<LocalStore::TempFile> LocalStore::WriteTempFile(std::string_view data) {
  const std::string tmp_dir = root_ + "/" + kTmpDir;
  TempFile tmp;
  Fd fd;
  for (int attempt = 0; !fd.valid(); ++attempt) {
    char name[64];
    std::snprintf(name, sizeof name, "/%d-%016llx-%llu", static_cast<int>(::getpid()),
                  static_cast<unsigned long long>(temp_seed_),
                  static_cast<unsigned long long>(temp_counter_.fetch_add(1)));
    std::string path = tmp_dir + name;
    fd = Fd(OpenRetry(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (fd.valid()) {
      tmp.path = std::move(path);
    } else if (attempt >= 3 || (errno != EEXIST && errno != ENOENT)) {
      return ErrnoStatus("create temp file", path, errno);
    } else if (errno == ENOENT) {
      GANNET_RETURN_IF_ERROR(MakeDir(tmp_dir));  // someone removed .tmp; recreate it
    }
  }
  GANNET_RETURN_IF_ERROR(WriteAll(fd.get(), data, tmp.path));
  tmp.size = data.size();
  tmp.etag = ContentEtag(data);
  if (::fsetxattr(fd.get(), kEtagXattr, tmp.etag.data(), tmp.etag.size(), 0) != 0 &&
      errno != ENOTSUP) {
    return ErrnoStatus("setxattr", tmp.path, errno);
  }
  GANNET_RETURN_IF_ERROR(FsyncFd(fd.get(), tmp.path));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus("stat", tmp.path, errno);
  tmp.mtime_ms = MtimeMs(st);
  return tmp;
}

Status LocalStore::MakeParentDirs(std::string_view key) {
  for (size_t slash = key.find('/'); slash != std::string_view::npos;
       slash = key.find('/', slash + 1)) {
    const std::string dir = PathOf(key.substr(0, slash));
    if (::mkdir(dir.c_str(), 0755) == 0) {
      // Make the new directory's entry durable in its parent.
      Status st = FsyncDir(ParentPathOf(key.substr(0, slash)));
      if (!st.ok() && !st.IsNotFound()) return st;
    } else if (errno == ENOENT) {
      return Status::OK();  // a concurrent Delete removed an ancestor: the caller retries
    } else if (errno == ENOTDIR) {
      return InvalidNesting(key);
    } else if (errno != EEXIST) {
      return ErrnoStatus("mkdir", dir, errno);
    }
  }
  return Status::OK();
}

Result<Fd> LocalStore::LockKey(std::string_view key) {
  char name[16];
  std::snprintf(
      name, sizeof name, "/%03llx",
      static_cast<unsigned long long>(XXH3_64bits(key.data(), key.size()) % kLockStripes));
  const std::string path = root_ + "/" + kLocksDir + name;
  Fd fd(OpenRetry(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd.valid() && errno == ENOENT) {  // someone removed .locks; recreate it
    GANNET_RETURN_IF_ERROR(MakeDir(root_ + "/" + kLocksDir));
    fd = Fd(OpenRetry(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  }
  if (!fd.valid()) return ErrnoStatus("open lock file", path, errno);
  while (::flock(fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return ErrnoStatus("flock", path, errno);
  }
  return fd;
}

Result<ObjectMeta> LocalStore::StatObject(std::string_view key) {
  GANNET_ASSIGN_OR_RETURN(OpenedObject opened, OpenObject(key, PathOf(key)));
  return std::move(opened.meta);
}

Result<GetResult> LocalStore::Get(std::string_view key, std::optional<ByteRange> range) {
  GANNET_RETURN_IF_ERROR(CheckKey(key));
  const std::string path = PathOf(key);
  GANNET_ASSIGN_OR_RETURN(OpenedObject opened, OpenObject(key, path));
  return ReadOpened(opened, range, path);
}

std::vector<Result<GetResult>> LocalStore::GetMany(const std::vector<GetRequest>& requests) {
  for (const GetRequest& r : requests) {
    if (!r.range) return ObjectStore::GetMany(requests);
  }
  std::vector<Result<GetResult>> out(requests.size(), Status::Internal("not fetched"));
  for (size_t i = 0; i < requests.size();) {
    const std::string& key = requests[i].key;
    size_t end = i + 1;
    while (end < requests.size() && requests[end].key == key) ++end;
    Status checked = CheckKey(key);
    const std::string path = checked.ok() ? PathOf(key) : std::string();
    Result<OpenedObject> opened =
        checked.ok() ? OpenObject(key, path) : Result<OpenedObject>(checked);
    for (; i < end; ++i) {
      out[i] = opened.ok() ? ReadOpened(*opened, requests[i].range, path)
                           : Result<GetResult>(opened.status());
    }
  }
  return out;
}

Result<ObjectMeta> LocalStore::Head(std::string_view key) {
  GANNET_RETURN_IF_ERROR(CheckKey(key));
  return StatObject(key);
}

Result<ObjectMeta> LocalStore::PutIfAbsent(std::string_view key, std::string_view data) {
  GANNET_RETURN_IF_ERROR(CheckKey(key));
  GANNET_ASSIGN_OR_RETURN(TempFile tmp, WriteTempFile(data));
  const std::string path = PathOf(key);
  for (int attempt = 0;; ++attempt) {
    // link(2) fails with EEXIST if the key exists: the atomic create-if-absent.
    if (::link(tmp.path.c_str(), path.c_str()) == 0) break;
    const int err = errno;
    if (err == EEXIST) {
      struct stat st;
      if (::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return InvalidNesting(key);
      return Status::AlreadyExists("object " + Quote(key) + " already exists");
    }
    if (err == ENOTDIR) return InvalidNesting(key);
    if (err == EINTR) continue;
    if (err != ENOENT || attempt >= kMaxCreateAttempts) return ErrnoStatus("link", path, err);
    GANNET_RETURN_IF_ERROR(MakeParentDirs(key));
  }
  Status synced = FsyncDir(ParentPathOf(key));
  // NotFound: the object was already deleted again, so there is nothing to make durable.
  if (!synced.ok() && !synced.IsNotFound()) return synced;
  return ObjectMeta{std::string(key), tmp.size, tmp.etag, tmp.mtime_ms};
  // ~TempFile unlinks the temp name; the object keeps the inode.
}

Result<ObjectMeta> LocalStore::PutIfMatch(std::string_view key, std::string_view data,
                                          std::string_view etag) {
  GANNET_RETURN_IF_ERROR(CheckKey(key));
  // Write and fsync the new bytes before taking the lock, to keep the critical section short.
  GANNET_ASSIGN_OR_RETURN(TempFile tmp, WriteTempFile(data));
  GANNET_ASSIGN_OR_RETURN(Fd lock, LockKey(key));
  Result<ObjectMeta> current = StatObject(key);
  if (!current.ok()) {
    if (current.status().IsNotFound()) {
      return Status::PreconditionFailed("object " + Quote(key) + " does not exist");
    }
    return current.status();
  }
  if (current->etag != etag) {
    return Status::PreconditionFailed("object " + Quote(key) + " has etag " + current->etag +
                                      ", not " + std::string(etag));
  }
  const std::string path = PathOf(key);
  if (::rename(tmp.path.c_str(), path.c_str()) != 0) return ErrnoStatus("rename", path, errno);
  tmp.path.clear();  // consumed
  GANNET_RETURN_IF_ERROR(FsyncDir(ParentPathOf(key)));
  return ObjectMeta{std::string(key), tmp.size, tmp.etag, tmp.mtime_ms};
}

Status LocalStore::Delete(std::string_view key) {
  GANNET_RETURN_IF_ERROR(CheckKey(key));
  const std::string path = PathOf(key);
  {
    // The lock keeps a concurrent PutIfMatch from resurrecting the object after it
    // checked the etag.
    GANNET_ASSIGN_OR_RETURN(Fd lock, LockKey(key));
    if (::unlink(path.c_str()) != 0) {
      // EISDIR: the key names a directory of other keys, so there is no such object.
      if (IsMissing(errno) || errno == EISDIR) return Status::OK();
      return ErrnoStatus("unlink", path, errno);
    }
    Status synced = FsyncDir(ParentPathOf(key));
    if (!synced.ok() && !synced.IsNotFound()) return synced;
  }
  RemoveEmptyParents(key);
  return Status::OK();
}

void LocalStore::RemoveEmptyParents(std::string_view key) {
  // rmdir(2) fails on a non-empty directory, so this never removes another key's parent.
  // A concurrent PutIfAbsent that loses its directory here recreates it and retries.
  for (size_t slash = key.rfind('/'); slash != std::string_view::npos && slash > 0;
       slash = key.rfind('/', slash - 1)) {
    if (::rmdir(PathOf(key.substr(0, slash)).c_str()) != 0) return;
  }
}

Result<ListResult> LocalStore::List(std::string_view prefix, std::string_view start_after,
                                    size_t limit) {
  ListState state;
  state.start_after = start_after;
  state.limit = limit == 0 ? kDefaultListLimit : limit;
  // Start in the deepest directory the prefix names; only its entries whose names start
  // with the rest of the prefix can hold matching keys.
  const size_t slash = prefix.rfind('/');
  std::string dir_key;
  std::string_view name_prefix = prefix;
  if (slash != std::string_view::npos) {
    std::string_view dir_part = prefix.substr(0, slash);
    // No valid key lies under an invalid or reserved directory.
    if (!ValidateKey(dir_part).ok() || IsReservedName(dir_part.substr(0, dir_part.find('/')))) {
      return state.result;
    }
    dir_key = std::string(prefix.substr(0, slash + 1));
    name_prefix = prefix.substr(slash + 1);
  }
  GANNET_RETURN_IF_ERROR(ListDir(state, dir_key, name_prefix));
  return std::move(state.result);
}

Status LocalStore::ListDir(ListState& state, const std::string& dir_key,
                           std::string_view name_prefix) {
  const std::string dir_path =
      dir_key.empty() ? root_ : PathOf(std::string_view(dir_key).substr(0, dir_key.size() - 1));
  struct Entry {
    std::string key;  // full key; a directory's ends in '/', which sorts it correctly
    bool is_dir;
  };
  std::vector<Entry> entries;
  {
    std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(dir_path.c_str()), &::closedir);
    if (!dir) {
      if (IsMissing(errno)) return Status::OK();  // nothing there (or removed meanwhile)
      return ErrnoStatus("opendir", dir_path, errno);
    }
    while (true) {
      errno = 0;
      dirent* entry = ::readdir(dir.get());
      if (entry == nullptr) {
        if (errno != 0) return ErrnoStatus("readdir", dir_path, errno);
        break;
      }
      std::string_view name = entry->d_name;
      if (!name.starts_with(name_prefix) || !IsValidKeyComponent(name)) continue;
      if (dir_key.empty() && IsReservedName(name)) continue;
      bool is_dir;
      if (entry->d_type == DT_DIR || entry->d_type == DT_REG) {
        is_dir = entry->d_type == DT_DIR;
      } else if (entry->d_type == DT_UNKNOWN) {
        struct stat st;
        if (::fstatat(::dirfd(dir.get()), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) continue;
        is_dir = S_ISDIR(st.st_mode);
      } else {
        continue;  // symlinks, sockets, ...: never objects
      }
      std::string key = dir_key + std::string(name);
      if (is_dir) {
        key.push_back('/');
        // Skip a subtree only if every key in it sorts at or before start_after.
        if (key <= state.start_after && !state.start_after.starts_with(key)) continue;
      } else if (key <= state.start_after) {
        continue;
      }
      entries.push_back(Entry{std::move(key), is_dir});
    }
  }  // closes the directory before descending, bounding open descriptors to one
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.key < b.key; });
  for (const Entry& entry : entries) {
    if (entry.is_dir) {
      GANNET_RETURN_IF_ERROR(ListDir(state, entry.key, {}));
      if (state.done) break;
      continue;
    }
    if (state.result.objects.size() == state.limit) {
      state.result.truncated = true;
      state.done = true;
      break;
    }
    Result<ObjectMeta> meta = StatObject(entry.key);
    if (meta.ok()) {
      state.result.objects.push_back(std::move(meta).value());
    } else if (!meta.status().IsNotFound()) {  // NotFound: deleted since readdir
      return meta.status();
    }
  }
  return Status::OK();
}

}  // namespace gannet::storage

namespace gannet {

Result<ObjectStorePtr> OpenLocalStore(const std::string& root) {
  GANNET_ASSIGN_OR_RETURN(std::shared_ptr<storage::LocalStore> store,
                          storage::LocalStore::Open(root));
  return ObjectStorePtr(std::move(store));
}

}  // namespace gannet
