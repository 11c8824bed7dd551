#include "text/analyzer.h"

#include <libstemmer.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/utf16.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "text/stopwords.h"

namespace gannet::text {

namespace {

using Json = nlohmann::json;

constexpr const char* kLanguages[] = {"arabic",    "danish",     "dutch",    "english",   "finnish",
                                      "french",    "german",     "greek",    "hungarian", "italian",
                                      "norwegian", "portuguese", "romanian", "russian",   "spanish",
                                      "swedish",   "tamil",      "turkish"};

std::string_view TokenizerName(TokenizerKind k) {
  switch (k) {
    case TokenizerKind::kWordV0:
      return "word_v0";
    case TokenizerKind::kWordV1:
      return "word_v1";
    case TokenizerKind::kWordV2:
      return "word_v2";
    case TokenizerKind::kPreTokenizedArray:
      return "pre_tokenized_array";
  }
  return "word_v1";
}

Status Bad(std::string_view option, std::string_view reason) {
  return Status::InvalidArgument(std::string(option) + ": " + std::string(reason));
}

Result<bool> GetBool(const Json& v, std::string_view option) {
  if (!v.is_boolean()) return Bad(option, "must be a boolean");
  return v.get<bool>();
}

Result<double> GetNumber(const Json& v, std::string_view option) {
  if (!v.is_number()) return Bad(option, "must be a number");
  const double d = v.get<double>();
  if (!std::isfinite(d)) return Bad(option, "must be finite");
  return d;
}

// Snowball stemmers are stateful: each thread keeps one per language.
struct StemmerCache {
  std::map<std::string, sb_stemmer*, std::less<>> by_language;
  ~StemmerCache() {
    for (auto& [lang, s] : by_language) sb_stemmer_delete(s);
  }
  sb_stemmer* Get(std::string_view language) {
    auto it = by_language.find(language);
    if (it != by_language.end()) return it->second;
    sb_stemmer* s = sb_stemmer_new(std::string(language).c_str(), "UTF_8");
    by_language.emplace(std::string(language), s);
    return s;
  }
};

bool HasStemmer(std::string_view language) {
  sb_stemmer* s = sb_stemmer_new(std::string(language).c_str(), "UTF_8");
  if (s == nullptr) return false;
  sb_stemmer_delete(s);
  return true;
}

enum class CharClass : uint8_t { kOther, kAlnum, kIdeographic, kEmoji, kEmojiJoiner };

CharClass Classify(UChar32 c) {
  if (c < 0x80) {
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    return alnum ? CharClass::kAlnum : CharClass::kOther;
  }
  if (u_hasBinaryProperty(c, UCHAR_IDEOGRAPHIC)) return CharClass::kIdeographic;
  if (u_hasBinaryProperty(c, UCHAR_ALPHABETIC)) return CharClass::kAlnum;
  const int8_t t = u_charType(c);
  if (t == U_DECIMAL_DIGIT_NUMBER || t == U_LETTER_NUMBER || t == U_OTHER_NUMBER) {
    return CharClass::kAlnum;
  }
  if (u_hasBinaryProperty(c, UCHAR_EXTENDED_PICTOGRAPHIC) ||
      u_hasBinaryProperty(c, UCHAR_REGIONAL_INDICATOR)) {
    return CharClass::kEmoji;
  }
  if (c == 0x200D || c == 0xFE0F || u_hasBinaryProperty(c, UCHAR_EMOJI_MODIFIER)) {
    return CharClass::kEmojiJoiner;
  }
  return CharClass::kOther;
}

void AppendUtf8(UChar32 c, std::string* out) {
  char buf[4];
  int32_t n = 0;
  U8_APPEND_UNSAFE(buf, n, c);
  out->append(buf, static_cast<size_t>(n));
}

// The ASCII spelling of a letter with diacritics, or false to keep it.
bool FoldToAscii(UChar32 c, std::string* out) {
  switch (c) {
    case 0xDF:
      out->append("ss");
      return true;
    case 0xE6:
      out->append("ae");
      return true;
    case 0xC6:
      out->append("AE");
      return true;
    case 0x153:
      out->append("oe");
      return true;
    case 0x152:
      out->append("OE");
      return true;
    case 0xF8:
      out->push_back('o');
      return true;
    case 0xD8:
      out->push_back('O');
      return true;
    case 0x111:
    case 0xF0:
      out->push_back('d');
      return true;
    case 0x110:
    case 0xD0:
      out->push_back('D');
      return true;
    case 0x142:
      out->push_back('l');
      return true;
    case 0x141:
      out->push_back('L');
      return true;
    case 0xFE:
      out->append("th");
      return true;
    case 0xDE:
      out->append("TH");
      return true;
    case 0x131:
      out->push_back('i');
      return true;
    default:
      break;
  }
  UErrorCode err = U_ZERO_ERROR;
  static const UNormalizer2* nfd = unorm2_getNFDInstance(&err);
  if (nfd == nullptr) return false;
  UChar buf[16];
  err = U_ZERO_ERROR;
  const int32_t n = unorm2_getDecomposition(nfd, c, buf, 16, &err);
  if (U_FAILURE(err) || n <= 0) return false;
  int32_t i = 0;
  UChar32 base;
  U16_NEXT(buf, i, n, base);
  if (base >= 0x80) return false;
  while (i < n) {
    UChar32 m;
    U16_NEXT(buf, i, n, m);
    if (u_charType(m) != U_NON_SPACING_MARK) return false;
  }
  out->push_back(static_cast<char>(base));
  return true;
}

}  // namespace

std::string FtsOptions::Fingerprint() const {
  std::string f = "v1;";
  f += TokenizerName(tokenizer);
  f += ";" + language;
  f += stemming ? ";stem" : ";nostem";
  f += remove_stopwords ? ";stop" : ";nostop";
  f += case_sensitive ? ";case" : ";nocase";
  f += ascii_folding ? ";fold" : ";nofold";
  f += ";" + std::to_string(max_token_length);
  return f;
}

Result<FtsOptions> ParseFtsOptions(std::string_view text) {
  FtsOptions o;
  if (text.empty() || text == "true") return o;
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument("must be true, false or an object of options");
  }
  for (const auto& [key, v] : j.items()) {
    if (key == "language") {
      if (!v.is_string()) return Bad(key, "must be a string");
      o.language = v.get<std::string>();
      if (std::find_if(std::begin(kLanguages), std::end(kLanguages),
                       [&](const char* l) { return o.language == l; }) == std::end(kLanguages)) {
        return Bad(key, "unsupported language '" + o.language + "'");
      }
    } else if (key == "stemming") {
      GANNET_ASSIGN_OR_RETURN(o.stemming, GetBool(v, key));
    } else if (key == "remove_stopwords") {
      GANNET_ASSIGN_OR_RETURN(o.remove_stopwords, GetBool(v, key));
    } else if (key == "case_sensitive") {
      GANNET_ASSIGN_OR_RETURN(o.case_sensitive, GetBool(v, key));
    } else if (key == "ascii_folding") {
      GANNET_ASSIGN_OR_RETURN(o.ascii_folding, GetBool(v, key));
    } else if (key == "max_token_length") {
      if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > 1024) {
        return Bad(key, "must be an integer between 1 and 1024");
      }
      o.max_token_length = static_cast<uint32_t>(v.get<int64_t>());
    } else if (key == "tokenizer") {
      if (!v.is_string()) return Bad(key, "must be a string");
      const std::string t = v.get<std::string>();
      if (t == "word_v0") {
        o.tokenizer = TokenizerKind::kWordV0;
      } else if (t == "word_v1") {
        o.tokenizer = TokenizerKind::kWordV1;
      } else if (t == "word_v2") {
        o.tokenizer = TokenizerKind::kWordV2;
      } else if (t == "pre_tokenized_array") {
        o.tokenizer = TokenizerKind::kPreTokenizedArray;
      } else {
        return Bad(key, "unknown tokenizer '" + t +
                            "' (word_v0, word_v1, word_v2 or pre_tokenized_array)");
      }
    } else if (key == "k1") {
      GANNET_ASSIGN_OR_RETURN(o.k1, GetNumber(v, key));
      if (o.k1 < 0) return Bad(key, "must be non-negative");
    } else if (key == "b") {
      GANNET_ASSIGN_OR_RETURN(o.b, GetNumber(v, key));
      if (o.b < 0 || o.b > 1) return Bad(key, "must be between 0 and 1");
    } else {
      return Bad(key, "unknown full_text_search option");
    }
  }
  if (o.stemming && !HasStemmer(o.language)) {
    return Bad("stemming", "no stemmer for language '" + o.language + "'");
  }
  return o;
}

