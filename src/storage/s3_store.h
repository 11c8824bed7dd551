// S3Store: an ObjectStore over an S3-compatible bucket, spoken to with libcurl.
//
// Requests are signed by libcurl's own SigV4 (CURLOPT_AWS_SIGV4) with an
// `x-amz-content-sha256: UNSIGNED-PAYLOAD` header (objects carry their own checksums).
// Easy handles are pooled and share one connection cache and DNS cache, so requests
// from any thread reuse keep-alive connections. Every request runs on a curl multi handle
// driven by the calling thread; GetMany and the parts of a multipart upload keep up to
// max_parallel_requests in flight on one.
//
// Multipart upload: a PutIfAbsent of at least multipart_threshold bytes to a key that
// multipart_keys approves is a HEAD (AlreadyExists if present), CreateMultipartUpload,
// the parts in parallel (each retried on its own) and CompleteMultipartUpload with
// If-None-Match: *; any failure aborts the upload (AbortMultipartUpload).
//
// Conditional writes: PutIfAbsent sends `If-None-Match: *`, PutIfMatch sends `If-Match`
// with the etag unquoted (Ceph RGW only matches an unquoted etag; S3 accepts both). A
// 412 is AlreadyExists / PreconditionFailed. An answer that does not say whether the
// write happened (a timeout, a dropped connection, a 5xx: RGW sometimes answers 500 to
// the loser of an If-Match race) is returned as Unavailable without retrying, so the
// caller resolves it (the engine re-reads and looks for its writer nonce). Failures that
// certainly did not apply (connection refused, 429, 503 SlowDown, 409) are retried.
//
// Thread safety: all methods may be called concurrently from any number of threads.
#pragma once

#include <curl/curl.h>

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gannet/object_store.h"
#include "storage/s3_protocol.h"

namespace gannet::storage {

class S3Store final : public ObjectStore {
 public:
  // Validates `options`; does not contact the server.
  static Result<std::shared_ptr<S3Store>> Open(const S3Options& options);
  ~S3Store() override;
  S3Store(const S3Store&) = delete;
  S3Store& operator=(const S3Store&) = delete;

  Result<GetResult> Get(std::string_view key, std::optional<ByteRange> range) override;
  // Every GET in flight at once (up to max_parallel_requests) through one curl multi
  // handle driven by the calling thread; failed requests are retried together.
  std::vector<Result<GetResult>> GetMany(const std::vector<GetRequest>& requests) override;
  Result<ObjectMeta> Head(std::string_view key) override;
  Result<ListResult> List(std::string_view prefix, std::string_view start_after,
                          size_t limit) override;
  Status Delete(std::string_view key) override;
  Result<ObjectMeta> PutIfAbsent(std::string_view key, std::string_view data) override;
  Result<ObjectMeta> PutIfMatch(std::string_view key, std::string_view data,
                                std::string_view etag) override;
  std::string Describe() const override;

  // Creates the bucket (PUT Bucket). OK if this account already owns it. For tests and
  // tools; the store itself never creates buckets.
  Status CreateBucket();
  // The multipart uploads in progress (started, neither completed nor aborted) under
  // `prefix` (relative to the store's prefix): their keys, at most 1000. For tests and
  // tools.
  Result<std::vector<std::string>> ListMultipartUploads(std::string_view prefix);

 private:
  explicit S3Store(S3Options options, s3::Endpoint endpoint);

  enum class Method { kGet, kHead, kPut, kDelete, kPost };
  struct Request {
    Method method = Method::kGet;
    std::string key;    // object key inside the bucket (store prefix included), or ""
    std::string query;  // canonical (sorted, encoded) query string without '?', or ""
    std::vector<std::string> headers;  // "Name: value"
    std::string_view body;             // for PUT and POST
    // A conditional PUT: an ambiguous failure is not retried (see the file comment).
    bool conditional = false;
  };
  struct Response {
    long status = 0;
    std::string body;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string Header(const std::string& name) const;
  };
  // Outcome of one attempt: a response, or a transport failure.
  struct Attempt {
    Response response;
    CURLcode curl_code = CURLE_OK;
    std::string curl_error;
  };

  // Sends `request`, retrying transient failures. Returns the final HTTP response (any
  // status), or Unavailable when no usable response arrived.
  Result<Response> Perform(const Request& request);
  // Perform for each request, up to max_parallel_requests in flight at a time, the
  // retries of a round sent together after one backoff.
  std::vector<Result<Response>> PerformAll(const std::vector<Request>& requests);
  // One attempt of each request, concurrently through a curl multi handle.
  std::vector<Attempt> AttemptAll(const std::vector<const Request*>& requests);
  // A PUT carrying one condition header: 200 -> the new object's meta, 412 ->
  // precondition_failed() (also a 404 for If-Match), 5xx -> Unavailable (the write
  // may have been applied).
  Result<ObjectMeta> ConditionalPut(std::string_view key, std::string_view data,
                                    std::string condition_header,
                                    const std::function<Status()>& precondition_failed);
  // PutIfAbsent as a multipart upload (see S3Options::multipart_keys).
  Result<ObjectMeta> MultipartPutIfAbsent(std::string_view key, std::string_view data);
  Request GetRequestFor(std::string_view key, const std::optional<ByteRange>& range) const;
  // Get's answer from the response to GetRequestFor(key, range).
  Result<GetResult> GetResultFrom(std::string_view key, const std::optional<ByteRange>& range,
                                  Result<Response> response);
  std::string Url(const Request& request) const;
  // "METHOD s3://bucket/key?query", for error messages.
  std::string What(const Request& request) const;
  std::string FullKey(std::string_view key) const { return options_.prefix + std::string(key); }
  // An error Status for a response the operation did not expect.
  Status ErrorFor(const char* op, std::string_view key, const Response& response) const;
  ObjectMeta MetaFromHeaders(std::string_view key, const Response& response) const;

  CURL* AcquireHandle();
  void ReleaseHandle(CURL* handle);
  static void LockShare(CURL* handle, curl_lock_data data, curl_lock_access access, void* self);
  static void UnlockShare(CURL* handle, curl_lock_data data, void* self);

  const S3Options options_;
  const s3::Endpoint endpoint_;
  const std::string sigv4_;  // "aws:amz:<region>:s3"
  CURLSH* share_ = nullptr;
  std::array<std::mutex, CURL_LOCK_DATA_LAST> share_mu_;
  std::mutex pool_mu_;
  std::vector<CURL*> idle_;  // guarded by pool_mu_
};

}  // namespace gannet::storage
