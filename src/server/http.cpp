// The HTTP/1.1 transport of `gannet serve` (Boost.Beast/Asio), and RunServe.
//
// Threads: a few I/O threads run one io_context (accept, read, write; every connection
// on its own strand); engine work runs on a worker pool sized to the cores, so a slow
// query or a commit never blocks the I/O threads. Queries pass a per-namespace
// concurrency limiter first (bounded queue, then 429).
//
// Shutdown (SIGTERM/SIGINT): /readyz turns 503, the acceptor closes, idle connections
// close, in-flight requests finish and are answered with "Connection: close"; then the
// worker pool is joined and the database closed (stopping background work).
//
// This is the only translation unit that includes Beast/Asio.
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/limits.h"
#include "gannet/database.h"
#include "gannet/types.h"
#include "server/api.h"
#include "server/config.h"
#include "server/metrics.h"
#include "server/serve.h"

namespace gannet::server {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using Json = nlohmann::ordered_json;

constexpr auto kIdleTimeout = std::chrono::seconds(60);
constexpr auto kBodyTimeout = std::chrono::seconds(300);
constexpr auto kWriteTimeout = std::chrono::seconds(60);
constexpr auto kDrainTimeout = std::chrono::seconds(30);
constexpr size_t kMaxHeaderBytes = 64 * 1024;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::mutex g_log_mu;

void LogLine(const Json& j) {
  std::string line = j.dump(-1, ' ', false, Json::error_handler_t::replace);
  line += '\n';
  std::lock_guard<std::mutex> l(g_log_mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

void LogInfo(std::string_view msg, Json fields = Json::object()) {
  fields["time"] = Datetime{NowMs()}.ToString();
  fields["level"] = "info";
  fields["msg"] = std::string(msg);
  LogLine(fields);
}

class Session;

class Server {
 public:
  Server(const ServerConfig& config, Database& db, bool access_log)
      : config_(config),
        db_(db),
        access_log_(access_log),
        workers_(config.worker_threads),
        acceptor_(ioc_),
        api_(db, config_, metrics_),
        limiter_(config.limits.max_concurrent_queries_per_namespace,
                 config.limits.max_queued_queries_per_namespace) {}

  Status Listen();
  void Run();

  const ServerConfig& config() const { return config_; }
  bool draining() const { return draining_.load(); }
  bool access_log() const { return access_log_; }
  Metrics& metrics() { return metrics_; }

  void Register(Session* s, const std::weak_ptr<Session>& w);
  void Unregister(Session* s);
  // Routes `request` and eventually calls session->Send on the session's strand.
  void Dispatch(const std::shared_ptr<Session>& session, ApiRequest request);
  void RequestStarted() {
    std::lock_guard<std::mutex> l(mu_);
    ++in_flight_;
  }
  void RequestDone() {
    std::lock_guard<std::mutex> l(mu_);
    --in_flight_;
    cv_.notify_all();
  }

 private:
  void DoAccept();

  const ServerConfig& config_;
  Database& db_;
  const bool access_log_;
  net::io_context ioc_;
  net::thread_pool workers_;
  tcp::acceptor acceptor_;
  Metrics metrics_;
  Api api_;
  ConcurrencyLimiter limiter_;
  std::atomic<bool> draining_{false};

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_requested_ = false;                          // guarded by mu_
  size_t in_flight_ = 0;                                 // guarded by mu_
  std::map<Session*, std::weak_ptr<Session>> sessions_;  // guarded by mu_
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Server& server) : stream_(std::move(socket)), server_(server) {
    beast::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string();
  }
  ~Session() { server_.Unregister(this); }

  void Start() {
    server_.Register(this, weak_from_this());
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->DoReadHeader(); });
  }

