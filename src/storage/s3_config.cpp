// S3 configuration (S3Options::FromUrlAndEnv, endpoints) and the protocol's text
// formats: URI encoding, etags, dates, Content-Range.
#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <ctime>

#include "storage/s3_protocol.h"

namespace gannet {

namespace {

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::string(value) : std::string();
}

}  // namespace

bool IsS3Url(std::string_view path) { return path.starts_with("s3://"); }

Result<S3Options> S3Options::FromUrlAndEnv(std::string_view url) {
  if (!IsS3Url(url)) {
    return Status::InvalidArgument("not an S3 URL (s3://bucket/prefix): '" + std::string(url) +
                                   "'");
  }
  S3Options options;
  std::string_view rest = url.substr(5);
  const size_t slash = rest.find('/');
  options.bucket = std::string(rest.substr(0, slash));
  if (slash != std::string_view::npos) {
    std::string_view prefix = rest.substr(slash + 1);
    while (prefix.ends_with('/')) prefix.remove_suffix(1);
    if (!prefix.empty()) options.prefix = std::string(prefix) + "/";
  }
  if (options.bucket.empty()) {
    return Status::InvalidArgument("S3 URL '" + std::string(url) + "' has no bucket");
  }
  options.access_key_id = Env("AWS_ACCESS_KEY_ID");
  options.secret_access_key = Env("AWS_SECRET_ACCESS_KEY");
  options.session_token = Env("AWS_SESSION_TOKEN");
  std::string region = Env("AWS_REGION");
  if (region.empty()) region = Env("AWS_DEFAULT_REGION");
  if (!region.empty()) options.region = region;
  options.endpoint = Env("AWS_ENDPOINT_URL_S3");
  if (options.endpoint.empty()) options.endpoint = Env("AWS_ENDPOINT_URL");
  const std::string path_style = Env("GANNET_S3_PATH_STYLE");
  if (path_style.empty()) {
    options.path_style = !options.endpoint.empty();
  } else if (path_style == "1" || path_style == "true") {
    options.path_style = true;
  } else if (path_style == "0" || path_style == "false") {
    options.path_style = false;
  } else {
    return Status::InvalidArgument("GANNET_S3_PATH_STYLE must be 1 or 0, not '" + path_style + "'");
  }
  if (options.access_key_id.empty() || options.secret_access_key.empty()) {
    return Status::InvalidArgument("S3 URL '" + std::string(url) +
                                   "': set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
  }
  return options;
}

namespace storage::s3 {

std::string UriEncode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3 / 2);
  for (char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~' || (c == '/' && keep_slash)) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

std::string NormalizeEtag(std::string_view etag) {
  while (!etag.empty() && (etag.front() == ' ' || etag.front() == '\t')) etag.remove_prefix(1);
  while (!etag.empty() && (etag.back() == ' ' || etag.back() == '\t' || etag.back() == '\r' ||
                           etag.back() == '\n')) {
    etag.remove_suffix(1);
  }
  if (etag.starts_with("W/")) etag.remove_prefix(2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return std::string(etag);
}

bool IsWellFormedEtag(std::string_view etag) {
  auto is_hex = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  };
  if (etag.size() < 32 || !std::all_of(etag.begin(), etag.begin() + 32, is_hex)) return false;
  std::string_view rest = etag.substr(32);
  if (rest.empty()) return true;
  if (rest.size() < 2 || rest.size() > 6 || rest[0] != '-') return false;
  return std::all_of(rest.begin() + 1, rest.end(), [](char c) { return c >= '0' && c <= '9'; });
}

namespace {

bool ParseInt(std::string_view s, int* out) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

std::optional<int64_t> ToMs(int year, int month, int day, int hour, int minute, int second,
                            int millis) {
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 || minute < 0 ||
      minute > 59 || second < 0 || second > 60 || millis < 0 || millis > 999) {
    return std::nullopt;
  }
  const int64_t days =
      DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  return ((days * 24 + hour) * 60 + minute) * 60'000 + second * 1000 + millis;
}

}  // namespace

std::optional<int64_t> ParseHttpDate(std::string_view date) {
  // "Wed, 25 Nov 2026 14:21:16 GMT"
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (date.size() != 29 || date[3] != ',' || date[4] != ' ' || date[7] != ' ' || date[11] != ' ' ||
      date[16] != ' ' || date[19] != ':' || date[22] != ':' || date.substr(25) != " GMT") {
    return std::nullopt;
  }
  int day = 0, year = 0, hour = 0, minute = 0, second = 0, month = 0;
  for (int m = 0; m < 12; ++m) {
    if (date.substr(8, 3) == kMonths[m]) month = m + 1;
  }
  if (month == 0 || !ParseInt(date.substr(5, 2), &day) || !ParseInt(date.substr(12, 4), &year) ||
      !ParseInt(date.substr(17, 2), &hour) || !ParseInt(date.substr(20, 2), &minute) ||
      !ParseInt(date.substr(23, 2), &second)) {
    return std::nullopt;
  }
  return ToMs(year, month, day, hour, minute, second, 0);
}

std::optional<int64_t> ParseIso8601(std::string_view date) {
  // "2026-11-25T14:21:16.699Z" or without the fraction.
  if (date.size() < 20 || date[4] != '-' || date[7] != '-' || date[10] != 'T' || date[13] != ':' ||
      date[16] != ':' || date.back() != 'Z') {
    return std::nullopt;
  }
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, millis = 0;
  if (!ParseInt(date.substr(0, 4), &year) || !ParseInt(date.substr(5, 2), &month) ||
      !ParseInt(date.substr(8, 2), &day) || !ParseInt(date.substr(11, 2), &hour) ||
      !ParseInt(date.substr(14, 2), &minute) || !ParseInt(date.substr(17, 2), &second)) {
    return std::nullopt;
  }
  std::string_view rest = date.substr(19, date.size() - 20);  // between seconds and 'Z'
  if (!rest.empty()) {
    if (rest[0] != '.' || rest.size() < 2) return std::nullopt;
    std::string_view digits = rest.substr(1);
    for (char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
    }
    std::string ms(digits.substr(0, 3));
    while (ms.size() < 3) ms.push_back('0');
    if (!ParseInt(ms, &millis)) return std::nullopt;
  }
  return ToMs(year, month, day, hour, minute, second, millis);
}

std::optional<uint64_t> ParseContentRangeTotal(std::string_view content_range) {
  const size_t slash = content_range.rfind('/');
  if (!content_range.starts_with("bytes ") || slash == std::string_view::npos) return std::nullopt;
  std::string_view total = content_range.substr(slash + 1);
  while (!total.empty() && (total.back() == '\r' || total.back() == ' ')) total.remove_suffix(1);
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(total.data(), total.data() + total.size(), value);
  if (ec != std::errc() || ptr != total.data() + total.size() || total.empty()) {
    return std::nullopt;
  }
  return value;
}

Result<Endpoint> ParseEndpoint(std::string_view url) {
  Endpoint endpoint;
  std::string_view rest;
  if (url.starts_with("http://")) {
    endpoint.scheme = "http";
    rest = url.substr(7);
  } else if (url.starts_with("https://")) {
    endpoint.scheme = "https";
    rest = url.substr(8);
  } else {
    return Status::InvalidArgument("S3 endpoint '" + std::string(url) +
                                   "' must start with http:// or https://");
  }
  while (rest.ends_with('/')) rest.remove_suffix(1);
  if (rest.empty() || rest.find('/') != std::string_view::npos ||
      rest.find('?') != std::string_view::npos || rest.find('@') != std::string_view::npos) {
    return Status::InvalidArgument("S3 endpoint '" + std::string(url) +
                                   "' must be http[s]://host[:port]");
  }
  size_t colon = rest.rfind(':');
  if (rest.front() == '[') {  // [ipv6]:port
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) {
      return Status::InvalidArgument("S3 endpoint '" + std::string(url) + "': bad IPv6 host");
    }
    colon = close + 1 < rest.size() && rest[close + 1] == ':' ? close + 1 : std::string_view::npos;
  }
  endpoint.host = std::string(rest.substr(0, colon));
  if (colon != std::string_view::npos) {
    endpoint.port = std::string(rest.substr(colon + 1));
    int port = 0;
    if (!ParseInt(endpoint.port, &port) || port <= 0 || port > 65535) {
      return Status::InvalidArgument("S3 endpoint '" + std::string(url) + "': bad port");
    }
  }
  if (endpoint.host.empty()) {
    return Status::InvalidArgument("S3 endpoint '" + std::string(url) + "' has no host");
  }
  return endpoint;
}

}  // namespace storage::s3
}  // namespace gannet