std::string FtsOptionsJson(const FtsOptions& o) {
  Json j = {{"language", o.language},
            {"stemming", o.stemming},
            {"remove_stopwords", o.remove_stopwords},
            {"case_sensitive", o.case_sensitive},
            {"ascii_folding", o.ascii_folding},
            {"max_token_length", o.max_token_length},
            {"tokenizer", std::string(TokenizerName(o.tokenizer))},
            {"k1", o.k1},
            {"b", o.b}};
  return j.dump();
}

Analyzer::Analyzer(const FtsOptions& options)
    : options_(options), fingerprint_(options.Fingerprint()) {
  if (options_.remove_stopwords) {
    for (const StopwordList& l : StopwordLists()) {
      if (l.language == options_.language) stopwords_ = &l.words;
    }
  }
}

Result<std::shared_ptr<const Analyzer>> Analyzer::Make(const FtsOptions& options) {
  if (options.stemming && !HasStemmer(options.language)) {
    return Status::InvalidArgument("stemming: no stemmer for language '" + options.language + "'");
  }
  return std::shared_ptr<const Analyzer>(new Analyzer(options));
}

Result<std::shared_ptr<const Analyzer>> Analyzer::ForOptions(const FtsOptions& options) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const Analyzer>>* cache =
      new std::map<std::string, std::shared_ptr<const Analyzer>>();
  // k1 and b do not change tokens but the analyzer carries them to BM25.
  char params[64];
  std::snprintf(params, sizeof(params), ";k1=%.17g;b=%.17g", options.k1, options.b);
  const std::string key = options.Fingerprint() + params;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache->find(key);
  if (it != cache->end()) return it->second;
  GANNET_ASSIGN_OR_RETURN(std::shared_ptr<const Analyzer> a, Make(options));
  cache->emplace(key, a);
  return a;
}