  // Called at shutdown: closes the connection unless a request is being handled.
  void CloseIfIdle() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      if (!self->busy_) self->Close();
    });
  }

  net::any_io_executor executor() { return stream_.get_executor(); }

  // Answers the current request (on the session's strand).
  void Send(ApiResponse response, std::string_view route) {
    const bool keep_alive = keep_alive_ && !server_.draining();
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(response.status), version_);
    res->set(http::field::server, "gannet");
    res->set(http::field::content_type, response.content_type);
    res->keep_alive(keep_alive);
    res->body() = std::move(response.body);
    res->prepare_payload();
    const double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    server_.metrics().RecordRequest(route, response.status, seconds, bytes_in_, res->body().size());
    if (server_.access_log()) {
      LogLine(Json{{"time", Datetime{NowMs()}.ToString()},
                   {"method", method_},
                   {"path", target_.substr(0, target_.find('?'))},
                   {"route", std::string(route)},
                   {"status", response.status},
                   {"ms", static_cast<double>(static_cast<int64_t>(seconds * 1e6)) / 1e3},
                   {"bytes_in", bytes_in_},
                   {"bytes", res->body().size()},
                   {"remote", remote_}});
    }
    res_ = res;
    stream_.expires_after(kWriteTimeout);
    http::async_write(stream_, *res_,
                      [self = shared_from_this(), keep_alive](beast::error_code ec, size_t) {
                        self->OnWrite(keep_alive, ec);
                      });
  }

 private:
  void DoReadHeader() {
    if (server_.draining()) return Close();
    busy_ = false;
    parser_.emplace();
    parser_->header_limit(kMaxHeaderBytes);
    parser_->body_limit(server_.config().limits.max_request_bytes);
    stream_.expires_after(kIdleTimeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  // Answers a transport-level problem (no request to route) and closes.
  void Reject(int status, std::string_view message) {
    busy_ = true;
    keep_alive_ = false;
    start_ = Clock::now();
    BeginRequest();
    Send(ErrorResponse(status, message), "invalid");
  }

  bool HandleReadError(beast::error_code ec) {
    if (!ec) return false;
    if (ec == http::error::body_limit) {
      Reject(413, "request body larger than the limit of " +
                      std::to_string(server_.config().limits.max_request_bytes) + " bytes");
    } else if (ec == http::error::header_limit) {
      Reject(431, "request header larger than " + std::to_string(kMaxHeaderBytes) + " bytes");
    } else if (ec.category() == http::make_error_code(http::error::bad_method).category() &&
               ec != http::error::end_of_stream && ec != http::error::partial_message) {
      Reject(400, "malformed HTTP request: " + ec.message());
    } else {
      Close();  // eof, timeout, reset, cancelled
    }
    return true;
  }

  void BeginRequest() {
    server_.metrics().AddInFlight(1);
    server_.RequestStarted();
    in_request_ = true;
  }

  void OnHeader(beast::error_code ec) {
    if (HandleReadError(ec)) return;
    busy_ = true;
    start_ = Clock::now();
    const auto& req = parser_->get();
    if (req[http::field::expect] == "100-continue") {
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                     req.version());
      stream_.expires_after(kWriteTimeout);
      http::async_write(stream_, *cont,
                        [self = shared_from_this(), cont](beast::error_code ec, size_t) {
                          if (ec) return self->Close();
                          self->DoReadBody();
                        });
      return;
    }
    DoReadBody();
  }

  void DoReadBody() {
    stream_.expires_after(kBodyTimeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnBody(ec); });
  }

  void OnBody(beast::error_code ec) {
    if (HandleReadError(ec)) return;
    http::request<http::string_body> req = parser_->release();
    BeginRequest();
    version_ = req.version();
    keep_alive_ = req.keep_alive();
    method_ = std::string(req.method_string());
    target_ = std::string(req.target());
    bytes_in_ = req.body().size();
    auto encoding = req[http::field::content_encoding];
    if (!encoding.empty() && !beast::iequals(encoding, "identity")) {
      Send(ErrorResponse(415, "Content-Encoding '" + std::string(encoding) +
                                  "' is not supported: send uncompressed bodies"),
           "invalid");
      return;
    }
    ApiRequest request;
    request.method = method_;
    request.target = target_;
    request.authorization = std::string(req[http::field::authorization]);
    request.body = std::move(req.body());
    server_.Dispatch(shared_from_this(), std::move(request));
  }

  void OnWrite(bool keep_alive, beast::error_code ec) {
    res_.reset();
    if (in_request_) {
      in_request_ = false;
      server_.metrics().AddInFlight(-1);
      server_.RequestDone();
    }
    if (ec || !keep_alive) return Close();
    DoReadHeader();
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
  }

  beast::tcp_stream stream_;
  Server& server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<http::response<http::string_body>> res_;
  bool busy_ = false;
  bool in_request_ = false;
  bool keep_alive_ = true;
  unsigned version_ = 11;
  Clock::time_point start_;
  std::string method_, target_, remote_;
  uint64_t bytes_in_ = 0;
};

void Server::Register(Session* s, const std::weak_ptr<Session>& w) {
  std::lock_guard<std::mutex> l(mu_);
  sessions_[s] = w;
}

void Server::Unregister(Session* s) {
  std::lock_guard<std::mutex> l(mu_);
  sessions_.erase(s);
  cv_.notify_all();
}

void Server::Dispatch(const std::shared_ptr<Session>& session, ApiRequest request) {
  auto plan = std::make_shared<Plan>(api_.Prepare(request));
  const std::string_view route = RouteName(plan->route);
  if (plan->immediate || plan->inline_ok) {
    session->Send(api_.Execute(*plan, request), route);
    return;
  }
  auto req = std::make_shared<ApiRequest>(std::move(request));
  auto run = [this, session, plan, req, route] {
    ApiResponse response = api_.Execute(*plan, *req);
    net::post(session->executor(), [session, route, response = std::move(response)]() mutable {
      session->Send(std::move(response), route);
    });
  };
  if (!plan->limited) {
    net::post(workers_, std::move(run));
    return;
  }
  const std::string key = plan->ns;
  std::function<void()> task = [this, key, run] {
    run();
    // Hand the slot to the next queued query of this namespace, if any.
    if (std::function<void()> next = limiter_.Release(key)) net::post(workers_, std::move(next));
  };
  switch (limiter_.Admit(key, task)) {
    case ConcurrencyLimiter::Admission::kRunNow:
      net::post(workers_, std::move(task));
      break;
    case ConcurrencyLimiter::Admission::kQueued:
      break;
    case ConcurrencyLimiter::Admission::kRejected:
      metrics_.RecordRejectedQuery();
      session->Send(ErrorResponse(429, "too many concurrent queries on namespace '" + key +
                                           "'; retry with backoff"),
                    route);
      break;
  }
}

