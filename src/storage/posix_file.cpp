// POSIX I/O helpers.
#include "storage/posix_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace gannet::storage {

Status ErrnoStatus(std::string_view op, std::string_view path, int err) {
  return Status::IOError(std::string(op) + " '" + std::string(path) +
                         "': " + std::generic_category().message(err));
}

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    Reset();
    fd_ = other.Release();
  }
  return *this;
}

void Fd::Reset() {
  if (fd_ >= 0) {
    // close(2) must not be retried on EINTR on Linux: the descriptor is already released.
    ::close(fd_);
    fd_ = -1;
  }
}

int OpenRetry(const char* path, int flags, int mode) {
  int fd;
  do {
    fd = ::open(path, flags, mode);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

Status WriteAll(int fd, std::string_view data, std::string_view path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("write", path, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::OK();
}

Status PReadAll(int fd, uint64_t offset, uint64_t length, std::string* out, std::string_view path) {
  out->resize(length);
  uint64_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(fd, out->data() + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("read", path, errno);
    }
    if (n == 0) break;  // end of file
    done += static_cast<uint64_t>(n);
  }
  out->resize(done);
  return Status::OK();
}

Status FsyncFd(int fd, std::string_view path) {
  while (::fsync(fd) != 0) {
    if (errno != EINTR) return ErrnoStatus("fsync", path, errno);
  }
  return Status::OK();
}

Status FsyncDir(const std::string& dir) {
  Fd fd(OpenRetry(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return Status::NotFound("directory '" + dir + "'");
    return ErrnoStatus("open directory", dir, errno);
  }
  return FsyncFd(fd.get(), dir);
}

}  // namespace gannet::storage