Result<std::shared_ptr<const Analyzer>> Analyzer::ForSchemaText(std::string_view json) {
  static std::mutex mu;
  static auto* cache = new std::map<std::string, std::shared_ptr<const Analyzer>, std::less<>>();
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache->find(json);
    if (it != cache->end()) return it->second;
  }
  GANNET_ASSIGN_OR_RETURN(FtsOptions options, ParseFtsOptions(json));
  GANNET_ASSIGN_OR_RETURN(std::shared_ptr<const Analyzer> a, ForOptions(options));
  std::lock_guard<std::mutex> lock(mu);
  cache->emplace(std::string(json), a);
  return a;
}

void Analyzer::Emit(std::string_view raw, std::vector<std::string>* out) const {
  std::string t;
  t.reserve(raw.size());
  if (options_.case_sensitive && !options_.ascii_folding) {
    t.assign(raw);
  } else {
    const auto* s = reinterpret_cast<const uint8_t*>(raw.data());
    const int32_t n = static_cast<int32_t>(raw.size());
    int32_t i = 0;
    while (i < n) {
      if (s[i] < 0x80) {
        char ch = static_cast<char>(s[i++]);
        if (!options_.case_sensitive && ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch + 32);
        t.push_back(ch);
        continue;
      }
      UChar32 c;
      U8_NEXT(s, i, n, c);
      if (c < 0) continue;  // the tokenizer only passes valid UTF-8
      if (!options_.case_sensitive) c = u_tolower(c);
      if (options_.ascii_folding && FoldToAscii(c, &t)) continue;
      AppendUtf8(c, &t);
    }
  }
  if (t.empty() || t.size() > options_.max_token_length) return;
  if (stopwords_ != nullptr &&
      std::binary_search(stopwords_->begin(), stopwords_->end(), std::string_view(t))) {
    return;
  }
  if (options_.stemming) {
    thread_local StemmerCache stemmers;
    sb_stemmer* st = stemmers.Get(options_.language);
    if (st != nullptr) {
      const sb_symbol* r = sb_stemmer_stem(st, reinterpret_cast<const sb_symbol*>(t.data()),
                                           static_cast<int>(t.size()));
      if (r != nullptr) t.assign(reinterpret_cast<const char*>(r), sb_stemmer_length(st));
    }
    if (t.empty()) return;
  }
  out->push_back(std::move(t));
}

