// Full-text search through the engine: BM25 scores against the formula computed here
// independently, across the WAL tail, segments and their mixture; Sum/Max/Product;
// token filters; updates and deletes; schema changes; the stored text index.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <set>

#include "gannet/database.h"
#include "gannet/json.h"

namespace gannet {
namespace {

// A brute-force BM25 over plain token lists (what the engine must reproduce).
struct Corpus {
  std::map<uint64_t, std::vector<std::string>> docs;  // live docs: id -> tokens
  double k1 = 1.2, b = 0.75;

  static uint32_t Quantize(uint32_t n) {
    // Lucene's SmallFloat.intToByte4 round trip, written out independently.
    if (n < 24) return n;
    uint64_t i = n - 24;
    if (i < 8) return n;  // fewer than 4 significant bits: exact
    int bits = 64 - __builtin_clzll(i);
    if (bits < 4) return n;
    int shift = bits - 4;
    return 24 + static_cast<uint32_t>((((i >> shift) & 7) | 8) << shift);
  }

  std::vector<std::pair<uint64_t, double>> Rank(const std::vector<std::string>& q, size_t k) const {
    double n = 0, tokens = 0;
    std::map<std::string, double> df;
    for (const auto& [id, t] : docs) {
      if (t.empty()) continue;
      n += 1;
      tokens += t.size();
      for (const std::string& w : std::set<std::string>(t.begin(), t.end())) df[w] += 1;
    }
    const double avgdl = tokens / n;
    std::vector<std::pair<uint64_t, double>> out;
    for (const auto& [id, t] : docs) {
      double s = 0;
      for (const std::string& w : q) {
        const double tf = static_cast<double>(std::count(t.begin(), t.end(), w));
        if (tf == 0) continue;
        const double idf = std::log(1 + (n - df[w] + 0.5) / (df[w] + 0.5));
        const double dl = Quantize(static_cast<uint32_t>(t.size()));
        s += idf * (k1 + 1) * tf / (tf + k1 * (1 - b + b * dl / avgdl));
      }
      if (s > 0) out.emplace_back(id, s);
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& c) {
      return a.second != c.second ? a.second > c.second : a.first < c.first;
    });
    if (out.size() > k) out.resize(k);
    return out;
  }
};

class FtsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DatabaseOptions o;
    o.store = NewMemoryStore();
    o.background_indexing = false;
    o.gc_grace = std::chrono::milliseconds(0);
    db_ = std::move(Database::Open(o)).value();
    ns_ = *db_->OpenNamespace("docs");
  }
  void Write(const std::string& json) {
    auto req = ParseWriteRequest(json);
    ASSERT_TRUE(req.ok()) << req.status().ToString();
    auto r = ns_->Write(std::move(req).value());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  Result<QueryResponse> Query(const std::string& json) {
    auto req = ParseQueryRequest(json);
    if (!req.ok()) return req.status();
    return ns_->Query(*req);
  }
  std::vector<uint64_t> Ids(const std::string& json) {
    auto r = Query(json);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::vector<uint64_t> ids;
    if (r.ok()) {
      for (const auto& row : r->rows) ids.push_back(row.id.as_uint());
    }
    return ids;
  }
  void ExpectRanking(const std::string& q, size_t k = 10) {
    std::vector<std::string> terms;
    std::string cur;
    for (char c : q + " ") {
      if (c == ' ') {
        if (!cur.empty()) terms.push_back(cur);
        cur.clear();
      } else {
        cur += c;
      }
    }
    auto want = corpus_.Rank(terms, k);
    auto r = Query(R"({"rank_by": ["text", "BM25", ")" + q + R"("], "top_k": )" +
                   std::to_string(k) + "}");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->rows.size(), want.size()) << q;
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(r->rows[i].id.as_uint(), want[i].first) << q << " rank " << i;
      ASSERT_TRUE(r->rows[i].dist.has_value());
      EXPECT_NEAR(*r->rows[i].dist, want[i].second, 1e-6 * want[i].second) << q;
    }
  }
  // Random docs over a small vocabulary; lengths up to 60 tokens (quantized norms).
  void WriteRandom(uint64_t first, uint64_t count, std::mt19937_64& rng) {
    static const char* kWords[] = {"alpha", "bravo",    "charlie", "delta",  "echo", "foxtrot",
                                   "golf",  "hotel",    "india",   "juliet", "kilo", "lima",
                                   "mike",  "november", "oscar",   "papa"};
    std::string json = R"({"schema": {"text": {"type": "string", "full_text_search": )" +
                       fts_options_ + R"(}}, "upsert_rows": [)";
    for (uint64_t i = 0; i < count; ++i) {
      std::vector<std::string> t;
      const size_t len = 1 + rng() % 60;
      for (size_t j = 0; j < len; ++j) {
        const size_t w = std::min(rng() % 16, rng() % 16);  // skewed
        t.push_back(kWords[w]);
      }
      std::string text;
      for (const auto& w : t) text += w + " ";
      corpus_.docs[first + i] = t;
      json += (i ? "," : "") + std::string(R"({"id": )") + std::to_string(first + i) +
              R"(, "text": ")" + text + R"("})";
    }
    Write(json + "]}");
  }

  std::unique_ptr<Database> db_;
  std::shared_ptr<Namespace> ns_;
  Corpus corpus_;
  std::string fts_options_ = R"({"remove_stopwords": false})";  // WriteRandom's
};

