// S3Store beyond the shared conformance suite: the protocol helpers (no server needed),
// configuration from URL and environment, transport failures, and behaviour against a
// real server (Ceph RGW from scripts/rgw.sh; those tests skip when it is not set up).
#include "storage/s3_store.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gannet/object_store.h"
#include "storage/s3_protocol.h"
#include "storage/s3_test_util.h"

namespace gannet::storage {
namespace {

// Sets an environment variable for one test and restores it afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      unsetenv(name_.c_str());
    }
  }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

TEST(S3ProtocolTest, UriEncode) {
  EXPECT_EQ(s3::UriEncode("a/b c~d-e_f.g", true), "a/b%20c~d-e_f.g");
  EXPECT_EQ(s3::UriEncode("a/b", false), "a%2Fb");
  EXPECT_EQ(s3::UriEncode("x y/z~!@#$%^&*()", true), "x%20y/z~%21%40%23%24%25%5E%26%2A%28%29");
  EXPECT_EQ(s3::UriEncode("+=?", false), "%2B%3D%3F");
  EXPECT_EQ(s3::UriEncode("\xc3\xa9", false), "%C3%A9");
}

TEST(S3ProtocolTest, Etags) {
  EXPECT_EQ(s3::NormalizeEtag("\"5d41402abc4b2a76b9719d911017c592\""),
            "5d41402abc4b2a76b9719d911017c592");
  EXPECT_EQ(s3::NormalizeEtag("W/\"abc\""), "abc");
  EXPECT_EQ(s3::NormalizeEtag(" abc \r\n"), "abc");
  EXPECT_EQ(s3::NormalizeEtag("\""), "\"");
  EXPECT_TRUE(s3::IsWellFormedEtag("5d41402abc4b2a76b9719d911017c592"));
  EXPECT_TRUE(s3::IsWellFormedEtag("5d41402abc4b2a76b9719d911017c592-12"));
  EXPECT_FALSE(s3::IsWellFormedEtag("5d41402abc4b2a76b9719d911017c592x"));
  EXPECT_FALSE(s3::IsWellFormedEtag("5d41402abc4b2a76b9719d911017c59"));
  EXPECT_FALSE(s3::IsWellFormedEtag("5d41402abc4b2a76b9719d911017c592-"));
  EXPECT_FALSE(s3::IsWellFormedEtag("5d41402abc4b2a76b9719d911017c592 x"));
  EXPECT_FALSE(s3::IsWellFormedEtag(""));
}

TEST(S3ProtocolTest, Dates) {
  EXPECT_EQ(s3::ParseHttpDate("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
  EXPECT_EQ(s3::ParseHttpDate("Wed, 25 Nov 2026 14:21:16 GMT"), 1795616476000);
  EXPECT_EQ(s3::ParseHttpDate("Sun, 29 Feb 2032 23:59:59 GMT"), 1961711999000);
  EXPECT_FALSE(s3::ParseHttpDate("Wed, 25 Foo 2026 14:21:16 GMT"));
  EXPECT_FALSE(s3::ParseHttpDate("Wed, 25 Nov 2026 14:21:16"));
  EXPECT_FALSE(s3::ParseHttpDate(""));
  EXPECT_EQ(s3::ParseIso8601("2026-11-25T14:21:16.699Z"), 1795616476699);
  EXPECT_EQ(s3::ParseIso8601("2026-11-25T14:21:16Z"), 1795616476000);
  EXPECT_EQ(s3::ParseIso8601("2026-11-25T14:21:16.7Z"), 1795616476700);
  EXPECT_EQ(s3::ParseIso8601("2026-11-25T14:21:16.123456Z"), 1795616476123);
  EXPECT_FALSE(s3::ParseIso8601("2026-11-25 14:21:16Z"));
  EXPECT_FALSE(s3::ParseIso8601("2026-13-25T14:21:16Z"));
  EXPECT_FALSE(s3::ParseIso8601("2026-11-25T14:21:16.Z"));
}

TEST(S3ProtocolTest, ContentRangeAndEndpoint) {
  EXPECT_EQ(s3::ParseContentRangeTotal("bytes 2-4/10"), 10u);
  EXPECT_EQ(s3::ParseContentRangeTotal("bytes */10"), 10u);
  EXPECT_FALSE(s3::ParseContentRangeTotal("bytes 2-4/*"));
  EXPECT_FALSE(s3::ParseContentRangeTotal("2-4/10"));

  Result<s3::Endpoint> e = s3::ParseEndpoint("http://127.0.0.1:8080/");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->scheme, "http");
  EXPECT_EQ(e->host, "127.0.0.1");
  EXPECT_EQ(e->port, "8080");
  e = s3::ParseEndpoint("https://s3.eu-west-1.amazonaws.com");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->host, "s3.eu-west-1.amazonaws.com");
  EXPECT_EQ(e->port, "");
  e = s3::ParseEndpoint("http://[::1]:9000");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->host, "[::1]");
  EXPECT_EQ(e->port, "9000");
  for (const char* bad : {"127.0.0.1:80", "ftp://x", "http://", "http://h:0", "http://h:99999",
                          "http://h/path", "http://u@h"}) {
    EXPECT_TRUE(s3::ParseEndpoint(bad).status().IsInvalidArgument()) << bad;
  }
}

