// S3Store: ObjectStore operations as S3 REST requests over pooled libcurl handles.
#include "storage/s3_store.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <random>
#include <thread>

#include "storage/object_key.h"

#if LIBCURL_VERSION_NUM < 0x074b00
#error "S3Store needs libcurl >= 7.75 (CURLOPT_AWS_SIGV4)"
#endif

namespace gannet {
namespace storage {

namespace {

constexpr size_t kMaxListPage = 1000;  // S3's cap on max-keys

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t WriteBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

size_t WriteHeader(char* data, size_t size, size_t count, void* user) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(user);
  std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {  // a new response (after "100 Continue", redirects)
    headers->clear();
    return size * count;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return size * count;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(), [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  });
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
    value.remove_suffix(1);
  }
  (*headers)[name] = std::string(value);
  return size * count;
}

struct Upload {
  std::string_view data;
  size_t pos = 0;
};

size_t ReadBody(char* buffer, size_t size, size_t count, void* user) {
  auto* upload = static_cast<Upload*>(user);
  const size_t n = std::min(size * count, upload->data.size() - upload->pos);
  std::copy_n(upload->data.data() + upload->pos, n, buffer);
  upload->pos += n;
  return n;
}

// Transport errors after which the request certainly never reached the server.
bool NeverSent(CURLcode code) {
  return code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST ||
         code == CURLE_COULDNT_RESOLVE_PROXY;
}

const char* MethodName(int method) {
  static constexpr const char* kNames[] = {"GET", "HEAD", "PUT", "DELETE"};
  return kNames[method];
}

std::optional<uint64_t> ParseU64(std::string_view s) {
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || ptr != s.data() + s.size() || s.empty()) return std::nullopt;
  return value;
}

// Full-jitter exponential backoff: uniform in [0, min(max, base * 2^attempt)].
std::chrono::milliseconds Backoff(int attempt, std::chrono::milliseconds base,
                                  std::chrono::milliseconds max) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const int64_t cap = std::min<int64_t>(max.count(), base.count() << std::min(attempt, 20));
  std::uniform_int_distribution<int64_t> dist(0, std::max<int64_t>(cap, 1));
  return std::chrono::milliseconds(dist(rng));
}

}  // namespace

std::string S3Store::Response::Header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

Result<std::shared_ptr<S3Store>> S3Store::Open(const S3Options& in) {
  S3Options options = in;
  if (options.bucket.empty() || options.bucket.find('/') != std::string::npos ||
      !std::all_of(options.bucket.begin(), options.bucket.end(),
                   [](char c) { return c > 0x20 && c < 0x7f; })) {
    return Status::InvalidArgument("S3 bucket name '" + options.bucket + "' is invalid");
  }
  if (!options.prefix.empty()) {
    if (!options.prefix.ends_with('/')) options.prefix.push_back('/');
    Status valid =
        ValidateKey(std::string_view(options.prefix).substr(0, options.prefix.size() - 1));
    if (!valid.ok()) return valid.WithContext("S3 prefix");
  }
  if (options.region.empty()) return Status::InvalidArgument("S3 region is empty");
  if (options.access_key_id.empty() || options.secret_access_key.empty()) {
    return Status::InvalidArgument("S3 credentials are missing (access key id and secret)");
  }
  if (options.max_retries < 0 || options.connect_timeout.count() <= 0 ||
      options.request_timeout.count() <= 0) {
    return Status::InvalidArgument("S3 timeouts must be positive and max_retries >= 0");
  }
  const std::string endpoint_url = options.endpoint.empty()
                                       ? "https://s3." + options.region + ".amazonaws.com"
                                       : options.endpoint;
  GANNET_ASSIGN_OR_RETURN(s3::Endpoint endpoint, s3::ParseEndpoint(endpoint_url));
  GlobalInit();
  std::shared_ptr<S3Store> store(new S3Store(std::move(options), std::move(endpoint)));
  if (store->share_ == nullptr) return Status::Internal("curl_share_init failed");
  return store;
}

