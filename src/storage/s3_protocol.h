// Pure helpers of the S3 protocol, kept apart from the HTTP transport so they can be
// unit-tested without a server: URI encoding, etag normalisation, HTTP and ISO-8601
// dates, endpoint parsing, and parsing of ListObjectsV2 and error XML bodies.
//
// Thread safety: every function is pure (no shared state).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gannet/object_store.h"
#include "gannet/status.h"

namespace gannet::storage::s3 {

// AWS SigV4 URI encoding: every byte except A-Z a-z 0-9 '-' '_' '.' '~' becomes %XX
// (upper-case hex); '/' is kept when `keep_slash` (object paths) and encoded otherwise
// (query values).
std::string UriEncode(std::string_view s, bool keep_slash);

// An etag without surrounding quotes or a weak-validator "W/" prefix.
std::string NormalizeEtag(std::string_view etag);

// True if `etag` (normalised) has the shape of an S3 etag: 32 hex digits, optionally
// followed by "-<parts>" (multipart uploads). PutIfMatch never sends any other: Ceph RGW
// compares If-Match as a prefix (an etag followed by anything matches), so a malformed
// etag must be refused before it reaches the server.
bool IsWellFormedEtag(std::string_view etag);

// "Wed, 25 Nov 2026 14:21:16 GMT" (RFC 7231 IMF-fixdate) -> ms since the Unix epoch.
std::optional<int64_t> ParseHttpDate(std::string_view date);
// "2026-11-25T14:21:16.699Z" -> ms since the Unix epoch (fraction kept to ms).
std::optional<int64_t> ParseIso8601(std::string_view date);

// "bytes 2-4/10" -> 10 (the whole object's size).
std::optional<uint64_t> ParseContentRangeTotal(std::string_view content_range);

struct Endpoint {
  std::string scheme;  // "http" or "https"
  std::string host;    // host name or address, IPv6 in brackets
  std::string port;    // empty for the scheme's default
};
// "http[s]://host[:port][/]" -> Endpoint; InvalidArgument otherwise.
Result<Endpoint> ParseEndpoint(std::string_view url);

// One page of a ListObjectsV2 response. Keys are as the server sent them (XML entities
// decoded); etags normalised; mtime_ms from LastModified.
struct ListPage {
  std::vector<ObjectMeta> objects;
  bool truncated = false;
  std::string next_continuation_token;
};
// Corruption if the body is not a ListBucketResult.
Result<ListPage> ParseListObjectsV2(std::string_view xml);

// The <Code> of an S3 error body ("SlowDown", "NoSuchKey", ...), or "" if none.
std::string ParseErrorCode(std::string_view xml);

// The unescaped text of the first <tag> element, or nullopt if there is none.
std::optional<std::string> ParseXmlText(std::string_view xml, std::string_view tag);

// The keys of a ListMultipartUploadsResult's <Upload> elements, in order.
std::vector<std::string> ParseMultipartUploadKeys(std::string_view xml);

// The body of a CompleteMultipartUpload request for parts 1..n with these etags.
std::string CompleteMultipartBody(const std::vector<std::string>& part_etags);

// Decodes XML character references and the five predefined entities.
std::string XmlUnescape(std::string_view text);

}  // namespace gannet::storage::s3
