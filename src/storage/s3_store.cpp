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
         code == CURLE_COULDNT_RESOLVE_PROXY || code == CURLE_FAILED_INIT;
}

const char* MethodName(int method) {
  static constexpr const char* kNames[] = {"GET", "HEAD", "PUT", "DELETE", "POST"};
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
  if (options.max_parallel_requests == 0) {
    return Status::InvalidArgument("S3 max_parallel_requests must be at least 1");
  }
  if (options.multipart_threshold == 0) {
    return Status::InvalidArgument("S3 multipart_threshold must be positive");
  }
  if (options.multipart_part_size < (5ull << 20) || options.multipart_part_size > (5ull << 30)) {
    return Status::InvalidArgument("S3 multipart_part_size must be 5 MiB to 5 GiB, not " +
                                   std::to_string(options.multipart_part_size));
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

namespace {

// One request's easy handle and the buffers its options point at, alive until the
// transfer is done.
struct Transfer {
  CURL* handle = nullptr;
  curl_slist* headers = nullptr;
  std::string url;
  Upload upload;
  char error[CURL_ERROR_SIZE] = {0};
  bool added = false;  // on the multi handle
  bool done = false;
  CURLcode code = CURLE_OK;
};

}  // namespace

std::vector<S3Store::Attempt> S3Store::AttemptAll(const std::vector<const Request*>& requests) {
  std::vector<Attempt> attempts(requests.size());
  std::vector<Transfer> transfers(requests.size());
  CURLM* multi = curl_multi_init();
  if (multi == nullptr) {
    for (Attempt& a : attempts) {
      a.curl_code = CURLE_OUT_OF_MEMORY;
      a.curl_error = "curl_multi_init failed";
    }
    return attempts;
  }
  // Sets up request i on a pooled handle and adds it to the multi handle; false if it
  // could not be started (then it is done, with a code saying it was never sent).
  auto start = [&](size_t i) -> bool {
    const Request& request = *requests[i];
    Transfer& t = transfers[i];
    Attempt& attempt = attempts[i];
    t.handle = AcquireHandle();
    if (t.handle == nullptr) {
      t.done = true;
      t.code = CURLE_OUT_OF_MEMORY;
      return false;
    }
    CURL* handle = t.handle;
    curl_easy_reset(handle);
    t.url = Url(request);
    t.headers = curl_slist_append(nullptr, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
    if (!options_.session_token.empty()) {
      t.headers =
          curl_slist_append(t.headers, ("x-amz-security-token: " + options_.session_token).c_str());
    }
    for (const std::string& header : request.headers) {
      t.headers = curl_slist_append(t.headers, header.c_str());
    }
    t.upload = Upload{request.body, 0};
    curl_easy_setopt(handle, CURLOPT_PRIVATE, &t);
    curl_easy_setopt(handle, CURLOPT_SHARE, share_);
    curl_easy_setopt(handle, CURLOPT_URL, t.url.c_str());
    curl_easy_setopt(handle, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(handle, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(handle, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, t.error);
    curl_easy_setopt(handle, CURLOPT_AWS_SIGV4, sigv4_.c_str());
    curl_easy_setopt(handle, CURLOPT_USERNAME, options_.access_key_id.c_str());
    curl_easy_setopt(handle, CURLOPT_PASSWORD, options_.secret_access_key.c_str());
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, t.headers);
    curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options_.connect_timeout.count()));
    curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(options_.request_timeout.count()));
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
      case Method::kPost:
        curl_easy_setopt(handle, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(handle, CURLOPT_READFUNCTION, &ReadBody);
        curl_easy_setopt(handle, CURLOPT_READDATA, &t.upload);
        curl_easy_setopt(handle, CURLOPT_INFILESIZE_LARGE,
                         static_cast<curl_off_t>(request.body.size()));
        if (request.method == Method::kPost)
          curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, "POST");
        break;
    }
    if (curl_multi_add_handle(multi, handle) != CURLM_OK) {
      t.done = true;
      t.code = CURLE_FAILED_INIT;  // never sent
      return false;
    }
    t.added = true;
    return true;
  };
  // Takes a finished (or abandoned) transfer off the multi handle and returns its easy
  // handle to the pool; the options point at this function's buffers, so reset first.
  auto finish = [&](size_t i) {
    Transfer& t = transfers[i];
    Attempt& attempt = attempts[i];
    if (t.handle != nullptr) {
      if (t.added) curl_multi_remove_handle(multi, t.handle);
      if (t.code == CURLE_OK) {
        curl_easy_getinfo(t.handle, CURLINFO_RESPONSE_CODE, &attempt.response.status);
      }
      curl_easy_reset(t.handle);
      ReleaseHandle(t.handle);
      t.handle = nullptr;
    }
    attempt.curl_code = t.code;
    if (t.code != CURLE_OK) {
      attempt.curl_error = t.error[0] != 0 ? t.error : curl_easy_strerror(t.code);
    }
    curl_slist_free_all(t.headers);
    t.headers = nullptr;
  };

  // A window of at most max_parallel_requests transfers: the next request starts as soon
  // as one finishes.
  const size_t window = std::max<size_t>(options_.max_parallel_requests, 1);
  size_t next = 0, in_flight = 0;
  auto fill = [&] {
    while (next < requests.size() && in_flight < window) {
      const size_t i = next++;
      if (start(i)) {
        ++in_flight;
      } else {
        finish(i);
      }
    }
  };
  fill();
  while (in_flight > 0) {
    int running = 0;
    const CURLMcode mc = curl_multi_perform(multi, &running);
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Transfer* t = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
      if (t == nullptr || t->done) continue;
      t->done = true;
      t->code = msg->data.result;
      finish(static_cast<size_t>(t - transfers.data()));
      --in_flight;
    }
    if (mc != CURLM_OK) break;
    fill();
    if (in_flight > 0) curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
  }
  // Only when the multi handle itself failed: whatever did not finish was abandoned.
  for (size_t i = 0; i < transfers.size(); ++i) {
    Transfer& t = transfers[i];
    if (t.done) continue;
    t.done = true;
    t.code = CURLE_FAILED_INIT;
    std::snprintf(t.error, sizeof(t.error), "curl multi interface failed");
    if (t.added) {
      finish(i);
    } else {
      attempts[i].curl_code = t.code;
      attempts[i].curl_error = t.error;
    }
  }
  curl_multi_cleanup(multi);
  return attempts;
}