S3Store::S3Store(S3Options options, s3::Endpoint endpoint)
    : options_(std::move(options)),
      endpoint_(std::move(endpoint)),
      sigv4_("aws:amz:" + options_.region + ":s3") {
  share_ = curl_share_init();
  if (share_ != nullptr) {
    curl_share_setopt(share_, CURLSHOPT_LOCKFUNC, &S3Store::LockShare);
    curl_share_setopt(share_, CURLSHOPT_UNLOCKFUNC, &S3Store::UnlockShare);
    curl_share_setopt(share_, CURLSHOPT_USERDATA, this);
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  }
}

S3Store::~S3Store() {
  for (CURL* handle : idle_) curl_easy_cleanup(handle);
  if (share_ != nullptr) curl_share_cleanup(share_);
}

void S3Store::LockShare(CURL*, curl_lock_data data, curl_lock_access, void* self) {
  static_cast<S3Store*>(self)->share_mu_[data % CURL_LOCK_DATA_LAST].lock();
}

void S3Store::UnlockShare(CURL*, curl_lock_data data, void* self) {
  static_cast<S3Store*>(self)->share_mu_[data % CURL_LOCK_DATA_LAST].unlock();
}

CURL* S3Store::AcquireHandle() {
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (!idle_.empty()) {
      CURL* handle = idle_.back();
      idle_.pop_back();
      return handle;
    }
  }
  return curl_easy_init();
}

void S3Store::ReleaseHandle(CURL* handle) {
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (idle_.size() < options_.max_idle_connections) {
      idle_.push_back(handle);
      return;
    }
  }
  curl_easy_cleanup(handle);
}

std::string S3Store::Describe() const {
  return "s3://" + options_.bucket + "/" + options_.prefix + " (" + endpoint_.scheme + "://" +
         endpoint_.host + (endpoint_.port.empty() ? "" : ":" + endpoint_.port) + ")";
}

std::string S3Store::Url(const Request& request) const {
  std::string url = endpoint_.scheme + "://";
  if (!options_.path_style) url += options_.bucket + ".";
  url += endpoint_.host;
  if (!endpoint_.port.empty()) url += ":" + endpoint_.port;
  url += "/";
  if (options_.path_style) {
    url += s3::UriEncode(options_.bucket, false);
    if (!request.key.empty()) url += "/";
  }
  url += s3::UriEncode(request.key, true);
  if (!request.query.empty()) url += "?" + request.query;
  return url;
}

S3Store::Attempt S3Store::PerformOnce(const Request& request) {
  Attempt attempt;
  CURL* handle = AcquireHandle();
  if (handle == nullptr) {
    attempt.curl_code = CURLE_OUT_OF_MEMORY;
    attempt.curl_error = "curl_easy_init failed";
    return attempt;
  }
  curl_easy_reset(handle);
  char error[CURL_ERROR_SIZE] = {0};
  const std::string url = Url(request);
  curl_slist* headers = curl_slist_append(nullptr, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
  if (!options_.session_token.empty()) {
    headers =
        curl_slist_append(headers, ("x-amz-security-token: " + options_.session_token).c_str());
  }
  for (const std::string& header : request.headers) {
    headers = curl_slist_append(headers, header.c_str());
  }
  Upload upload{request.body, 0};
  curl_easy_setopt(handle, CURLOPT_SHARE, share_);
  curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
  curl_easy_setopt(handle, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(handle, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(handle, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(handle, CURLOPT_AWS_SIGV4, sigv4_.c_str());
  curl_easy_setopt(handle, CURLOPT_USERNAME, options_.access_key_id.c_str());
  curl_easy_setopt(handle, CURLOPT_PASSWORD, options_.secret_access_key.c_str());
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout.count()));
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, &WriteBody);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &attempt.response.body);
  curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, &WriteHeader);
  curl_easy_setopt(handle, CURLOPT_HEADERDATA, &attempt.response.headers);
  switch (request.method) {
    case Method::kGet:
      break;
    case Method::kHead:
      curl_easy_setopt(handle, CURLOPT_NOBODY, 1L);
      break;
    case Method::kDelete:
      curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, "DELETE");
      break;
    case Method::kPut:
      curl_easy_setopt(handle, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(handle, CURLOPT_READFUNCTION, &ReadBody);
      curl_easy_setopt(handle, CURLOPT_READDATA, &upload);
      curl_easy_setopt(handle, CURLOPT_INFILESIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
      break;
  }
  attempt.curl_code = curl_easy_perform(handle);
  if (attempt.curl_code == CURLE_OK) {
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &attempt.response.status);
  } else {
    attempt.curl_error = error[0] != 0 ? error : curl_easy_strerror(attempt.curl_code);
  }
  // Options point at this frame's buffers: clear them before the handle is reused.
  curl_easy_reset(handle);
  curl_slist_free_all(headers);
  ReleaseHandle(handle);
  return attempt;
}

