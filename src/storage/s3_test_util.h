// Test-only helpers for running tests against a real S3-compatible server (Ceph RGW
// started by scripts/rgw.sh). Configured by GANNET_TEST_S3_BUCKET plus the standard
// AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION variables;
// tests skip when they are unset. Header-only so it needs no library target.
#pragma once

#include <cstdlib>
#include <random>
#include <string>

#include "gannet/object_store.h"
#include "storage/s3_store.h"

namespace gannet::storage {

// Why S3 tests cannot run here ("" when they can).
inline std::string S3TestUnavailableReason() {
  const char* bucket = std::getenv("GANNET_TEST_S3_BUCKET");
  if (bucket == nullptr || *bucket == '\0') {
    return "GANNET_TEST_S3_BUCKET is not set: start a server with "
           "`eval \"$(scripts/rgw.sh start)\"` (scripts/run-tests.sh does this)";
  }
  return "";
}

// A lower-case hex name part, unique per call.
inline std::string S3TestUniqueName() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  uint64_t value = rng();
  for (int i = 0; i < 16; ++i, value >>= 4) out.push_back(kHex[value & 0xf]);
  return out;
}

// Options for the test bucket with `prefix`. REQUIRES: S3TestUnavailableReason() == "".
inline Result<S3Options> S3TestOptions(const std::string& prefix) {
  GANNET_ASSIGN_OR_RETURN(
      S3Options options,
      S3Options::FromUrlAndEnv("s3://" + std::string(std::getenv("GANNET_TEST_S3_BUCKET")) + "/" +
                               prefix));
  options.request_timeout = std::chrono::milliseconds(20000);
  return options;
}

// A store on a new, empty bucket of its own (so keys up to the full 1024 bytes fit).
inline Result<ObjectStorePtr> NewS3TestBucketStore() {
  GANNET_ASSIGN_OR_RETURN(S3Options options, S3TestOptions(""));
  options.bucket = "gannet-t-" + S3TestUniqueName();
  GANNET_ASSIGN_OR_RETURN(std::shared_ptr<S3Store> store, S3Store::Open(options));
  GANNET_RETURN_IF_ERROR(store->CreateBucket());
  return ObjectStorePtr(std::move(store));
}

// A store on a fresh prefix of the shared test bucket.
inline Result<ObjectStorePtr> NewS3TestPrefixStore(const std::string& name) {
  GANNET_ASSIGN_OR_RETURN(S3Options options, S3TestOptions(name + "-" + S3TestUniqueName()));
  return OpenS3Store(options);
}

}  // namespace gannet::storage