TEST(S3ProtocolTest, ParseListObjectsV2) {
  const std::string xml =
      R"(<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)"
      R"(<Name>b</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>)"
      R"(<Contents><Key>p/a &amp; b&lt;&#62;&#x41;</Key><LastModified>2026-11-25T14:21:16.699Z</LastModified>)"
      R"(<ETag>&quot;5d41402abc4b2a76b9719d911017c592&quot;</ETag><Size>5</Size><StorageClass>STANDARD</StorageClass></Contents>)"
      R"(<Contents><Key>p/z</Key><LastModified>2026-11-25T14:21:17.000Z</LastModified><ETag>"e"</ETag><Size>0</Size></Contents>)"
      R"(<NextContinuationToken>tok/+=</NextContinuationToken></ListBucketResult>)";
  Result<s3::ListPage> page = s3::ParseListObjectsV2(xml);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_TRUE(page->truncated);
  EXPECT_EQ(page->next_continuation_token, "tok/+=");
  ASSERT_EQ(page->objects.size(), 2u);
  EXPECT_EQ(page->objects[0].key, "p/a & b<>A");
  EXPECT_EQ(page->objects[0].size, 5u);
  EXPECT_EQ(page->objects[0].etag, "5d41402abc4b2a76b9719d911017c592");
  EXPECT_EQ(page->objects[0].mtime_ms, 1795616476699);
  EXPECT_EQ(page->objects[1].key, "p/z");
  EXPECT_EQ(page->objects[1].size, 0u);

  Result<s3::ListPage> empty = s3::ParseListObjectsV2(
      "<ListBucketResult><Prefix/><IsTruncated>false</IsTruncated></ListBucketResult>");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->objects.empty());
  EXPECT_FALSE(empty->truncated);

  for (const char* bad :
       {"", "<Error><Code>NoSuchBucket</Code></Error>",
        "<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key>k</Key><Size>x</Size></Contents></ListBucketResult>",
        "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
        "<ListBucketResult><Contents><Key>k</Key><Size>1</Size><LastModified>yesterday"
        "</LastModified></Contents></ListBucketResult>"}) {
    EXPECT_TRUE(s3::ParseListObjectsV2(bad).status().IsCorruption()) << bad;
  }
  // Truncated input never reads out of bounds.
  for (size_t n = 0; n < xml.size(); n += 7)
    s3::ParseListObjectsV2(xml.substr(0, n)).status().IgnoreError();
}

TEST(S3ProtocolTest, MultipartUploadKeys) {
  const std::string xml =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListMultipartUploadsResult><Bucket>b</Bucket>"
      "<KeyMarker></KeyMarker><Upload><Key>p/seg/a&amp;b</Key><UploadId>2~x</UploadId>"
      "<Initiator><ID>u</ID></Initiator></Upload><Upload><Key>p/seg/c</Key>"
      "<UploadId>2~y</UploadId></Upload><IsTruncated>false</IsTruncated>"
      "</ListMultipartUploadsResult>";
  EXPECT_EQ(s3::ParseMultipartUploadKeys(xml), (std::vector<std::string>{"p/seg/a&b", "p/seg/c"}));
  EXPECT_TRUE(s3::ParseMultipartUploadKeys("<ListMultipartUploadsResult/>").empty());
  EXPECT_EQ(s3::CompleteMultipartBody({"abc", "def"}),
            "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Part>"
            "<PartNumber>1</PartNumber><ETag>\"abc\"</ETag></Part><Part><PartNumber>2</PartNumber>"
            "<ETag>\"def\"</ETag></Part></CompleteMultipartUpload>");
}