Result<S3Store::Response> S3Store::Perform(const Request& request) {
  const std::string what = std::string(MethodName(static_cast<int>(request.method))) + " s3://" +
                           options_.bucket + "/" + request.key +
                           (request.query.empty() ? "" : "?" + request.query);
  std::string last_error;
  const int attempts = 1 + options_.max_retries;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    if (attempt > 0) {
      std::this_thread::sleep_for(
          Backoff(attempt - 1, options_.retry_base_delay, options_.retry_max_delay));
    }
    Attempt a = PerformOnce(request);
    if (a.curl_code != CURLE_OK) {
      last_error = a.curl_error;
      if (a.curl_code == CURLE_OUT_OF_MEMORY) break;
      if (request.conditional && !NeverSent(a.curl_code)) {
        return Status::Unavailable(what + ": " + last_error + " (the write may have been applied)");
      }
      continue;
    }
    const long status = a.response.status;
    const std::string code = status >= 400 ? s3::ParseErrorCode(a.response.body) : std::string();
    const bool throttled =
        status == 429 || (status == 503 && code == "SlowDown") ||
        (status == 409 && (code == "ConditionalRequestConflict" || code == "OperationAborted"));
    const bool retryable =
        throttled || status >= 500 || (status == 400 && code == "RequestTimeout");
    if (!retryable) return std::move(a.response);
    // A 5xx on a conditional PUT is ambiguous: the caller must re-read.
    if (request.conditional && !throttled) return std::move(a.response);
    last_error = "HTTP " + std::to_string(status) + (code.empty() ? "" : " " + code);
  }
  return Status::Unavailable(what + ": " + last_error + " (after " + std::to_string(attempts) +
                             " attempts)");
}

Status S3Store::ErrorFor(const char* op, std::string_view key, const Response& response) const {
  const std::string code = s3::ParseErrorCode(response.body);
  const std::string message = std::string("S3 ") + op + " s3://" + options_.bucket + "/" +
                              options_.prefix + std::string(key) + ": HTTP " +
                              std::to_string(response.status) + (code.empty() ? "" : " " + code);
  const long status = response.status;
  if (status == 401 || status == 403) return Status::PermissionDenied(message);
  if (status == 404) return Status::NotFound(message);
  if (status == 400) return Status::InvalidArgument(message);
  if (status >= 500 || status == 429) return Status::Unavailable(message);
  return Status::IOError(message);
}

ObjectMeta S3Store::MetaFromHeaders(std::string_view key, const Response& response) const {
  ObjectMeta meta;
  meta.key = std::string(key);
  meta.size = ParseU64(response.Header("content-length")).value_or(0);
  meta.etag = s3::NormalizeEtag(response.Header("etag"));
  meta.mtime_ms = s3::ParseHttpDate(response.Header("last-modified")).value_or(0);
  return meta;
}