TEST_F(FtsTest, ScoresFollowTheBm25FormulaInTailSegmentsAndBoth) {
  std::mt19937_64 rng(7);
  WriteRandom(0, 300, rng);
  for (const char* q : {"alpha", "papa", "kilo lima", "alpha bravo charlie", "oscar papa alpha"}) {
    ExpectRanking(q);  // tail only
  }
  ASSERT_TRUE(ns_->IndexNow().ok());
  for (const char* q : {"alpha", "papa", "kilo lima", "alpha bravo charlie", "oscar papa alpha"}) {
    ExpectRanking(q);  // one segment
  }
  WriteRandom(300, 200, rng);
  ASSERT_TRUE(ns_->IndexNow().ok());
  WriteRandom(500, 100, rng);
  for (const char* q : {"alpha", "papa", "november oscar", "mike november oscar papa kilo"}) {
    ExpectRanking(q, 25);  // two segments and a tail
  }
  ASSERT_TRUE(ns_->Compact().ok());
  ExpectRanking("delta echo foxtrot", 50);
}

TEST_F(FtsTest, TopKPruningMatchesExhaustiveRankingOnFrequentTerms) {
  std::mt19937_64 rng(11);
  WriteRandom(0, 3000, rng);
  ASSERT_TRUE(ns_->IndexNow().ok());
  for (size_t k : {1, 3, 10, 100}) {
    ExpectRanking("alpha bravo", k);
    ExpectRanking("alpha papa", k);
    ExpectRanking("alpha bravo charlie delta echo", k);
  }
}

// A lone term's blocks are searched best bound first (SearchBlocksByBound): the answer
// is still the exhaustive ranking, ties at equal scores going to the smaller id, over
// several segments and the tail.
TEST_F(FtsTest, OneTermSearchedByBlockBoundMatchesExhaustiveRanking) {
  std::mt19937_64 rng(5);
  WriteRandom(0, 3000, rng);
  ASSERT_TRUE(ns_->IndexNow().ok());
  WriteRandom(3000, 1500, rng);
  ASSERT_TRUE(ns_->IndexNow().ok());
  WriteRandom(4500, 300, rng);  // left in the tail
  for (size_t k : {1, 3, 10, 100, 1000}) {
    for (const char* term : {"alpha", "hotel", "papa"}) ExpectRanking(term, k);
  }
}

// Regression: the top-k loop scores a list at a row without branching on whether the
// list holds it (then multiplies by 0 or 1), so it also scores lists that ran out. With
// k1 = 0 every norm factor is 0, and a frequency of 0 there made the score 0/0: NaN,
// which dropped every row whose bound included it.
TEST_F(FtsTest, ListsThatRanOutScoreZeroWhenK1IsZero) {
  fts_options_ = R"({"remove_stopwords": false, "k1": 0, "b": 1})";
  corpus_.k1 = 0;
  corpus_.b = 1;
  // "early" is in the first 600 rows only, "late" (rarer: the larger bound) in every
  // tenth row after them: each row "late" brings is probed in the list of "early", which
  // has run out there.
  std::string json = R"({"schema": {"text": {"type": "string", "full_text_search": )" +
                     fts_options_ + R"(}}, "upsert_rows": [)";
  for (uint64_t id = 0; id < 1000; ++id) {
    std::vector<std::string> t = {"filler", id < 600 ? "early" : "other"};
    if (id >= 600 && id % 10 == 0) t.push_back("late");
    if (id % 7 == 0) t.push_back("early2");
    std::string text;
    for (const auto& w : t) text += w + " ";
    corpus_.docs[id] = t;
    json += (id ? "," : "") + std::string(R"({"id": )") + std::to_string(id) + R"(, "text": ")" +
            text + R"("})";
  }
  Write(json + "]}");
  ASSERT_TRUE(ns_->IndexNow().ok());
  for (size_t k : {1, 10, 100}) {
    ExpectRanking("early late", k);
    ExpectRanking("late early early2", k);
  }
}

TEST_F(FtsTest, DeletedAndReplacedRowsAreNotReturned) {
  std::mt19937_64 rng(3);
  WriteRandom(0, 200, rng);
  ASSERT_TRUE(ns_->IndexNow().ok());
  Write(R"({"deletes": [0, 1, 2, 3, 4, 5], "upsert_rows": [{"id": 6, "text": "zulu"}]})");
  auto r = Query(R"({"rank_by": ["text", "BM25", "alpha"], "top_k": 1000})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  for (const auto& row : r->rows) {
    EXPECT_GT(row.id.as_uint(), 6u);
  }
  EXPECT_EQ(Ids(R"({"rank_by": ["text", "BM25", "zulu"], "top_k": 10})"),
            (std::vector<uint64_t>{6}));
  ASSERT_TRUE(ns_->IndexNow().ok());
  EXPECT_EQ(Ids(R"({"rank_by": ["text", "BM25", "zulu"], "top_k": 10})"),
            (std::vector<uint64_t>{6}));
  // After compaction the statistics hold only live rows again: exact formula.
  ASSERT_TRUE(ns_->Compact().ok());
  for (uint64_t id = 0; id <= 5; ++id) corpus_.docs.erase(id);
  corpus_.docs[6] = {"zulu"};
}