TEST(S3ProtocolTest, ErrorCodeAndUnescape) {
  EXPECT_EQ(s3::ParseErrorCode("<Error><Code>SlowDown</Code><Message>x</Message></Error>"),
            "SlowDown");
  EXPECT_EQ(s3::ParseErrorCode(""), "");
  EXPECT_EQ(s3::XmlUnescape("a&amp;b&bogus;c&#1234567890;&"), "a&b&bogus;c&#1234567890;&");
  EXPECT_EQ(s3::XmlUnescape("&#xe9;"), "\xc3\xa9");
}

TEST(S3OptionsTest, FromUrlAndEnv) {
  ScopedEnv id("AWS_ACCESS_KEY_ID", "AK");
  ScopedEnv secret("AWS_SECRET_ACCESS_KEY", "SK");
  ScopedEnv token("AWS_SESSION_TOKEN", "TOK");
  ScopedEnv region("AWS_REGION", "eu-west-2");
  ScopedEnv endpoint("AWS_ENDPOINT_URL", "http://127.0.0.1:9000");
  ScopedEnv endpoint_s3("AWS_ENDPOINT_URL_S3", nullptr);
  ScopedEnv path_style("GANNET_S3_PATH_STYLE", nullptr);
  Result<S3Options> o = S3Options::FromUrlAndEnv("s3://bucket/some/prefix/");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->bucket, "bucket");
  EXPECT_EQ(o->prefix, "some/prefix/");
  EXPECT_EQ(o->access_key_id, "AK");
  EXPECT_EQ(o->secret_access_key, "SK");
  EXPECT_EQ(o->session_token, "TOK");
  EXPECT_EQ(o->region, "eu-west-2");
  EXPECT_EQ(o->endpoint, "http://127.0.0.1:9000");
  EXPECT_TRUE(o->path_style) << "a custom endpoint defaults to path style";

  o = S3Options::FromUrlAndEnv("s3://bucket");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->prefix, "");
  {
    ScopedEnv virtual_host("GANNET_S3_PATH_STYLE", "0");
    ScopedEnv s3_endpoint("AWS_ENDPOINT_URL_S3", "http://s3.local:1");
    o = S3Options::FromUrlAndEnv("s3://bucket/");
    ASSERT_TRUE(o.ok());
    EXPECT_FALSE(o->path_style);
    EXPECT_EQ(o->endpoint, "http://s3.local:1");
    EXPECT_TRUE(OpenS3Store(*o).ok());
  }
  {
    ScopedEnv bad("GANNET_S3_PATH_STYLE", "maybe");
    EXPECT_TRUE(S3Options::FromUrlAndEnv("s3://b").status().IsInvalidArgument());
  }
  {
    ScopedEnv no_key("AWS_SECRET_ACCESS_KEY", nullptr);
    EXPECT_TRUE(S3Options::FromUrlAndEnv("s3://b").status().IsInvalidArgument());
  }
  EXPECT_TRUE(S3Options::FromUrlAndEnv("s3://").status().IsInvalidArgument());
  EXPECT_TRUE(S3Options::FromUrlAndEnv("/local/dir").status().IsInvalidArgument());
  EXPECT_TRUE(IsS3Url("s3://b/p"));
  EXPECT_FALSE(IsS3Url("./data"));
}

TEST(S3OptionsTest, OpenValidatesOptions) {
  S3Options o;
  o.bucket = "b";
  o.access_key_id = "a";
  o.secret_access_key = "s";
  o.endpoint = "http://127.0.0.1:1";
  EXPECT_TRUE(OpenS3Store(o).ok());
  S3Options bad = o;
  bad.bucket = "";
  EXPECT_TRUE(OpenS3Store(bad).status().IsInvalidArgument());
  bad = o;
  bad.prefix = "a//b";
  EXPECT_TRUE(OpenS3Store(bad).status().IsInvalidArgument());
  bad = o;
  bad.endpoint = "localhost:9000";
  EXPECT_TRUE(OpenS3Store(bad).status().IsInvalidArgument());
  bad = o;
  bad.secret_access_key = "";
  EXPECT_TRUE(OpenS3Store(bad).status().IsInvalidArgument());
  bad = o;
  bad.max_retries = -1;
  EXPECT_TRUE(OpenS3Store(bad).status().IsInvalidArgument());
}

// A port on loopback that refuses connections.
int ClosedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return 1;
  }
  close(fd);  // nobody listens there now
  return ntohs(addr.sin_port);
}

