// Full-text analysis: the options of a full_text_search attribute and the analyzer that
// turns text into the tokens the inverted index stores and queries look up.
//
// The pipeline (names and defaults follow turbopuffer's schema API):
//   tokenizer   word_v1 (default): maximal runs of alphanumeric code points (Unicode
//               Alphabetic, or general category Nd/Nl/No; ideographs count as letters)
//               plus runs of emoji; everything else separates tokens.
//               word_v2: like word_v1, but every ideographic code point is a token.
//               word_v0: like word_v1, emoji discarded.
//               pre_tokenized_array: a []string attribute whose elements are the tokens.
//   lowercase   unless case_sensitive (Unicode simple case mapping through ICU)
//   ascii_folding  letters with diacritics to their ASCII base letter (é -> e, ß -> ss)
//   max_token_length  tokens longer than this many bytes are dropped (default 39)
//   remove_stopwords  the language's stopword list (default true): Snowball's, except
//               English: Lucene's classic 33 words (see scripts/gen_stopwords.py)
//   stemming    the language's Snowball stemmer (libstemmer; default false)
//
// Thread safety: an Analyzer is immutable; Analyze may run on many threads at once (each
// thread uses its own stemmer instance).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gannet/status.h"
#include "gannet/types.h"

namespace gannet::text {

enum class TokenizerKind : uint8_t { kWordV0, kWordV1, kWordV2, kPreTokenizedArray };

struct FtsOptions {
  std::string language = "english";
  bool stemming = false;
  bool remove_stopwords = true;
  bool case_sensitive = false;
  bool ascii_folding = false;
  uint32_t max_token_length = 39;
  TokenizerKind tokenizer = TokenizerKind::kWordV1;
  double k1 = 1.2;
  double b = 0.75;

  // A canonical text of every option that changes the tokens (not k1/b): two attributes
  // with equal fingerprints produce identical indexes.
  std::string Fingerprint() const;
};

// Parses an AttributeSchema::full_text_search value ("true" or a JSON object). Errors are
// InvalidArgument "<option>: <reason>" (the caller adds the attribute path).
Result<FtsOptions> ParseFtsOptions(std::string_view json);

// The canonical JSON of `options` (every option spelled out), as the schema reports it.
std::string FtsOptionsJson(const FtsOptions& options);

class Analyzer {
 public:
  // InvalidArgument when the language has no stemmer but stemming is on.
  static Result<std::shared_ptr<const Analyzer>> Make(const FtsOptions& options);
  // A shared analyzer for `options`, cached by fingerprint (and k1, b).
  static Result<std::shared_ptr<const Analyzer>> ForOptions(const FtsOptions& options);
  // The shared analyzer of an AttributeSchema::full_text_search text, parsed once per
  // distinct text (queries call this for every BM25 leaf and token filter).
  static Result<std::shared_ptr<const Analyzer>> ForSchemaText(std::string_view json);

  const FtsOptions& options() const { return options_; }
  // options().Fingerprint(), computed once.
  const std::string& fingerprint() const { return fingerprint_; }

  // Appends the tokens of `text` to `out`, in text order.
  void Analyze(std::string_view text, std::vector<std::string>* out) const;
  // The tokens of an attribute value: a string, or each element of a []string (as one
  // token each with pre_tokenized_array). Other kinds give no tokens.
  void AnalyzeValue(const Value& value, std::vector<std::string>* out) const;

 private:
  explicit Analyzer(const FtsOptions& options);
  // Lowercases/folds/filters/stems one raw token and appends it unless dropped.
  void Emit(std::string_view raw, std::vector<std::string>* out) const;

  FtsOptions options_;
  std::string fingerprint_;
  const std::vector<std::string_view>* stopwords_ = nullptr;  // null: none
};

}  // namespace gannet::text

namespace gannet {

// What a bound full-text filter (ContainsAllTokens, ...) carries: the attribute's
// analyzer and the analyzed query tokens.
struct FullTextFilterBinding {
  std::shared_ptr<const text::Analyzer> analyzer;
  std::vector<std::string> tokens;
};

}  // namespace gannet