TEST_F(FtsTest, SumMaxProductAndFiltersCombine) {
  Write(R"({"schema": {"title": {"type": "string", "full_text_search": true},
                       "body": {"type": "string", "full_text_search": {"stemming": true}}},
            "upsert_rows": [
    {"id": 1, "title": "Walrus facts", "body": "The walrus lives in arctic waters", "n": 1},
    {"id": 2, "title": "Arctic animals", "body": "Walruses and seals swim in cold water", "n": 2},
    {"id": 3, "title": "Cooking", "body": "Boiling water for pasta", "n": 3},
    {"id": 4, "title": "The walrus", "body": "A walrus is a walrus", "n": 4}]})");
  // Stemming: "walruses" finds "walrus" in body.
  auto body = Ids(R"({"rank_by": ["body", "BM25", "walruses"], "top_k": 10})");
  EXPECT_EQ(std::set<uint64_t>(body.begin(), body.end()), (std::set<uint64_t>{1, 2, 4}));
  // Title without stemming: only exact "walrus".
  auto title = Ids(R"({"rank_by": ["title", "BM25", "walrus"], "top_k": 10})");
  EXPECT_EQ(std::set<uint64_t>(title.begin(), title.end()), (std::set<uint64_t>{1, 4}));
  auto score = [&](const std::string& rank_by, uint64_t id) {
    auto r = Query(R"({"rank_by": )" + rank_by + R"(, "top_k": 10})");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    for (const auto& row : r->rows) {
      if (row.id.as_uint() == id) return *row.dist;
    }
    return 0.0;
  };
  const std::string t = R"(["title", "BM25", "walrus water"])";
  const std::string b = R"(["body", "BM25", "walrus water"])";
  for (uint64_t id : {1, 2, 3, 4}) {
    const double st = score(t, id), sb = score(b, id);
    EXPECT_NEAR(score(R"(["Sum", [)" + t + "," + b + "]]", id), st + sb, 1e-9);
    EXPECT_NEAR(score(R"(["Max", [)" + t + "," + b + "]]", id), std::max(st, sb), 1e-9);
    EXPECT_NEAR(score(R"(["Sum", [["Product", [2, )" + t + "]]," + b + "]]", id), 2 * st + sb,
                1e-9);
    EXPECT_NEAR(score(R"(["Product", [)" + b + ", 0.5]]", id), 0.5 * sb, 1e-9);
  }
  // BM25 with an attribute filter and with token filters.
  EXPECT_EQ(Ids(R"({"rank_by": ["body", "BM25", "water"], "filters": ["n", "Gte", 3],
                   "top_k": 10})"),
            (std::vector<uint64_t>{3}));
  EXPECT_EQ(Ids(R"({"filters": ["body", "ContainsAllTokens", "walrus water"], "top_k": 10,
                   "rank_by": ["id", "asc"]})"),
            (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(Ids(R"({"filters": ["title", "ContainsAnyToken", "cooking arctic"], "top_k": 10,
                   "rank_by": ["id", "asc"]})"),
            (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(Ids(R"({"filters": ["body", "ContainsTokenSequence", "arctic waters"],
                   "top_k": 10, "rank_by": ["id", "asc"]})"),
            (std::vector<uint64_t>{1}));
  EXPECT_EQ(Ids(R"({"filters": ["body", "ContainsTokenSequence", "in arc",
                                {"last_as_prefix": true}], "top_k": 10, "rank_by": ["id", "asc"]})"),
            (std::vector<uint64_t>{1}));
  EXPECT_EQ(Ids(R"({"filters": ["title", "ContainsAllTokens", "wal", {"last_as_prefix": true}],
                   "top_k": 10, "rank_by": ["id", "asc"]})"),
            (std::vector<uint64_t>{1, 4}));
  ASSERT_TRUE(ns_->IndexNow().ok());
  EXPECT_EQ(Ids(R"({"filters": ["body", "ContainsAllTokens", "walrus water"], "top_k": 10,
                   "rank_by": ["id", "asc"]})"),
            (std::vector<uint64_t>{1, 2}));
  auto after = Ids(R"({"rank_by": ["body", "BM25", "walruses"], "top_k": 10})");
  EXPECT_EQ(after, body);
}

TEST_F(FtsTest, BadRequestsNameTheFieldAndReason) {
  Write(R"({"upsert_rows": [{"id": 1, "plain": "no index", "text": "x"}],
            "schema": {"text": {"type": "string", "full_text_search": true}}})");
  auto r = Query(R"({"rank_by": ["plain", "BM25", "x"], "top_k": 1})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "rank_by: attribute 'plain' has no full_text_search index");
  r = Query(R"({"filters": ["plain", "ContainsAllTokens", "x"], "top_k": 1})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("has no full_text_search index"), std::string::npos);
  r = Query(R"({"rank_by": ["Product", [-1, ["text", "BM25", "x"]]], "top_k": 1})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("weight must be a finite number >= 0"), std::string::npos);
  auto w = ParseWriteRequest(R"({"upsert_rows": [{"id": 2}],
      "schema": {"t": {"type": "string", "full_text_search": {"language": "xx"}}}})");
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().message(), "schema.t.full_text_search: language: unsupported language 'xx'");
}