Result<GetResult> S3Store::Get(std::string_view key, std::optional<ByteRange> range) {
  GANNET_RETURN_IF_ERROR(ValidateKey(key));
  if (range && range->length == 0) {  // HTTP cannot ask for zero bytes
    GANNET_ASSIGN_OR_RETURN(ObjectMeta meta, Head(key));
    return GetResult{std::string(), std::move(meta)};
  }
  Request request;
  request.method = Method::kGet;
  request.key = FullKey(key);
  if (range) {
    std::string header = "Range: bytes=" + std::to_string(range->offset) + "-";
    if (range->length - 1 <= UINT64_MAX - range->offset) {
      header += std::to_string(range->offset + range->length - 1);
    }
    request.headers.push_back(std::move(header));
  }
  GANNET_ASSIGN_OR_RETURN(Response response, Perform(request));
  GetResult result;
  switch (response.status) {
    case 200:
      result.meta = MetaFromHeaders(key, response);
      result.meta.size = response.body.size();
      if (range) {
        const uint64_t offset = std::min<uint64_t>(range->offset, response.body.size());
        const uint64_t length = std::min<uint64_t>(range->length, response.body.size() - offset);
        result.data = response.body.substr(offset, length);
      } else {
        result.data = std::move(response.body);
      }
      return result;
    case 206: {
      result.meta = MetaFromHeaders(key, response);
      std::optional<uint64_t> total = s3::ParseContentRangeTotal(response.Header("content-range"));
      if (!total) {
        return Status::Corruption("S3 GET " + std::string(key) + ": bad Content-Range '" +
                                  response.Header("content-range") + "'");
      }
      result.meta.size = *total;
      result.data = std::move(response.body);
      return result;
    }
    case 416: {  // the range starts at or past the end
      GANNET_ASSIGN_OR_RETURN(ObjectMeta meta, Head(key));
      return GetResult{std::string(), std::move(meta)};
    }
    default:
      return ErrorFor("GET", key, response);
  }
}

Result<ObjectMeta> S3Store::Head(std::string_view key) {
  GANNET_RETURN_IF_ERROR(ValidateKey(key));
  Request request;
  request.method = Method::kHead;
  request.key = FullKey(key);
  GANNET_ASSIGN_OR_RETURN(Response response, Perform(request));
  if (response.status != 200) return ErrorFor("HEAD", key, response);
  return MetaFromHeaders(key, response);
}

Result<ListResult> S3Store::List(std::string_view prefix, std::string_view start_after,
                                 size_t limit) {
  if (limit == 0) limit = kMaxListPage;
  const std::string full_prefix = FullKey(prefix);
  const std::string full_start = start_after.empty() ? std::string() : FullKey(start_after);
  ListResult result;
  std::string token;
  for (int pages = 0;; ++pages) {
    if (pages > 1'000'000) return Status::Internal("S3 List: too many pages");
    const size_t want = std::min(kMaxListPage, limit - result.objects.size());
    // Parameters in canonical (sorted) order: SigV4 signs the query as sent.
    Request request;
    request.method = Method::kGet;
    if (!token.empty()) request.query += "continuation-token=" + s3::UriEncode(token, false) + "&";
    request.query += "list-type=2&max-keys=" + std::to_string(want);
    if (!full_prefix.empty()) request.query += "&prefix=" + s3::UriEncode(full_prefix, false);
    if (token.empty() && !full_start.empty()) {
      request.query += "&start-after=" + s3::UriEncode(full_start, false);
    }
    GANNET_ASSIGN_OR_RETURN(Response response, Perform(request));
    if (response.status != 200) return ErrorFor("LIST", prefix, response);
    GANNET_ASSIGN_OR_RETURN(s3::ListPage page, s3::ParseListObjectsV2(response.body));
    for (ObjectMeta& meta : page.objects) {
      if (!meta.key.starts_with(full_prefix) || (!full_start.empty() && meta.key <= full_start)) {
        return Status::Corruption("S3 List returned key '" + meta.key + "' outside prefix '" +
                                  full_prefix + "' / start-after");
      }
      if (result.objects.size() == limit) {
        result.truncated = true;
        return result;
      }
      meta.key.erase(0, options_.prefix.size());
      // HEAD and GET report Last-Modified in whole seconds; List agrees with them.
      meta.mtime_ms -= ((meta.mtime_ms % 1000) + 1000) % 1000;
      result.objects.push_back(std::move(meta));
    }
    if (!page.truncated) return result;
    if (result.objects.size() >= limit) {
      result.truncated = true;
      return result;
    }
    if (page.next_continuation_token == token) {
      return Status::Corruption("S3 List: continuation token did not advance");
    }
    token = std::move(page.next_continuation_token);
  }
}

