// Thin POSIX helpers for LocalStore: an owning file descriptor and I/O calls that retry on
// EINTR, finish short reads/writes, and report failures as IOError naming the path and
// strerror. Nothing here throws.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "gannet/status.h"

namespace gannet::storage {

// IOError "<op> '<path>': <strerror(err)>".
Status ErrnoStatus(std::string_view op, std::string_view path, int err);

// Owns a file descriptor; closes it on destruction. Movable, not copyable.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.Release()) {}
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void Reset();

 private:
  int fd_ = -1;
};

// open(2), retried on EINTR. On failure returns -1 with errno set (callers map errno).
int OpenRetry(const char* path, int flags, int mode = 0);

// Writes all of `data` at the current offset.
Status WriteAll(int fd, std::string_view data, std::string_view path);

// Reads exactly `length` bytes at `offset` into `out` (resized), or fewer if the file ends
// first.
Status PReadAll(int fd, uint64_t offset, uint64_t length, std::string* out, std::string_view path);

// fsync(2) of an open file.
Status FsyncFd(int fd, std::string_view path);

// Opens the directory and fsyncs it, so entries created or removed in it are durable.
// Returns NotFound (not IOError) if the directory does not exist.
Status FsyncDir(const std::string& dir);

}  // namespace gannet::storage