TEST_F(FtsTest, EnablingFullTextLaterIndexesExistingSegments) {
  Write(R"({"upsert_rows": [{"id": 1, "text": "hello world"}, {"id": 2, "text": "hello"}]})");
  ASSERT_TRUE(ns_->IndexNow().ok());  // a segment without a text index
  auto r = Query(R"({"rank_by": ["text", "BM25", "world"], "top_k": 5})");
  EXPECT_FALSE(r.ok());
  Write(R"({"schema": {"text": {"type": "string", "full_text_search": true}}})");
  EXPECT_EQ(Ids(R"({"rank_by": ["text", "BM25", "world"], "top_k": 5})"),
            (std::vector<uint64_t>{1}));
  // Changing the analyzer (stemming) re-analyzes rather than using the stored index.
  Write(R"({"upsert_rows": [{"id": 3, "text": "worlds apart"}]})");
  ASSERT_TRUE(ns_->IndexNow().ok());
  Write(R"({"schema": {"text": {"type": "string", "full_text_search": {"stemming": true}}}})");
  auto ids = Ids(R"({"rank_by": ["text", "BM25", "world"], "top_k": 5})");
  EXPECT_EQ(std::set<uint64_t>(ids.begin(), ids.end()), (std::set<uint64_t>{1, 3}));
}

TEST_F(FtsTest, StoredTextIndexSurvivesReopenAndVerifies) {
  std::mt19937_64 rng(5);
  WriteRandom(0, 500, rng);
  ASSERT_TRUE(ns_->IndexNow().ok());
  auto before = Ids(R"({"rank_by": ["text", "BM25", "golf hotel"], "top_k": 20})");
  auto report = ns_->Verify();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->problems.empty());
  auto ns2 = *db_->OpenNamespace("docs");
  ns_ = ns2;
  EXPECT_EQ(Ids(R"({"rank_by": ["text", "BM25", "golf hotel"], "top_k": 20})"), before);
  ExpectRanking("golf hotel", 20);
}

}  // namespace
}  // namespace gannet

namespace gannet {
namespace {

// Token filters answered through the segment's inverted index must equal the row-by-row
// evaluation on the tail, for every operator and with last_as_prefix.
TEST_F(FtsTest, IndexedTokenFiltersEqualRowByRowEvaluation) {
  std::mt19937_64 rng(17);
  WriteRandom(0, 800, rng);
  const std::vector<std::string> filters = {
      R"(["text", "ContainsAllTokens", "alpha papa"])",
      R"(["text", "ContainsAllTokens", "kilo kilo lima"])",
      R"(["text", "ContainsAnyToken", "oscar papa"])",
      R"(["text", "ContainsTokenSequence", "alpha bravo"])",
      R"(["text", "ContainsTokenSequence", "alpha alpha alpha"])",
      R"(["text", "ContainsTokenSequence", "alpha br", {"last_as_prefix": true}])",
      R"(["text", "ContainsAllTokens", "nov", {"last_as_prefix": true}])",
      R"(["Not", ["text", "ContainsAnyToken", "alpha"]])",
      R"(["Or", [["text", "ContainsAllTokens", "papa"], ["id", "Lt", 10]]])",
      R"(["text", "ContainsAllTokens", "zzz"])"};
  std::vector<std::vector<uint64_t>> before;
  for (const std::string& f : filters) {
    before.push_back(Ids(R"({"filters": )" + f + R"(, "rank_by": ["id", "asc"], "top_k": 10000})"));
  }
  ASSERT_TRUE(ns_->IndexNow().ok());
  for (size_t i = 0; i < filters.size(); ++i) {
    EXPECT_EQ(
        Ids(R"({"filters": )" + filters[i] + R"(, "rank_by": ["id", "asc"], "top_k": 10000})"),
        before[i])
        << filters[i];
    EXPECT_FALSE(before[i].empty() && i + 1 < filters.size()) << filters[i];
  }
  // Counted through the aggregate path, too.
  auto r = Query(R"({"aggregate_by": {"n": ["Count"]}, "filters": )" + filters[0] + "}");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->aggregations.at("n").as_uint(), before[0].size());
}

}  // namespace
}  // namespace gannet

namespace gannet {
namespace {

TEST_F(FtsTest, PhraseWithAnUnknownTokenMatchesNothing) {
  Write(R"({"schema": {"text": {"type": "string", "full_text_search": true}},
            "upsert_rows": [{"id": 1, "text": "arctic waters"}, {"id": 2, "text": "waters arctic"}]})");
  ASSERT_TRUE(ns_->IndexNow().ok());
  EXPECT_TRUE(Ids(R"({"filters": ["text", "ContainsTokenSequence", "arctic zebra"], "top_k": 5,
                     "rank_by": ["id", "asc"]})")
                  .empty());
  EXPECT_EQ(Ids(R"({"filters": ["text", "ContainsTokenSequence", "waters arctic"], "top_k": 5,
                   "rank_by": ["id", "asc"]})"),
            (std::vector<uint64_t>{2}));
}

}  // namespace
}  // namespace gannet

