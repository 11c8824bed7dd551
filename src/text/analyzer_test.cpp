#include "text/analyzer.h"

#include <gtest/gtest.h>

namespace gannet::text {
namespace {

std::vector<std::string> Tokens(const FtsOptions& o, std::string_view text) {
  auto a = Analyzer::Make(o);
  EXPECT_TRUE(a.ok()) << a.status().ToString();
  std::vector<std::string> out;
  (*a)->Analyze(text, &out);
  return out;
}

using V = std::vector<std::string>;

TEST(AnalyzerTest, DefaultsLowercaseAndDropEnglishStopwords) {
  FtsOptions o;
  EXPECT_EQ(Tokens(o, "The QUICK brown-fox, jumped over 2 lazy dogs!"),
            (V{"quick", "brown", "fox", "jumped", "over", "2", "lazy", "dogs"}));
}

TEST(AnalyzerTest, AlphanumericRunsLikeTantivysSimpleTokenizer) {
  FtsOptions o;
  o.remove_stopwords = false;
  EXPECT_EQ(Tokens(o, "don't e.g. 3.14 foo_bar x²"),
            (V{"don", "t", "e", "g", "3", "14", "foo", "bar", "x²"}));
  EXPECT_EQ(Tokens(o, "Ünïcödé straße ΑΒΓ"), (V{"ünïcödé", "straße", "αβγ"}));
}

TEST(AnalyzerTest, StemmingUsesSnowball) {
  FtsOptions o;
  o.stemming = true;
  EXPECT_EQ(Tokens(o, "running runs easily"), (V{"run", "run", "easili"}));
  o.language = "french";
  EXPECT_EQ(Tokens(o, "des chevaux"), (V{"cheval"}));
}

TEST(AnalyzerTest, AsciiFoldingAndCaseSensitivity) {
  FtsOptions o;
  o.ascii_folding = true;
  EXPECT_EQ(Tokens(o, "Crème Brûlée Straße Øre"), (V{"creme", "brulee", "strasse", "ore"}));
  o.ascii_folding = false;
  o.case_sensitive = true;
  o.remove_stopwords = false;
  EXPECT_EQ(Tokens(o, "The Fox"), (V{"The", "Fox"}));
}

TEST(AnalyzerTest, MaxTokenLengthDropsLongTokens) {
  FtsOptions o;
  o.max_token_length = 5;
  EXPECT_EQ(Tokens(o, "short toolong ok"), (V{"short", "ok"}));
}

TEST(AnalyzerTest, TokenizerVersionsTreatIdeographsAndEmoji) {
  FtsOptions o;
  o.remove_stopwords = false;
  EXPECT_EQ(Tokens(o, "東京タワー a👍🏽b"), (V{"東京タワー", "a", "👍🏽", "b"}));
  o.tokenizer = TokenizerKind::kWordV2;
  EXPECT_EQ(Tokens(o, "東京タワー"), (V{"東", "京", "タワー"}));
  o.tokenizer = TokenizerKind::kWordV0;
  EXPECT_EQ(Tokens(o, "a👍b"), (V{"a", "b"}));
}

TEST(AnalyzerTest, InvalidUtf8SeparatesTokensWithoutCrashing) {
  FtsOptions o;
  EXPECT_EQ(Tokens(o, std::string("ab\xff\xfe" "cd\xc3", 7)), (V{"ab", "cd"}));
}

TEST(AnalyzerTest, PreTokenizedArrayKeepsElements) {
  FtsOptions o;
  o.tokenizer = TokenizerKind::kPreTokenizedArray;
  auto a = Analyzer::Make(o);
  ASSERT_TRUE(a.ok());
  std::vector<std::string> out;
  (*a)->AnalyzeValue(Value::Array({Value::String("New York"), Value::String("NY")}), &out);
  EXPECT_EQ(out, (V{"New York", "NY"}));
}

// Regression (review): the shared analyzer cache was keyed by the token fingerprint only,
// so a second attribute differing only in k1/b got the first one's BM25 parameters.
TEST(FtsOptionsTest, SharedAnalyzersKeepTheirOwnBm25Parameters) {
  FtsOptions a, b;
  b.k1 = 2.0;
  b.b = 0.3;
  auto x = Analyzer::ForOptions(a), y = Analyzer::ForOptions(b);
  ASSERT_TRUE(x.ok() && y.ok());
  EXPECT_EQ((*x)->options().k1, 1.2);
  EXPECT_EQ((*y)->options().k1, 2.0);
  EXPECT_EQ((*y)->options().b, 0.3);
}

TEST(FtsOptionsTest, ParsesTurbopufferOptionsAndNamesBadOnes) {
  auto o = ParseFtsOptions(R"({"language":"german","stemming":true,"k1":1.5,"b":0.5,
                               "tokenizer":"word_v2","max_token_length":20})");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->language, "german");
  EXPECT_TRUE(o->stemming);
  EXPECT_EQ(o->k1, 1.5);
  EXPECT_EQ(o->tokenizer, TokenizerKind::kWordV2);
  EXPECT_TRUE(ParseFtsOptions("true").ok());
  EXPECT_EQ(ParseFtsOptions(R"({"language":"klingon"})").status().message(),
            "language: unsupported language 'klingon'");
  EXPECT_EQ(ParseFtsOptions(R"({"b":2})").status().message(), "b: must be between 0 and 1");
  EXPECT_EQ(ParseFtsOptions(R"({"stemming":"yes"})").status().message(),
            "stemming: must be a boolean");
  EXPECT_EQ(ParseFtsOptions(R"({"colour":1})").status().message(),
            "colour: unknown full_text_search option");
  EXPECT_EQ(ParseFtsOptions(R"({"tokenizer":"x"})").status().message(),
            "tokenizer: unknown tokenizer 'x' (word_v0, word_v1, word_v2 or pre_tokenized_array)");
}

}  // namespace
}  // namespace gannet::text