Status Server::Listen() {
  beast::error_code ec;
  auto address =
      net::ip::make_address(config_.host == "localhost" ? "127.0.0.1" : config_.host, ec);
  if (ec) return Status::InvalidArgument("--listen: bad address '" + config_.host + "'");
  tcp::endpoint endpoint(address, config_.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::IOError("cannot listen on " + config_.host + ":" + std::to_string(config_.port) +
                           ": " + ec.message());
  }
  return Status::OK();
}

void Server::DoAccept() {
  acceptor_.async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
    if (!ec) {
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      std::make_shared<Session>(std::move(socket), *this)->Start();
    }
    if (ec == net::error::operation_aborted || !acceptor_.is_open() || draining_) return;
    DoAccept();
  });
}

void Server::Run() {
  auto guard = net::make_work_guard(ioc_);
  net::signal_set signals(ioc_, SIGINT, SIGTERM);
  signals.async_wait([this](beast::error_code ec, int sig) {
    if (ec) return;
    LogInfo("shutting down", {{"signal", sig}});
    std::lock_guard<std::mutex> l(mu_);
    stop_requested_ = true;
    cv_.notify_all();
  });
  DoAccept();
  const tcp::endpoint local = acceptor_.local_endpoint();
  LogInfo("listening",
          {{"listen", local.address().to_string() + ":" + std::to_string(local.port())},
           {"data", config_.data_dir},
           {"auth", config_.api_keys.empty() ? "off" : "on"},
           {"api_keys", config_.api_keys.size()},
           {"io_threads", config_.io_threads},
           {"worker_threads", config_.worker_threads}});
  if (config_.api_keys.empty()) {
    LogInfo("authentication is OFF: no API keys configured; every request is accepted");
  }
  std::vector<std::thread> io;
  for (size_t i = 0; i < config_.io_threads; ++i) io.emplace_back([this] { ioc_.run(); });

  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [this] { return stop_requested_; });
  // Drain: stop accepting, close idle connections, let in-flight requests finish.
  draining_ = true;
  api_.SetReady(false);
  std::vector<std::shared_ptr<Session>> open;
  for (auto& [ptr, weak] : sessions_) {
    if (auto s = weak.lock()) open.push_back(std::move(s));
  }
  l.unlock();
  net::post(ioc_, [this] {
    beast::error_code ec;
    acceptor_.close(ec);
  });
  signals.cancel();
  for (const auto& s : open) s->CloseIfIdle();
  open.clear();
  l.lock();
  const bool drained =
      cv_.wait_for(l, kDrainTimeout, [this] { return in_flight_ == 0 && sessions_.empty(); });
  const size_t left = in_flight_;
  l.unlock();
  if (!drained) LogInfo("drain timed out", {{"in_flight", left}});
  workers_.join();  // engine work still queued finishes (its answers are dropped)
  ioc_.stop();
  for (std::thread& t : io) t.join();
  db_.Close();
  LogInfo("stopped");
}

}  // namespace

const char* ServeUsage() {
  return "usage: gannet serve [--listen HOST:PORT] [--data DIR] [--config FILE]\n"
         "                    [--api-keys-file FILE] [--insecure-no-auth]\n"
         "                    [--io-threads N] [--worker-threads N] [--max-request-bytes N]\n"
         "                    [--no-access-log]\n"
         "Serves turbopuffer's v2 HTTP API (docs/openapi.yaml). Defaults: --listen\n"
         "127.0.0.1:8080. API keys: a file of `key [ro] [prefix=abc]` lines, or\n"
         "GANNET_API_KEYS (entries separated by commas). Without keys only loopback\n"
         "addresses are allowed unless --insecure-no-auth.\n";
}

int RunServe(const ServeArgs& args) {
  Result<ServerConfig> config = BuildConfig(args);
  if (!config.ok()) {
    std::cerr << "error: " << config.status().message() << "\n" << ServeUsage();
    return 2;
  }
  if (config->worker_threads == 0) {
    config->worker_threads = std::max(2u, UsableCores());
  }
  Result<std::unique_ptr<Database>> db = Database::OpenPath(config->data_dir);
  if (!db.ok()) {
    std::cerr << "error: " << db.status().ToString() << "\n";
    return 1;
  }
  {
    Server server(*config, **db, !args.flags.count("no-access-log"));
    if (Status st = server.Listen(); !st.ok()) {
      std::cerr << "error: " << st.ToString() << "\n";
      (*db)->Close();
      return 1;
    }
    server.Run();
  }
  return 0;
}

}  // namespace gannet::server
