// LocalStore: an ObjectStore in a directory of the local file system.
// On-disk layout and protocol: docs/format/local-store.md.
//
// Key "a/b/c" is the file <root>/a/b/c. Objects are never modified in place: every put
// writes a complete temp file under <root>/.tmp/, fsyncs it, and then links it (create)
// or renames it (replace) into place, so readers never observe a partial object.
// The etag is the hex XXH3-64 of the bytes, cached in the file's "user.gannet.etag" xattr
// (recomputed from the bytes if the file system has no xattrs).
//
// Thread and process safety: safe for concurrent use by many threads and by many
// processes sharing one root. PutIfMatch and Delete serialise per key through flock(2)
// on a striped lock file under <root>/.locks/; PutIfAbsent relies on link(2) failing
// with EEXIST.
//
// Limitations of the file system mapping: a key cannot be both an object and a
// "directory" of other keys ("a" and "a/b"); such a put fails with InvalidArgument.
// Keys whose first component is ".tmp" or ".locks" are reserved (InvalidArgument).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "gannet/object_store.h"

namespace gannet::storage {

class Fd;  // storage/posix_file.h

class LocalStore final : public ObjectStore {
 public:
  // Creates `root` (and the .tmp/.locks directories) if needed and removes temp files
  // left over by crashed writers more than an hour ago.
  static Result<std::shared_ptr<LocalStore>> Open(const std::string& root);

  Result<GetResult> Get(std::string_view key, std::optional<ByteRange> range) override;
  // A batch of ranged reads (a re-rank's rows of one segment) runs on the caller's thread,
  // opening each object once per run of requests for it; batches with whole-object reads
  // take the threaded default.
  std::vector<Result<GetResult>> GetMany(const std::vector<GetRequest>& requests) override;
  Result<ObjectMeta> Head(std::string_view key) override;
  Result<ListResult> List(std::string_view prefix, std::string_view start_after,
                          size_t limit) override;
  Status Delete(std::string_view key) override;
  Result<ObjectMeta> PutIfAbsent(std::string_view key, std::string_view data) override;
  Result<ObjectMeta> PutIfMatch(std::string_view key, std::string_view data,
                                std::string_view etag) override;
  std::string Describe() const override { return "local:" + root_; }

  const std::string& root() const { return root_; }

 private:
  struct TempFile;
  struct ListState;

  LocalStore(std::string root, uint64_t temp_seed);

  std::string PathOf(std::string_view key) const;
  // Path of the directory holding `key` (the root for a key without '/').
  std::string ParentPathOf(std::string_view key) const;
  Status CheckKey(std::string_view key) const;
  // Writes `data` to a new, fsynced temp file whose etag xattr is set.
  Result<TempFile> WriteTempFile(std::string_view data);
  // Creates the directories above `key`, fsyncing the parent of each one created.
  Status MakeParentDirs(std::string_view key);
  // Meta of the object at `key`; NotFound if there is none.
  Result<ObjectMeta> StatObject(std::string_view key);
  // Removes now-empty directories above `key`, deepest first; best effort.
  void RemoveEmptyParents(std::string_view key);
  // Takes the cross-process lock serialising PutIfMatch and Delete of `key`; closing the
  // returned descriptor releases it.
  Result<Fd> LockKey(std::string_view key);
  // Appends the objects under directory `dir_key` ("" or ending in '/') whose names start
  // with `name_prefix` to `state`, in key order, until its limit is reached.
  Status ListDir(ListState& state, const std::string& dir_key, std::string_view name_prefix);
  Status InvalidNesting(std::string_view key) const;

  const std::string root_;  // absolute, no trailing '/'
  const uint64_t temp_seed_;
  std::atomic<uint64_t> temp_counter_{0};
};

}  // namespace gannet::storage