Status S3Store::Delete(std::string_view key) {
  GANNET_RETURN_IF_ERROR(ValidateKey(key));
  Request request;
  request.method = Method::kDelete;
  request.key = FullKey(key);
  GANNET_ASSIGN_OR_RETURN(Response response, Perform(request));
  if (response.status == 200 || response.status == 204 || response.status == 404) {
    return Status::OK();
  }
  return ErrorFor("DELETE", key, response);
}

Result<ObjectMeta> S3Store::ConditionalPut(std::string_view key, std::string_view data,
                                           std::string condition_header,
                                           const std::function<Status()>& precondition_failed) {
  // If-Match on a missing key: S3 answers 404, the contract says PreconditionFailed.
  const bool if_match = condition_header.rfind("If-Match", 0) == 0;
  Request request;
  request.method = Method::kPut;
  request.key = FullKey(key);
  request.headers.push_back(std::move(condition_header));
  request.body = data;
  request.conditional = true;
  GANNET_ASSIGN_OR_RETURN(Response response, Perform(request));
  if (response.status == 200) {
    ObjectMeta meta;
    meta.key = std::string(key);
    meta.size = data.size();
    meta.etag = s3::NormalizeEtag(response.Header("etag"));
    meta.mtime_ms = s3::ParseHttpDate(response.Header("date")).value_or(0);
    if (meta.etag.empty()) {
      return Status::IOError("S3 PUT " + std::string(key) + ": response has no ETag");
    }
    return meta;
  }
  if (response.status == 412 || (if_match && response.status == 404)) {
    return precondition_failed();
  }
  if (response.status >= 500) {
    return Status::Unavailable(ErrorFor("PUT", key, response).message() +
                               " (the write may have been applied)");
  }
  return ErrorFor("PUT", key, response);
}

Result<ObjectMeta> S3Store::PutIfAbsent(std::string_view key, std::string_view data) {
  GANNET_RETURN_IF_ERROR(ValidateKey(key));
  return ConditionalPut(key, data, "If-None-Match: *", [&] {
    return Status::AlreadyExists("object '" + std::string(key) + "' already exists");
  });
}

Result<ObjectMeta> S3Store::PutIfMatch(std::string_view key, std::string_view data,
                                       std::string_view etag) {
  GANNET_RETURN_IF_ERROR(ValidateKey(key));
  const std::string unquoted = s3::NormalizeEtag(etag);
  auto mismatch = [&] {
    return Status::PreconditionFailed("object '" + std::string(key) + "' does not have etag '" +
                                      std::string(etag) + "'");
  };
  if (!s3::IsWellFormedEtag(unquoted)) return mismatch();  // no object has this etag
  return ConditionalPut(key, data, "If-Match: " + unquoted, mismatch);
}

Status S3Store::CreateBucket() {
  Request request;
  request.method = Method::kPut;
  std::string body;
  if (options_.region != "us-east-1") {
    body =
        "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<LocationConstraint>" +
        options_.region + "</LocationConstraint></CreateBucketConfiguration>";
  }
  request.body = body;
  GANNET_ASSIGN_OR_RETURN(Response response, Perform(request));
  if (response.status == 200) return Status::OK();
  if (response.status == 409 && s3::ParseErrorCode(response.body) == "BucketAlreadyOwnedByYou") {
    return Status::OK();
  }
  return ErrorFor("CREATE BUCKET", "", response);
}

}  // namespace storage

Result<ObjectStorePtr> OpenS3Store(const S3Options& options) {
  GANNET_ASSIGN_OR_RETURN(std::shared_ptr<storage::S3Store> store, storage::S3Store::Open(options));
  return ObjectStorePtr(std::move(store));
}

}  // namespace gannet