TEST(S3StoreTest, UnreachableServerIsUnavailableAfterRetries) {
  S3Options o;
  o.bucket = "b";
  o.access_key_id = "a";
  o.secret_access_key = "s";
  o.endpoint = "http://127.0.0.1:" + std::to_string(ClosedPort());
  o.path_style = true;
  o.max_retries = 2;
  o.retry_base_delay = std::chrono::milliseconds(1);
  Result<ObjectStorePtr> store = OpenS3Store(o);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_NE((*store)->Describe().find("s3://b/"), std::string::npos);
  Result<GetResult> got = (*store)->Get("k");
  EXPECT_TRUE(got.status().IsUnavailable()) << got.status().ToString();
  EXPECT_NE(got.status().message().find("3 attempts"), std::string::npos)
      << got.status().ToString();
  // Connection refused: the PUT certainly did not happen, so it is retried too.
  EXPECT_TRUE((*store)->PutIfAbsent("k", "v").status().IsUnavailable());
  EXPECT_TRUE(
      (*store)->PutIfMatch("k", "v", "5d41402abc4b2a76b9719d911017c592").status().IsUnavailable());
  EXPECT_TRUE((*store)->PutIfMatch("k", "v", "not-an-etag").status().IsPreconditionFailed());
  EXPECT_TRUE((*store)->Get("../k").status().IsInvalidArgument()) << "validated locally";
}

class S3ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string why = S3TestUnavailableReason(); !why.empty()) GTEST_SKIP() << why;
  }
};

TEST_F(S3ServerTest, PrefixesIsolateStoresInOneBucket) {
  Result<ObjectStorePtr> a = NewS3TestPrefixStore("iso-a");
  Result<ObjectStorePtr> b = NewS3TestPrefixStore("iso-b");
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE((*a)->PutIfAbsent("x/1", "a").ok());
  ASSERT_TRUE((*b)->PutIfAbsent("x/1", "b").ok()) << "same key, other prefix";
  EXPECT_EQ((*a)->Get("x/1")->data, "a");
  EXPECT_EQ((*b)->Get("x/1")->data, "b");
  Result<ListResult> listed = (*a)->List("");
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->objects.size(), 1u);
  EXPECT_EQ(listed->objects[0].key, "x/1") << "the store prefix is stripped";
  ASSERT_TRUE((*a)->Delete("x/1").ok());
  EXPECT_EQ((*b)->Get("x/1")->data, "b");
}

TEST_F(S3ServerTest, LargeObjectsAndRanges) {
  Result<ObjectStorePtr> store = NewS3TestPrefixStore("large");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  std::string big(5 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 2654435761u) >> 13);
  Result<ObjectMeta> put = (*store)->PutIfAbsent("seg/big", big);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(put->size, big.size());
  Result<GetResult> all = (*store)->Get("seg/big");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_TRUE(all->data == big);
  Result<GetResult> slice = (*store)->Get("seg/big", ByteRange{(3 << 20) + 17, 4096});
  ASSERT_TRUE(slice.ok()) << slice.status().ToString();
  EXPECT_EQ(slice->data, big.substr((3 << 20) + 17, 4096));
  EXPECT_EQ(slice->meta.size, big.size());
  EXPECT_EQ(slice->meta.etag, put->etag);
  Result<GetResult> huge = (*store)->Get("seg/big", ByteRange{1, UINT64_MAX});
  ASSERT_TRUE(huge.ok()) << huge.status().ToString();
  EXPECT_EQ(huge->data.size(), big.size() - 1);
}