void Analyzer::Analyze(std::string_view text, std::vector<std::string>* out) const {
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const int32_t n = static_cast<int32_t>(std::min<size_t>(text.size(), INT32_MAX));
  const bool ideographs_alone = options_.tokenizer == TokenizerKind::kWordV2;
  const bool emoji = options_.tokenizer != TokenizerKind::kWordV0;
  int32_t word_start = -1;  // start of the current alphanumeric run
  int32_t i = 0;
  auto flush = [&](int32_t end) {
    if (word_start >= 0) Emit(text.substr(word_start, end - word_start), out);
    word_start = -1;
  };
  while (i < n) {
    const int32_t start = i;
    UChar32 c;
    if (s[i] < 0x80) {
      c = s[i++];
    } else {
      U8_NEXT(s, i, n, c);
      if (c < 0) {  // invalid UTF-8 separates tokens
        flush(start);
        continue;
      }
    }
    CharClass cls = Classify(c);
    if (cls == CharClass::kIdeographic) cls = ideographs_alone ? cls : CharClass::kAlnum;
    switch (cls) {
      case CharClass::kAlnum:
        if (word_start < 0) word_start = start;
        break;
      case CharClass::kIdeographic:
        flush(start);
        Emit(text.substr(start, i - start), out);
        break;
      case CharClass::kEmoji: {
        flush(start);
        // One glyph: the pictograph plus modifiers, variation selectors and ZWJ sequences.
        int32_t end = i;
        while (end < n) {
          int32_t j = end;
          UChar32 d;
          U8_NEXT(s, j, n, d);
          if (d < 0) break;
          const CharClass dc = Classify(d);
          if (dc == CharClass::kEmojiJoiner) {
            end = j;
            if (d == 0x200D && j < n) {  // ZWJ joins the next pictograph
              int32_t k = j;
              UChar32 e;
              U8_NEXT(s, k, n, e);
              if (e >= 0 && Classify(e) == CharClass::kEmoji) end = k;
            }
          } else if (dc == CharClass::kEmoji && c >= 0x1F1E6 && c <= 0x1F1FF && d >= 0x1F1E6 &&
                     d <= 0x1F1FF && end == i) {
            end = j;  // a flag: two regional indicators
          } else {
            break;
          }
        }
        if (emoji) Emit(text.substr(start, end - start), out);
        i = end;
        break;
      }
      case CharClass::kEmojiJoiner:
      case CharClass::kOther:
        flush(start);
        break;
    }
  }
  flush(n);
}

void Analyzer::AnalyzeValue(const Value& value, std::vector<std::string>* out) const {
  if (value.kind() == Value::Kind::kString) {
    if (options_.tokenizer == TokenizerKind::kPreTokenizedArray) {
      out->push_back(value.as_string());
    } else {
      Analyze(value.as_string(), out);
    }
    return;
  }
  if (value.kind() != Value::Kind::kArray) return;
  for (const Value& e : value.as_array()) {
    if (e.kind() != Value::Kind::kString) continue;
    if (options_.tokenizer == TokenizerKind::kPreTokenizedArray) {
      if (!e.as_string().empty()) out->push_back(e.as_string());
    } else {
      Analyze(e.as_string(), out);
    }
  }
}

}  // namespace gannet::text
