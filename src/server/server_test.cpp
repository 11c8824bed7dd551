// Unit tests of the server's transport-free parts: config, API keys, routing and auth,
// the per-namespace concurrency limiter, and handlers driven without sockets.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "gannet/database.h"
#include "server/api.h"
#include "server/config.h"

namespace gannet::server {
namespace {

TEST(ConfigTest, ParsesListenAndKeys) {
  std::string host;
  uint16_t port = 0;
  ASSERT_TRUE(ParseListen("0.0.0.0:9000", &host, &port).ok());
  EXPECT_EQ(host, "0.0.0.0");
  EXPECT_EQ(port, 9000);
  ASSERT_TRUE(ParseListen("[::1]:80", &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_FALSE(ParseListen("nope", &host, &port).ok());
  EXPECT_FALSE(ParseListen("h:99999", &host, &port).ok());

  auto keys = ParseApiKeys("# c\nkey-aaaaaa\n\nkey-bbbbbb ro prefix=t-\n", "f");
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_FALSE((*keys)[0].read_only);
  EXPECT_TRUE((*keys)[1].read_only);
  EXPECT_EQ((*keys)[1].prefix, "t-");
  EXPECT_FALSE(ParseApiKeys("short", "f").ok());
  EXPECT_FALSE(ParseApiKeys("key-aaaaaa bogus", "f").ok());
}

TEST(ConfigTest, ConfigJsonAndLoopbackRule) {
  ServerConfig c;
  ASSERT_TRUE(ApplyConfigJson(R"({"listen": "127.0.0.1:81", "limits": {"max_top_k": 100,
      "max_concurrent_queries_per_namespace": 2}})",
                              &c)
                  .ok());
  EXPECT_EQ(c.port, 81);
  EXPECT_EQ(c.limits.max_top_k, 100u);
  EXPECT_EQ(c.limits.max_concurrent_queries_per_namespace, 2u);
  EXPECT_FALSE(ApplyConfigJson(R"({"nope": 1})", &c).ok());
  EXPECT_FALSE(ApplyConfigJson(R"({"limits": {"max_top_k": 0}})", &c).ok());
  EXPECT_FALSE(ApplyConfigJson("not json", &c).ok());

  ServeArgs args;
  args.options["listen"] = "0.0.0.0:8080";
  EXPECT_FALSE(BuildConfig(args).ok());  // no keys, not loopback
  args.flags.insert("insecure-no-auth");
  EXPECT_TRUE(BuildConfig(args).ok());
}

TEST(LimiterTest, RunsQueuesThenRejects) {
  ConcurrencyLimiter l(1, 1);
  int ran = 0;
  auto task = [&] { ++ran; };
  EXPECT_EQ(l.Admit("a", task), ConcurrencyLimiter::Admission::kRunNow);
  EXPECT_EQ(l.Admit("a", task), ConcurrencyLimiter::Admission::kQueued);
  EXPECT_EQ(l.Admit("a", task), ConcurrencyLimiter::Admission::kRejected);
  EXPECT_EQ(l.Admit("b", task), ConcurrencyLimiter::Admission::kRunNow);  // per key
  auto next = l.Release("a");
  ASSERT_TRUE(next);
  next();
  EXPECT_EQ(ran, 1);
  EXPECT_FALSE(l.Release("a"));
  EXPECT_EQ(l.Admit("a", task), ConcurrencyLimiter::Admission::kRunNow);
}

TEST(ApiTest, StatusMapping) {
  EXPECT_EQ(HttpStatusFor(Status::InvalidArgument("x")), 400);
  EXPECT_EQ(HttpStatusFor(Status::NotFound("x")), 404);
  EXPECT_EQ(HttpStatusFor(Status::Conflict("x")), 409);
  EXPECT_EQ(HttpStatusFor(Status::Unavailable("x")), 503);
  EXPECT_EQ(HttpStatusFor(Status::Internal("x")), 500);
  auto j = nlohmann::json::parse(ErrorResponse(Status::InvalidArgument("bad \xff")).body);
  EXPECT_EQ(j["status"], "error");
}

class ApiFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    DatabaseOptions o;
    o.store = NewMemoryStore();
    o.background_indexing = false;
    db_ = std::move(Database::Open(std::move(o)).value());
    config_.api_keys = {
        {"admin-key-1", false, ""}, {"reader-key-1", true, ""}, {"tenant-key-1", false, "t-"}};
    api_ = std::make_unique<Api>(*db_, config_, metrics_);
  }
  ApiResponse Call(std::string method, std::string target, std::string body,
                   std::string key = "admin-key-1") {
    ApiRequest r{std::move(method), std::move(target), key.empty() ? "" : "Bearer " + key,
                 std::move(body)};
    return api_->Execute(api_->Prepare(r), r);
  }
  std::unique_ptr<Database> db_;
  ServerConfig config_;
  Metrics metrics_;
  std::unique_ptr<Api> api_;
};

TEST_F(ApiFixture, RoutesAuthAndHandlers) {
  EXPECT_EQ(Call("GET", "/healthz", "", "").status, 200);
  EXPECT_EQ(Call("POST", "/v2/namespaces/a", R"({"upsert_rows":[{"id":1}]})", "").status, 401);
  EXPECT_EQ(Call("POST", "/v2/namespaces/a", R"({"upsert_rows":[{"id":1}]})", "bad").status, 401);
  EXPECT_EQ(
      Call("POST", "/v2/namespaces/a", R"({"upsert_rows":[{"id":1}]})", "reader-key-1").status,
      403);
  EXPECT_EQ(
      Call("POST", "/v2/namespaces/a", R"({"upsert_rows":[{"id":1}]})", "tenant-key-1").status,
      403);
  ApiResponse w = Call("POST", "/v2/namespaces/a", R"({"upsert_rows":[{"id":1,"x":2}]})");
  ASSERT_EQ(w.status, 200) << w.body;
  ApiResponse q =
      Call("POST", "/v2/namespaces/a/query?x=y", R"({"rank_by":["id","asc"]})", "reader-key-1");
  ASSERT_EQ(q.status, 200) << q.body;
  EXPECT_EQ(nlohmann::json::parse(q.body)["rows"][0]["id"], 1);
  EXPECT_EQ(Call("GET", "/v2/namespaces/a/query", "").status, 405);
  EXPECT_EQ(Call("GET", "/v9/x", "").status, 404);
  EXPECT_EQ(Call("GET", "/v1/namespaces/bad%20name/schema", "").status, 400);
  EXPECT_EQ(Call("POST", "/v2/namespaces/a/query", R"({"top_k": 20000})").status, 400);
  EXPECT_EQ(Call("GET", "/v1/namespaces?prefix=a", "").status, 200);
  EXPECT_EQ(Call("GET", "/v1/namespaces/a/metadata", "").status, 200);
  EXPECT_EQ(Call("DELETE", "/v2/namespaces/a", "").status, 200);
  EXPECT_EQ(Call("GET", "/v1/namespaces/a/metadata", "").status, 404);
  ApiResponse m = Call("GET", "/metrics", "");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("gannet_write_commit_duration_seconds_count 1"), std::string::npos)
      << m.body;
}

}  // namespace
}  // namespace gannet::server