Result<S3Store::Response> S3Store::Perform(const Request& request) {
  return std::move(PerformAll({request})[0]);
}

std::vector<Result<S3Store::Response>> S3Store::PerformAll(const std::vector<Request>& requests) {
  std::vector<Result<Response>> out(requests.size(), Status::Internal("not sent"));
  std::vector<bool> settled(requests.size(), false);
  std::vector<std::string> last_error(requests.size());
  std::vector<size_t> pending(requests.size());
  for (size_t i = 0; i < pending.size(); ++i) pending[i] = i;
  const int attempts = 1 + options_.max_retries;
  for (int attempt = 0; attempt < attempts && !pending.empty(); ++attempt) {
    if (attempt > 0) {
      std::this_thread::sleep_for(
          Backoff(attempt - 1, options_.retry_base_delay, options_.retry_max_delay));
    }
    std::vector<size_t> retry;
    {
      std::vector<const Request*> batch;
      for (size_t i : pending) batch.push_back(&requests[i]);
      std::vector<Attempt> tried = AttemptAll(batch);
      for (size_t p = 0; p < pending.size(); ++p) {
        const size_t i = pending[p];
        const Request& request = requests[i];
        Attempt& a = tried[p];
        if (a.curl_code != CURLE_OK) {
          last_error[i] = a.curl_error;
          if (a.curl_code == CURLE_OUT_OF_MEMORY) continue;  // given up below
          if (request.conditional && !NeverSent(a.curl_code)) {
            out[i] = Status::Unavailable(What(request) + ": " + last_error[i] +
                                         " (the write may have been applied)");
            settled[i] = true;
            continue;
          }
          retry.push_back(i);
          continue;
        }
        const long status = a.response.status;
        const std::string code =
            status >= 400 ? s3::ParseErrorCode(a.response.body) : std::string();
        const bool throttled =
            status == 429 || (status == 503 && code == "SlowDown") ||
            (status == 409 && (code == "ConditionalRequestConflict" || code == "OperationAborted"));
        const bool retryable =
            throttled || status >= 500 || (status == 400 && code == "RequestTimeout");
        // A 5xx on a conditional PUT is ambiguous: the caller must re-read.
        if (!retryable || (request.conditional && !throttled)) {
          out[i] = std::move(a.response);
          settled[i] = true;
          continue;
        }
        last_error[i] = "HTTP " + std::to_string(status) + (code.empty() ? "" : " " + code);
        retry.push_back(i);
      }
    }
    pending = std::move(retry);
  }
  for (size_t i = 0; i < requests.size(); ++i) {
    if (settled[i]) continue;
    out[i] = Status::Unavailable(What(requests[i]) + ": " + last_error[i] + " (after " +
                                 std::to_string(attempts) + " attempts)");
  }
  return out;
}