TEST_F(S3ServerTest, MultipartUploadForApprovedLargeKeys) {
  Result<S3Options> options = S3TestOptions("multipart-" + S3TestUniqueName());
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  options->multipart_threshold = 6 << 20;
  options->multipart_part_size = 5 << 20;  // S3's smallest part
  options->multipart_keys = [](std::string_view key) { return key.starts_with("seg/"); };
  Result<ObjectStorePtr> opened = OpenS3Store(*options);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  ObjectStorePtr store = *opened;
  std::string big((12 << 20) + 12345, '\0');  // three parts, the last one short
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 2654435761u) >> 11);
  Result<ObjectMeta> put = store->PutIfAbsent("seg/big", big);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(put->size, big.size());
  EXPECT_TRUE(put->etag.ends_with("-3")) << "a multipart etag names its part count: " << put->etag;
  Result<GetResult> all = store->Get("seg/big");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_TRUE(all->data == big);
  EXPECT_EQ(all->meta.etag, put->etag);
  Result<GetResult> across = store->Get("seg/big", ByteRange{(5 << 20) - 10, 20});
  ASSERT_TRUE(across.ok());
  EXPECT_EQ(across->data, big.substr((5 << 20) - 10, 20)) << "bytes across a part boundary";
  // Creating it again is refused, and the object is unchanged.
  std::string other = big;
  other[0] ^= 1;
  EXPECT_TRUE(store->PutIfAbsent("seg/big", other).status().IsAlreadyExists());
  EXPECT_EQ(store->Head("seg/big")->etag, put->etag);
  // Keys not approved (commit points) stay single conditional PUTs.
  Result<ObjectMeta> single = store->PutIfAbsent("wal/big", big);
  ASSERT_TRUE(single.ok()) << single.status().ToString();
  EXPECT_FALSE(single->etag.ends_with("-3"));
  EXPECT_TRUE(store->PutIfAbsent("wal/big", big).status().IsAlreadyExists());
  Result<ListResult> listed = store->List("");
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->objects.size(), 2u);
  // No upload is left in progress: not the completed one, nor the refused second one.
  Result<std::shared_ptr<S3Store>> raw = S3Store::Open(*options);
  ASSERT_TRUE(raw.ok());
  Result<std::vector<std::string>> uploads = (*raw)->ListMultipartUploads("");
  ASSERT_TRUE(uploads.ok()) << uploads.status().ToString();
  EXPECT_TRUE(uploads->empty()) << uploads->size() << " uploads in progress, first "
                                << uploads->front();
}

TEST_F(S3ServerTest, GetManyFetchesABatchFromOneThread) {
  Result<ObjectStorePtr> store = NewS3TestPrefixStore("getmany");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  std::vector<GetRequest> requests;
  for (int i = 0; i < 150; ++i) {  // more than one wave of max_parallel_requests
    const std::string key = "k/" + std::to_string(i);
    if (i % 10 != 7) {
      ASSERT_TRUE((*store)->PutIfAbsent(key, "value " + std::to_string(i)).ok());
    }
    requests.push_back(
        {key, i % 3 == 0 ? std::optional<ByteRange>(ByteRange{6, 100}) : std::nullopt});
  }
  std::vector<Result<GetResult>> got = (*store)->GetMany(requests);
  ASSERT_EQ(got.size(), requests.size());
  for (int i = 0; i < 150; ++i) {
    if (i % 10 == 7) {
      EXPECT_TRUE(got[i].status().IsNotFound()) << i << ": " << got[i].status().ToString();
      continue;
    }
    ASSERT_TRUE(got[i].ok()) << i << ": " << got[i].status().ToString();
    EXPECT_EQ(got[i]->data, i % 3 == 0 ? std::to_string(i) : "value " + std::to_string(i));
  }
}

TEST_F(S3ServerTest, ManyThreadsShareThePool) {
  Result<ObjectStorePtr> store = NewS3TestPrefixStore("pool");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  constexpr int kThreads = 16, kPerThread = 20;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string key = "t" + std::to_string(t) + "/" + std::to_string(i);
        if (!(*store)->PutIfAbsent(key, key).ok()) failures++;
        Result<GetResult> got = (*store)->Get(key);
        if (!got.ok() || got->data != key) failures++;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  Result<ListResult> listed = (*store)->List("", "", 10000);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->objects.size(), static_cast<size_t>(kThreads * kPerThread));
}

TEST_F(S3ServerTest, WrongCredentialsAndMissingBucket) {
  Result<S3Options> options = S3TestOptions("creds");
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  S3Options wrong = *options;
  wrong.secret_access_key += "x";
  Result<ObjectStorePtr> store = OpenS3Store(wrong);
  ASSERT_TRUE(store.ok());
  Result<GetResult> got = (*store)->Get("k");
  EXPECT_EQ(got.status().code(), StatusCode::kPermissionDenied) << got.status().ToString();

  S3Options missing = *options;
  missing.bucket = "gannet-no-such-bucket-" + S3TestUniqueName();
  store = OpenS3Store(missing);
  ASSERT_TRUE(store.ok());
  Result<ListResult> listed = (*store)->List("");
  EXPECT_TRUE(listed.status().IsNotFound()) << listed.status().ToString();
  EXPECT_NE(listed.status().message().find("NoSuchBucket"), std::string::npos);
}

}  // namespace
}  // namespace gannet::storage