namespace gannet {
namespace {

// BM25 restricted by token filters (whose tokens the search leaps through) equals the
// formula's ranking over the rows the filter keeps; tail and segment mixed.
TEST_F(FtsTest, Bm25UnderTokenFiltersEqualsFilteredFormulaRanking) {
  std::mt19937_64 rng(23);
  WriteRandom(0, 1500, rng);
  ASSERT_TRUE(ns_->IndexNow().ok());
  WriteRandom(1500, 300, rng);
  auto has_all = [](const std::vector<std::string>& t, std::vector<std::string> need) {
    return std::all_of(need.begin(), need.end(), [&](const std::string& w) {
      return std::find(t.begin(), t.end(), w) != t.end();
    });
  };
  auto has_seq = [](const std::vector<std::string>& t, const std::vector<std::string>& s) {
    for (size_t i = 0; i + s.size() <= t.size(); ++i) {
      if (std::equal(s.begin(), s.end(), t.begin() + i)) return true;
    }
    return false;
  };
  struct Case {
    std::string filter;
    std::function<bool(const std::vector<std::string>&)> keep;
  };
  const std::vector<Case> cases = {
      {R"(["text", "ContainsAllTokens", "kilo lima"])",
       [&](const auto& t) {
         return has_all(t, {"kilo", "lima"});
       }},
      {R"(["text", "ContainsTokenSequence", "alpha bravo"])",
       [&](const auto& t) {
         return has_seq(t, {"alpha", "bravo"});
       }},
      {R"(["And", [["id", "Lt", 1000], ["text", "ContainsAllTokens", "papa"]]])",
       [&](const auto& t) { return has_all(t, {"papa"}); }},
      {R"(["text", "ContainsAllTokens", "nosuchword"])", [](const auto&) { return false; }},
      // Leaps answer these whole (phrases checked on positions where they land).
      {R"(["text", "ContainsTokenSequence", "alpha alpha"])",
       [&](const auto& t) {
         return has_seq(t, {"alpha", "alpha"});
       }},
      {R"(["And", [["text", "ContainsTokenSequence", "bravo alpha"],
                   ["text", "ContainsAllTokens", "charlie"]]])",
       [&](const auto& t) {
         return has_seq(t, {"bravo", "alpha"}) && has_all(t, {"charlie"});
       }},
      {R"(["And", [["text", "ContainsTokenSequence", "delta echo"],
                   ["text", "ContainsTokenSequence", "alpha bravo"]]])",
       [&](const auto& t) {
         return has_seq(t, {"delta", "echo"}) && has_seq(t, {"alpha", "bravo"});
       }},
  };
  for (const Case& c : cases) {
    Corpus kept = corpus_;
    for (auto it = kept.docs.begin(); it != kept.docs.end();) {
      const bool id_ok = c.filter.find("\"Lt\", 1000") == std::string::npos || it->first < 1000;
      it = (id_ok && c.keep(it->second)) ? std::next(it) : kept.docs.erase(it);
    }
    for (const std::vector<std::string>& terms :
         {std::vector<std::string>{"alpha"},
          std::vector<std::string>{"charlie", "delta", "echo"}}) {
      // Statistics stay namespace-wide: score with the full corpus, keep the filtered ids.
      std::vector<uint64_t> want;
      for (const auto& [id, score] : corpus_.Rank(terms, 100000)) {
        if (kept.docs.count(id) != 0 && want.size() < 10) want.push_back(id);
      }
      std::string q;
      for (const std::string& t : terms) q += t + " ";
      EXPECT_EQ(Ids(R"({"rank_by": ["text", "BM25", ")" + q + R"("], "filters": )" + c.filter +
                    R"(, "top_k": 10})"),
                want)
          << c.filter << " " << q;
    }
  }
}

}  // namespace
}  // namespace gannet

namespace gannet {
namespace {

// Regression (review): full-text filters in writes were bound only in the writing
// process; a replay of the WAL entry (another process, or a restart) evaluated them as
// false and kept rows the writer had deleted.
TEST(FtsReplayTest, TokenFilteredWritesReplayLikeTheWriterAppliedThem) {
  auto store = NewMemoryStore();
  auto open = [&] {
    DatabaseOptions o;
    o.store = store;
    o.background_indexing = false;
    return std::move(Database::Open(o)).value();
  };
  auto writer = open();
  auto ns = *writer->OpenNamespace("docs");
  ASSERT_TRUE(ns->Write(*ParseWriteRequest(
                            R"({"schema": {"text": {"type": "string", "full_text_search": true}},
                                "upsert_rows": [{"id": 1, "text": "red fox", "n": 1},
                                                {"id": 2, "text": "blue whale", "n": 1}]})"))
                  .ok());
  ASSERT_TRUE(ns->Write(*ParseWriteRequest(
                            R"({"delete_by_filter": ["text", "ContainsAllTokens", "red fox"]})"))
                  .ok());
  ASSERT_TRUE(ns->Write(*ParseWriteRequest(
                            R"({"patch_rows": [{"id": 2, "n": 2}],
                                "patch_condition": ["text", "ContainsAnyToken", "whale"]})"))
                  .ok());
  const std::string q = R"({"rank_by": ["id", "asc"], "top_k": 10, "include_attributes": ["n"]})";
  auto expect_state = [&](const std::shared_ptr<Namespace>& handle) {
    auto r = handle->Query(*ParseQueryRequest(q));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->rows.size(), 1u);
    EXPECT_EQ(r->rows[0].id.as_uint(), 2u);
    EXPECT_EQ(r->rows[0].attrs.at(0).second.as_int(), 2);
  };
  expect_state(ns);
  auto reader = open();  // another process: replays the WAL
  expect_state(*reader->OpenNamespace("docs"));
  auto ns2 = *reader->OpenNamespace("docs");
  ASSERT_TRUE(ns2->IndexNow().ok());  // the replayed state becomes a segment
  expect_state(*open()->OpenNamespace("docs"));
}

TEST(FtsReplayTest, ImmutableKeysAreRecognisedByLayoutNotBySubstring) {
  EXPECT_TRUE(IsImmutableDataKey("ns/docs/segments/0001-ab"));
  EXPECT_TRUE(IsImmutableDataKey("ns/docs/segments/0001-ab.fts"));
  EXPECT_TRUE(IsImmutableDataKey("pre/fix/ns/docs/deletes/0001-ab/3-cd"));
  EXPECT_TRUE(IsImmutableDataKey("ns/segments/segments/0001-ab"));  // a namespace "segments"
  EXPECT_FALSE(IsImmutableDataKey("ns/segments/manifest"));
  EXPECT_FALSE(IsImmutableDataKey("ns/deletes/manifest"));
  EXPECT_FALSE(IsImmutableDataKey("ns/segments/wal/00000000000000000001"));
  EXPECT_FALSE(IsImmutableDataKey("x/segments/y/ns/docs/manifest"));
  EXPECT_FALSE(IsImmutableDataKey("catalog/segments"));
}

}  // namespace
}  // namespace gannet

