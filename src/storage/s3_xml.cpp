// XML of S3 responses: ListObjectsV2 pages and error bodies. S3 responses are flat,
// attribute-free element trees, so a scanner for <Tag>text</Tag> is enough; it never
// reads out of bounds on malformed input and reports Corruption instead.
#include <charconv>

#include "storage/s3_protocol.h"

namespace gannet::storage::s3 {

namespace {

// The text inside the next <tag>...</tag> (or <tag/>) at or after `*pos` and before
// `end`; advances `*pos` past it. nullopt if there is none.
std::optional<std::string_view> NextElement(std::string_view xml, std::string_view tag, size_t* pos,
                                            size_t end) {
  const std::string open = "<" + std::string(tag);
  while (*pos < end) {
    size_t start = xml.find(open, *pos);
    if (start == std::string_view::npos || start + open.size() >= end) return std::nullopt;
    size_t after = start + open.size();
    const char c = xml[after];
    if (c == '/' && after + 1 < end && xml[after + 1] == '>') {  // <Tag/>
      *pos = after + 2;
      return std::string_view();
    }
    if (c != '>' && c != ' ') {  // a longer tag name, e.g. <KeyCount> for <Key>
      *pos = after;
      continue;
    }
    size_t text_begin = xml.find('>', after);
    if (text_begin == std::string_view::npos || text_begin >= end) return std::nullopt;
    ++text_begin;
    const std::string close = "</" + std::string(tag) + ">";
    size_t text_end = xml.find(close, text_begin);
    if (text_end == std::string_view::npos || text_end + close.size() > end) return std::nullopt;
    *pos = text_end + close.size();
    return xml.substr(text_begin, text_end - text_begin);
  }
  return std::nullopt;
}

std::optional<std::string_view> FindElement(std::string_view xml, std::string_view tag) {
  size_t pos = 0;
  return NextElement(xml, tag, &pos, xml.size());
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out->push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

}  // namespace

std::string XmlUnescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '&') {
      out.push_back(text[i]);
      continue;
    }
    const size_t semi = text.find(';', i);
    if (semi == std::string_view::npos || semi - i > 12) {
      out.push_back('&');
      continue;
    }
    const std::string_view entity = text.substr(i + 1, semi - i - 1);
    std::optional<uint32_t> cp;
    if (entity == "amp") {
      cp = '&';
    } else if (entity == "lt") {
      cp = '<';
    } else if (entity == "gt") {
      cp = '>';
    } else if (entity == "quot") {
      cp = '"';
    } else if (entity == "apos") {
      cp = '\'';
    } else if (entity.size() >= 2 && entity[0] == '#') {
      const bool hex = entity[1] == 'x' || entity[1] == 'X';
      const std::string_view digits = entity.substr(hex ? 2 : 1);
      uint32_t value = 0;
      auto [ptr, ec] =
          std::from_chars(digits.data(), digits.data() + digits.size(), value, hex ? 16 : 10);
      if (ec == std::errc() && ptr == digits.data() + digits.size() && !digits.empty() &&
          value <= 0x10ffff) {
        cp = value;
      }
    }
    if (!cp) {
      out.push_back('&');
      continue;
    }
    AppendUtf8(*cp, &out);
    i = semi;
  }
  return out;
}

Result<ListPage> ParseListObjectsV2(std::string_view xml) {
  if (xml.find("<ListBucketResult") == std::string_view::npos) {
    return Status::Corruption("S3 ListObjectsV2 response is not a ListBucketResult: '" +
                              std::string(xml.substr(0, 200)) + "'");
  }
  ListPage page;
  std::optional<std::string_view> truncated = FindElement(xml, "IsTruncated");
  page.truncated = truncated && *truncated == "true";
  if (std::optional<std::string_view> token = FindElement(xml, "NextContinuationToken")) {
    page.next_continuation_token = XmlUnescape(*token);
  }
  size_t pos = 0;
  while (std::optional<std::string_view> contents =
             NextElement(xml, "Contents", &pos, xml.size())) {
    std::optional<std::string_view> key = FindElement(*contents, "Key");
    std::optional<std::string_view> size = FindElement(*contents, "Size");
    std::optional<std::string_view> etag = FindElement(*contents, "ETag");
    std::optional<std::string_view> modified = FindElement(*contents, "LastModified");
    if (!key || !size) {
      return Status::Corruption("S3 ListObjectsV2 <Contents> without <Key> or <Size>");
    }
    ObjectMeta meta;
    meta.key = XmlUnescape(*key);
    auto [ptr, ec] = std::from_chars(size->data(), size->data() + size->size(), meta.size);
    if (ec != std::errc() || ptr != size->data() + size->size()) {
      return Status::Corruption("S3 ListObjectsV2: bad <Size> '" + std::string(*size) + "'");
    }
    if (etag) meta.etag = NormalizeEtag(XmlUnescape(*etag));
    if (modified) {
      std::optional<int64_t> ms = ParseIso8601(*modified);
      if (!ms) {
        return Status::Corruption("S3 ListObjectsV2: bad <LastModified> '" +
                                  std::string(*modified) + "'");
      }
      meta.mtime_ms = *ms;
    }
    page.objects.push_back(std::move(meta));
  }
  if (page.truncated && page.next_continuation_token.empty()) {
    return Status::Corruption("S3 ListObjectsV2: truncated page without NextContinuationToken");
  }
  return page;
}

std::optional<std::string> ParseXmlText(std::string_view xml, std::string_view tag) {
  std::optional<std::string_view> text = FindElement(xml, tag);
  if (!text) return std::nullopt;
  return XmlUnescape(*text);
}

std::vector<std::string> ParseMultipartUploadKeys(std::string_view xml) {
  std::vector<std::string> keys;
  size_t pos = 0;
  while (std::optional<std::string_view> upload = NextElement(xml, "Upload", &pos, xml.size())) {
    if (std::optional<std::string_view> key = FindElement(*upload, "Key")) {
      keys.push_back(XmlUnescape(*key));
    }
  }
  return keys;
}

std::string CompleteMultipartBody(const std::vector<std::string>& part_etags) {
  std::string body = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
  for (size_t i = 0; i < part_etags.size(); ++i) {
    // Etags are hex digits (and '-'), so they need no escaping; S3 wants them quoted.
    body += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>\"" + part_etags[i] +
            "\"</ETag></Part>";
  }
  body += "</CompleteMultipartUpload>";
  return body;
}

std::string ParseErrorCode(std::string_view xml) {
  std::optional<std::string_view> code = FindElement(xml, "Code");
  return code ? XmlUnescape(*code) : std::string();
}

}  // namespace gannet::storage::s3