std::string S3Store::What(const Request& request) const {
  return std::string(MethodName(static_cast<int>(request.method))) + " s3://" + options_.bucket +
         "/" + request.key + (request.query.empty() ? "" : "?" + request.query);
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

S3Store::Request S3Store::GetRequestFor(std::string_view key,
                                        const std::optional<ByteRange>& range) const {
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
  return request;
}

Result<GetResult> S3Store::GetResultFrom(std::string_view key,
                                         const std::optional<ByteRange>& range,
                                         Result<Response> sent) {
  if (!sent.ok()) return sent.status();
  Response& response = *sent;
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

Result<GetResult> S3Store::Get(std::string_view key, std::optional<ByteRange> range) {
  GANNET_RETURN_IF_ERROR(ValidateKey(key));
  if (range && range->length == 0) {  // HTTP cannot ask for zero bytes
    GANNET_ASSIGN_OR_RETURN(ObjectMeta meta, Head(key));
    return GetResult{std::string(), std::move(meta)};
  }
  return GetResultFrom(key, range, Perform(GetRequestFor(key, range)));
}

std::vector<Result<GetResult>> S3Store::GetMany(const std::vector<GetRequest>& requests) {
  std::vector<Result<GetResult>> out(requests.size(), Status::Internal("not fetched"));
  std::vector<size_t> sent_for;  // index into `requests` of each request sent
  std::vector<Request> sent;
  for (size_t i = 0; i < requests.size(); ++i) {
    const GetRequest& r = requests[i];
    if (Status valid = ValidateKey(r.key); !valid.ok()) {
      out[i] = std::move(valid);
    } else if (r.range && r.range->length == 0) {
      out[i] = Get(r.key, r.range);  // a HEAD; rare
    } else {
      sent_for.push_back(i);
      sent.push_back(GetRequestFor(r.key, r.range));
    }
  }
  std::vector<Result<Response>> responses = PerformAll(sent);
  for (size_t j = 0; j < sent.size(); ++j) {
    const GetRequest& r = requests[sent_for[j]];
    out[sent_for[j]] = GetResultFrom(r.key, r.range, std::move(responses[j]));
  }
  return out;
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
  if (data.size() >= options_.multipart_threshold && options_.multipart_keys &&
      options_.multipart_keys(key)) {
    return MultipartPutIfAbsent(key, data);
  }
  return ConditionalPut(key, data, "If-None-Match: *", [&] {
    return Status::AlreadyExists("object '" + std::string(key) + "' already exists");
  });
}

Result<ObjectMeta> S3Store::MultipartPutIfAbsent(std::string_view key, std::string_view data) {
  auto exists = [&] {
    return Status::AlreadyExists("object '" + std::string(key) + "' already exists");
  };
  // Creating an existing key is refused up front: RGW does not check the completion's
  // condition, and parts are not worth sending for an object that is there.
  Result<ObjectMeta> head = Head(key);
  if (head.ok()) return exists();
  if (!head.status().IsNotFound()) return head.status();

  Request create;
  create.method = Method::kPost;
  create.key = FullKey(key);
  create.query = "uploads=";  // written with '=' so that SigV4 signs it as S3 expects
  GANNET_ASSIGN_OR_RETURN(Response created, Perform(create));
  if (created.status != 200) return ErrorFor("CreateMultipartUpload", key, created);
  std::optional<std::string> upload_id = s3::ParseXmlText(created.body, "UploadId");
  if (!upload_id || upload_id->empty()) {
    return Status::IOError("S3 CreateMultipartUpload " + std::string(key) + ": no UploadId");
  }
  const std::string id_query = "uploadId=" + s3::UriEncode(*upload_id, false);
  // Abandoned uploads hold storage until aborted; a failed abort is left to the bucket's
  // lifecycle rules (AbortIncompleteMultipartUpload).
  auto abort = [&](Status why) {
    Request request;
    request.method = Method::kDelete;
    request.key = FullKey(key);
    request.query = id_query;
    (void)Perform(request);
    return why;
  };

  constexpr uint64_t kMaxParts = 10000;
  const uint64_t part_size =
      std::max<uint64_t>(options_.multipart_part_size, (data.size() + kMaxParts - 1) / kMaxParts);
  const size_t parts = static_cast<size_t>((data.size() + part_size - 1) / part_size);
  std::vector<Request> uploads(parts);
  for (size_t p = 0; p < parts; ++p) {
    Request& request = uploads[p];
    request.method = Method::kPut;
    request.key = FullKey(key);
    // Parameters in canonical (sorted) order: SigV4 signs the query as sent.
    request.query = "partNumber=" + std::to_string(p + 1) + "&" + id_query;
    request.body = data.substr(p * part_size, part_size);
  }
  std::vector<Result<Response>> sent = PerformAll(uploads);
  std::vector<std::string> etags(parts);
  for (size_t p = 0; p < parts; ++p) {
    if (!sent[p].ok()) return abort(sent[p].status());
    if (sent[p]->status != 200) return abort(ErrorFor("UploadPart", key, *sent[p]));
    etags[p] = s3::NormalizeEtag(sent[p]->Header("etag"));
    if (!s3::IsWellFormedEtag(etags[p])) {
      return abort(Status::IOError("S3 UploadPart " + std::string(key) + ": bad ETag '" +
                                   sent[p]->Header("etag") + "'"));
    }
  }

  const std::string body = s3::CompleteMultipartBody(etags);
  Request complete;
  complete.method = Method::kPost;
  complete.key = FullKey(key);
  complete.query = id_query;
  complete.headers = {"Content-Type: application/xml", "If-None-Match: *"};
  complete.body = body;
  complete.conditional = true;
  GANNET_ASSIGN_OR_RETURN(Response done, Perform(complete));
  // S3 may answer 200 and report a failure in the body.
  const std::string code = s3::ParseErrorCode(done.body);
  if (done.status == 412) return abort(exists());
  if (done.status >= 500 || (done.status == 200 && !code.empty())) {
    // Whether the object was created is unknown: abort what may remain of the upload
    // (harmless if it completed) and let the caller resolve the outcome.
    return abort(Status::Unavailable(ErrorFor("CompleteMultipartUpload", key, done).message() +
                                     (code.empty() ? "" : " " + code) +
                                     " (the write may have been applied)"));
  }
  if (done.status != 200) return abort(ErrorFor("CompleteMultipartUpload", key, done));
  ObjectMeta meta;
  meta.key = std::string(key);
  meta.size = data.size();
  meta.etag = s3::NormalizeEtag(s3::ParseXmlText(done.body, "ETag").value_or(done.Header("etag")));
  meta.mtime_ms = s3::ParseHttpDate(done.Header("date")).value_or(0);
  if (meta.etag.empty()) {
    // Ceph RGW 16 answers with an empty <ETag>: ask for the object's.
    GANNET_ASSIGN_OR_RETURN(meta, Head(key));
    if (meta.size != data.size()) {
      return Status::IOError("S3 CompleteMultipartUpload " + std::string(key) + ": object has " +
                             std::to_string(meta.size) + " bytes, not " +
                             std::to_string(data.size()));
    }
  }
  return meta;
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

Result<std::vector<std::string>> S3Store::ListMultipartUploads(std::string_view prefix) {
  Request request;
  request.method = Method::kGet;
  const std::string full = FullKey(prefix);
  request.query = full.empty() ? "uploads=" : "prefix=" + s3::UriEncode(full, false) + "&uploads=";
  GANNET_ASSIGN_OR_RETURN(Response response, Perform(request));
  if (response.status != 200) return ErrorFor("ListMultipartUploads", prefix, response);
  return s3::ParseMultipartUploadKeys(response.body);
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