namespace gannet {
namespace {

// turbopuffer's RankByText beyond BM25: filters and attributes as clauses, BM25 clauses
// with a token array or last_as_prefix, Product as [weight, expr] or weight, expr.
TEST_F(FtsTest, FilterAttributePrefixAndArrayClauses) {
  Write(R"({"schema": {"text": {"type": "string", "full_text_search": true}},
            "upsert_rows": [
    {"id": 1, "text": "walrus facts", "genre": "news", "pop": 3},
    {"id": 2, "text": "walruses swim", "genre": "blog", "pop": 10},
    {"id": 3, "text": "pasta recipes", "genre": "news", "pop": 1},
    {"id": 4, "text": "cold seas", "genre": "blog"}]})");
  for (int pass = 0; pass < 2; ++pass) {  // the tail, then a segment
    auto scores = [&](const std::string& rank_by) {
      std::map<uint64_t, double> out;
      auto r = Query(R"({"rank_by": )" + rank_by + R"(, "top_k": 100})");
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (r.ok()) {
        for (const auto& row : r->rows) out[row.id.as_uint()] = *row.dist;
      }
      return out;
    };
    const auto bm25 = scores(R"(["text", "BM25", "walrus"])");
    ASSERT_EQ(bm25.size(), 1u);  // "walrus" only (no stemming)
    // A filter clause adds 2 to matching rows, whether or not they match the text.
    auto boosted =
        scores(R"(["Sum", [["text", "BM25", "walrus"], ["Product", 2, ["genre", "Eq", "news"]]]])");
    EXPECT_EQ(boosted.size(), 2u);
    EXPECT_NEAR(boosted[1], bm25.at(1) + 2, 1e-9);
    EXPECT_NEAR(boosted[3], 2, 1e-9);
    // An attribute clause adds its value (0 when missing; rows scoring 0 are left out).
    auto with_pop = scores(
        R"(["Sum", [["text", "BM25", "walrus"], ["Product", [0.5, ["Attribute", "pop"]]]]])");
    EXPECT_EQ(with_pop.size(), 3u);
    EXPECT_NEAR(with_pop[1], bm25.at(1) + 1.5, 1e-9);
    EXPECT_NEAR(with_pop[2], 5, 1e-9);
    EXPECT_NEAR(with_pop[3], 0.5, 1e-9);
    // last_as_prefix expands "walr" to walrus and walruses; a token array is analyzed.
    auto prefix = scores(R"(["text", "BM25", "wal", {"last_as_prefix": true}])");
    EXPECT_EQ(prefix.size(), 2u);
    auto array = scores(R"(["text", "BM25", ["Walrus", "SEAS"]])");
    EXPECT_EQ(array.size(), 2u);
    EXPECT_TRUE(array.count(1) && array.count(4));
    ASSERT_TRUE(ns_->IndexNow().ok());
  }
  auto bad = Query(R"({"rank_by": ["Product", 2, ["genre", "Lt", 3]], "top_k": 5})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("rank_by"), std::string::npos) << bad.status().message();
  bad = Query(R"({"rank_by": ["Attribute", "genre"], "top_k": 5})");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "rank_by: Attribute 'genre' has type string; expected int, uint, float or datetime");
}

// Saturate, Decay and Dist as turbopuffer defines them: Saturate(x) = x^p / (x^p + m^p),
// Decay(x) = m^p / (x^p + m^p) (x clamped at 0), Dist = |x - origin|; midpoints as
// durations on datetimes; constants among Sum/Max operands.
TEST_F(FtsTest, SaturateDecayAndDistFollowTheirFormulas) {
  Write(R"({"schema": {"text": {"type": "string", "full_text_search": true},
                       "at": {"type": "datetime"}},
            "upsert_rows": [
    {"id": 1, "text": "walrus facts", "clicks": 100, "at": "2026-02-03T06:13:14Z"},
    {"id": 2, "text": "walrus walrus", "clicks": 300, "at": "2026-02-01T12:13:14Z"},
    {"id": 3, "text": "pasta recipes", "clicks": -5},
    {"id": 4, "text": "cold seas", "clicks": 0, "at": "2026-02-03T12:13:14Z"}]})");
  const double hour = 3600e3;
  for (int pass = 0; pass < 2; ++pass) {  // the tail, then a segment
    auto scores = [&](const std::string& rank_by) {
      std::map<uint64_t, double> out;
      auto r = Query(R"({"rank_by": )" + rank_by + R"(, "top_k": 100})");
      EXPECT_TRUE(r.ok()) << rank_by << ": " << r.status().ToString();
      if (r.ok()) {
        for (const auto& row : r->rows) out[row.id.as_uint()] = *row.dist;
      }
      return out;
    };
    // clicks / (clicks + 100); negative clicks count as 0 and score 0, so row 3 and
    // row 4 are left out.
    auto sat = scores(R"(["Saturate", ["Attribute", "clicks"], {"midpoint": 100}])");
    ASSERT_EQ(sat.size(), 2u);
    EXPECT_NEAR(sat[1], 0.5, 1e-12);
    EXPECT_NEAR(sat[2], 0.75, 1e-12);
    sat = scores(R"(["Saturate", ["Attribute", "clicks"], {"midpoint": 100, "exponent": 2}])");
    EXPECT_NEAR(sat[2], 9e4 / (9e4 + 1e4), 1e-12);
    // Decay: 1 at 0 (row 4), 0.5 at the midpoint; negative values are clamped to 0 too.
    auto decay = scores(R"(["Decay", ["Attribute", "clicks"], {"midpoint": 300}])");
    ASSERT_EQ(decay.size(), 4u);
    EXPECT_NEAR(decay[4], 1.0, 1e-12);
    EXPECT_NEAR(decay[3], 1.0, 1e-12);
    EXPECT_NEAR(decay[2], 0.5, 1e-12);
    EXPECT_NEAR(decay[1], 300.0 / 400.0, 1e-12);
    // Recency: BM25 plus a decay of the distance to an origin time, midpoint "6h".
    const auto bm25 = scores(R"(["text", "BM25", "walrus"])");
    auto fresh = scores(R"(["Sum", [["text", "BM25", "walrus"],
        ["Decay", ["Dist", ["Attribute", "at"], "2026-02-03T12:13:14Z"], {"midpoint": "6h"}]]])");
    // Row 3 has no "at": the decay of its missing distance adds nothing (not Decay(0)).
    ASSERT_EQ(fresh.size(), 3u);
    EXPECT_NEAR(fresh[1], bm25.at(1) + 0.5, 1e-9);             // 6 hours before
    EXPECT_NEAR(fresh[2], bm25.at(2) + 6.0 / (6 + 48), 1e-9);  // 48 hours before
    EXPECT_NEAR(fresh[4], 1.0, 1e-9);                          // at the origin
    // The midpoint as milliseconds; Dist with a numeric origin.
    auto ms = scores(R"(["Decay", ["Dist", ["Attribute", "at"], "2026-02-03T12:13:14Z"],
                         {"midpoint": )" +
                     std::to_string(6 * hour) + "}]");
    EXPECT_NEAR(ms[1], 0.5, 1e-12);
    auto dist = scores(R"(["Dist", ["Attribute", "clicks"], 150])");
    EXPECT_NEAR(dist[1], 50, 1e-12);
    EXPECT_NEAR(dist[3], 155, 1e-12);
    // Max with a bare constant (turbopuffer's ["Max", 0, expr]); Sum's operands inline.
    auto floor =
        scores(R"(["Max", 0.25, ["Saturate", ["Attribute", "clicks"], {"midpoint": 100}]])");
    ASSERT_EQ(floor.size(), 4u);
    EXPECT_NEAR(floor[3], 0.25, 1e-12);
    EXPECT_NEAR(floor[2], 0.75, 1e-12);
    auto inline_sum = scores(R"(["Sum", ["text", "BM25", "walrus"], 1])");
    EXPECT_NEAR(inline_sum[2], bm25.at(2) + 1, 1e-9);
    EXPECT_NEAR(inline_sum[4], 1, 1e-12);
    ASSERT_TRUE(ns_->IndexNow().ok());
  }
  const std::pair<const char*, const char*> cases[] = {
      {R"(["Saturate", ["Attribute", "clicks"], {}])", "rank_by[2].midpoint: required"},
      {R"(["Saturate", ["Attribute", "clicks"], {"midpoint": 0}])",
       "rank_by[2].midpoint: must be > 0"},
      {R"(["Decay", ["Attribute", "clicks"], {"midpoint": "6 hours"}])",
       "rank_by[2].midpoint: expected a number or a duration such as \"6h\" (units ms, s, m, "
       "h, d, w)"},
      {R"(["Decay", ["Attribute", "clicks"], {"midpoint": 1, "exponent": -1}])",
       "rank_by[2].exponent: must be a finite number > 0"},
      {R"(["Decay", ["Attribute", "clicks"], {"midpoint": 1, "scale": 2}])",
       "rank_by[2].scale: unknown parameter (supported: midpoint, exponent)"},
      {R"(["Decay", ["Attribute", "clicks"]])",
       "rank_by: expected [\"Decay\", expr, {\"midpoint\": m, \"exponent\": p}]"},
      {R"(["Dist", ["Attribute", "clicks"], true])",
       "rank_by[2]: expected number or datetime string, got bool"},
      {R"(["Dist", ["Attribute", "at"], "yesterday"])",
       "rank_by[2]: expected a number or a datetime"},
      {R"(["Max", -1, ["Attribute", "clicks"]])", "rank_by[1]: must be a finite number >= 0"},
      {R"(["Saturate", ["Attribute", "text"], {"midpoint": 1}])",
       "rank_by: Attribute 'text' has type string; expected int, uint, float or datetime"},
  };
  for (const auto& [rank_by, message] : cases) {
    auto bad = Query(R"({"rank_by": )" + std::string(rank_by) + R"(, "top_k": 5})");
    ASSERT_FALSE(bad.ok()) << rank_by;
    EXPECT_TRUE(bad.status().IsInvalidArgument()) << rank_by;
    EXPECT_EQ(bad.status().message().substr(0, std::string(message).size()), message) << rank_by;
  }
}

}  // namespace
}  // namespace gannet

namespace gannet {
namespace {

// Clauses without BM25 whose bound is known from the expression (Saturate, Decay, filters,
// constants: at most 1 or themselves), or from the data (a bare Attribute: the greatest
// value of its attribute in the segments and the tail; a Dist of one: the farther end of
// its range), no longer make every row a candidate: top-k with pruning must equal the
// same expression ranked without it (a top_k above the row count fills no heap, so
// nothing is pruned), over segments and the tail, with and without token filters, for
// expressions with and without BM25 clauses under Max.
TEST_F(FtsTest, AttributeClausesWithKnownBoundsPruneAndRankAsExhaustive) {
  static const char* kWords[] = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot",
                                 "golf",  "hotel", "india",   "kilo",  "lima", "mike"};
  std::mt19937_64 rng(23);
  auto write = [&](uint64_t first, uint64_t count) {
    std::string json = R"({"schema": {"text": {"type": "string", "full_text_search":
        {"remove_stopwords": false}}, "at": {"type": "datetime"}}, "upsert_rows": [)";
    for (uint64_t i = 0; i < count; ++i) {
      std::string text;
      const size_t len = 1 + rng() % 30;
      for (size_t j = 0; j < len; ++j)
        text += std::string(kWords[std::min(rng() % 12, rng() % 12)]) + " ";
      json += (i ? "," : "") + std::string(R"({"id": )") + std::to_string(first + i) +
              R"(, "text": ")" + text + R"(", "genre": ")" + (rng() % 3 ? "blog" : "news") + "\"";
      if (rng() % 5) json += R"(, "clicks": )" + std::to_string(rng() % 400);
      if (rng() % 7) {
        json += R"(, "at": "2026-01-)" + std::to_string(10 + rng() % 20) + "T0" +
                std::to_string(rng() % 10) + ":00:00Z\"";
      }
      json += "}";
    }
    Write(json + "]}");
  };
  write(0, 1200);
  ASSERT_TRUE(ns_->IndexNow().ok());
  write(1200, 800);
  ASSERT_TRUE(ns_->IndexNow().ok());
  write(1900, 300);  // the tail, replacing 100 indexed rows

  const std::string saturate = R"(["Product", 1.7, ["Saturate", ["Attribute", "clicks"],
                                                     {"midpoint": 50}]])";
  const std::string recency = R"(["Decay", ["Dist", ["Attribute", "at"], "2026-01-25T00:00:00Z"],
                                   {"midpoint": "3d", "exponent": 2}])";
  const std::string rank_bys[] = {
      R"(["Sum", [["text", "BM25", "golf hotel"], )" + saturate + "]]",
      R"(["Sum", [["text", "BM25", "lima"], )" + recency + "]]",
      R"(["Sum", [["Product", 2, ["text", "BM25", "alpha india kilo"]],
                  ["Product", 0.5, ["genre", "Eq", "news"]], 0.3]])",
      R"(["Max", [["text", "BM25", "mike"], )" + saturate + "]]",
      R"(["Sum", [["text", "BM25", "kilo"], ["Max", [)" + saturate + ", " + recency + "]]]]",
      saturate,
      R"(["Sum", [["text", "BM25", "golf hotel"], ["Product", 0.002, ["Attribute", "clicks"]]]])",
      R"(["Sum", [["text", "BM25", "lima"],
                  ["Product", 1e-9, ["Dist", ["Attribute", "at"], "2026-01-25T00:00:00Z"]]]])",
  };
  const std::string filters[] = {"", R"(, "filters": ["text", "ContainsAllTokens", "alpha"])",
                                 R"(, "filters": ["genre", "Eq", "blog"])"};
  auto rows = [&](const std::string& rank_by, const std::string& filter, size_t k) {
    auto r =
        Query(R"({"rank_by": )" + rank_by + filter + R"(, "top_k": )" + std::to_string(k) + "}");
    EXPECT_TRUE(r.ok()) << rank_by << ": " << r.status().ToString();
    return r.ok() ? std::move(r).value() : QueryResponse{};
  };
  for (const std::string& rank_by : rank_bys) {
    for (const std::string& filter : filters) {
      const QueryResponse all = rows(rank_by, filter, 5000);
      ASSERT_GT(all.rows.size(), 40u) << rank_by << filter;
      for (size_t k : {1, 2, 5, 10, 37}) {
        const QueryResponse top = rows(rank_by, filter, k);
        ASSERT_EQ(top.rows.size(), k) << rank_by << filter;
        for (size_t i = 0; i < k; ++i) {
          EXPECT_EQ(top.rows[i].id, all.rows[i].id) << rank_by << filter << " k " << k << " #" << i;
          EXPECT_EQ(*top.rows[i].dist, *all.rows[i].dist) << rank_by << filter << " #" << i;
        }
      }
    }
  }
  // The pruning is real: evaluating every row (as before, and as top_k 5000 does) visits
  // more rows than the best one needs. (Not for the Saturate clause alone: its bound, 1.7,
  // is above every row's score, so each row is a candidate.)
  EXPECT_LT(rows(rank_bys[0], "", 1).stats.rows_scanned,
            rows(rank_bys[0], "", 5000).stats.rows_scanned);
  // Bounded from the data, a bare Attribute or Dist clause prunes too (it made every row a
  // candidate before).
  for (size_t i : {6, 7}) {
    EXPECT_LT(rows(rank_bys[i], "", 1).stats.rows_scanned,
              rows(rank_bys[i], "", 5000).stats.rows_scanned)
        << rank_bys[i];
  }
}

}  // namespace
}  // namespace gannet
