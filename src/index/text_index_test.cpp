#include "index/text_index.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "format/frame.h"

namespace gannet::index {
namespace {

TEST(FieldNormTest, MatchesLuceneSmallFloat) {
  for (uint32_t n = 0; n < 24; ++n) EXPECT_EQ(DecodeFieldNorm(EncodeFieldNorm(n)), n);
  EXPECT_EQ(DecodeFieldNorm(EncodeFieldNorm(39)), 39u);
  EXPECT_EQ(DecodeFieldNorm(EncodeFieldNorm(40)), 40u);
  EXPECT_EQ(DecodeFieldNorm(EncodeFieldNorm(41)), 40u);
  uint32_t prev = 0;
  for (uint32_t n = 1; n < 1000000; n = n * 3 / 2 + 1) {
    const uint32_t d = DecodeFieldNorm(EncodeFieldNorm(n));
    EXPECT_LE(d, n);
    EXPECT_GE(d, prev);
    EXPECT_GE(d * 1.15, n * 1.0);  // 4 significant bits
    prev = d;
  }
}

// A random index and the plain (row, tf) lists it must reproduce.
struct Fixture {
  std::map<std::string, std::vector<std::pair<uint32_t, uint32_t>>> expected;
  std::shared_ptr<const TextFieldIndex> field;
};

Fixture Build(uint32_t rows, uint32_t vocab, uint64_t seed) {
  Fixture f;
  std::mt19937_64 rng(seed);
  TextFieldBuilder b("text", "fp", rows);
  for (uint32_t row = 0; row < rows; ++row) {
    std::vector<std::string> tokens;
    const uint32_t len = rng() % 12;
    std::map<std::string, uint32_t> tf;
    for (uint32_t i = 0; i < len; ++i) {
      // Skewed: low term numbers are frequent.
      const uint32_t t = static_cast<uint32_t>(std::min<uint64_t>(rng() % vocab, rng() % vocab));
      tokens.push_back("t" + std::to_string(t));
      ++tf[tokens.back()];
    }
    for (const auto& [t, n] : tf) f.expected[t].emplace_back(row, n);
    b.Add(row, tokens);
  }
  f.field = b.Finish();
  return f;
}

TEST(TextIndexTest, PostingsRoundTripThroughTheStoredObject) {
  Fixture fx = Build(5000, 300, 1);
  ASSERT_NE(fx.field, nullptr);
  TextIndex idx({fx.field});
  auto decoded = TextIndex::Decode(idx.Encode(), 5000);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  auto field = (*decoded)->Field("text", "fp");
  ASSERT_NE(field, nullptr);
  EXPECT_EQ((*decoded)->Field("text", "other"), nullptr);
  EXPECT_EQ(field->num_terms(), fx.expected.size());
  for (const auto& [term, list] : fx.expected) {
    const TermInfo* info = field->Find(term);
    ASSERT_NE(info, nullptr) << term;
    EXPECT_EQ(info->df, list.size());
    PostingCursor c(*field, *info);
    for (const auto& [row, tf] : list) {
      ASSERT_EQ(c.doc(), row) << term;
      ASSERT_EQ(c.tf(), tf);
      ASSERT_LE(tf, info->max_tf);
      ASSERT_GE(field->norm(row), info->min_norm);
      c.Next();
    }
    EXPECT_EQ(c.doc(), PostingCursor::kEnd);
  }
  EXPECT_EQ(field->Find("nope"), nullptr);
}

TEST(TextIndexTest, AdvanceAndBlockBoundsAgreeWithTheLists) {
  Fixture fx = Build(20000, 50, 2);
  std::mt19937_64 rng(3);
  for (const auto& [term, list] : fx.expected) {
    const TermInfo* info = fx.field->Find(term);
    ASSERT_NE(info, nullptr);
    PostingCursor c(*fx.field, *info);
    uint32_t target = 0;
    while (true) {
      target += static_cast<uint32_t>(rng() % 700);
      auto it = std::lower_bound(list.begin(), list.end(), std::make_pair(target, 0u));
      BlockBound bb;
      const bool has = c.BoundAt(target, &bb);
      const uint32_t max_tf = bb.max_tf, last = bb.last_row;
      const uint8_t min_norm = bb.min_norm;
      c.Advance(target);
      if (it == list.end()) {
        EXPECT_EQ(c.doc(), PostingCursor::kEnd);
        break;
      }
      ASSERT_TRUE(has);
      ASSERT_EQ(c.doc(), it->first);
      EXPECT_EQ(c.tf(), it->second);
      EXPECT_GE(max_tf, it->second);
      EXPECT_LE(min_norm, fx.field->norm(it->first));
      EXPECT_GE(last, it->first);
      // Some frontier point dominates the posting.
      bool dominated = bb.points == 0;
      for (uint32_t k = 0; k < bb.points; ++k) {
        dominated |= bb.tf[k] >= it->second && bb.norm[k] <= fx.field->norm(it->first);
      }
      EXPECT_TRUE(dominated);
      target = c.doc();
    }
  }
}

TEST(TextIndexTest, PositionsListEveryOccurrence) {
  std::mt19937_64 rng(9);
  const uint32_t rows = 700;
  TextFieldBuilder b("text", "fp", rows);
  std::map<std::string, std::map<uint32_t, std::vector<uint32_t>>> want;
  for (uint32_t row = 0; row < rows; ++row) {
    std::vector<std::string> tokens;
    const uint32_t len = rng() % 40;
    for (uint32_t i = 0; i < len; ++i) {
      tokens.push_back("w" + std::to_string(rng() % 9));
      want[tokens.back()][row].push_back(i);
    }
    b.Add(row, tokens);
  }
  auto decoded = TextIndex::Decode(TextIndex({b.Finish()}).Encode(), rows);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  auto field = (*decoded)->Field("text", "fp");
  for (const auto& [term, by_row] : want) {
    PostingCursor c(*field, *field->Find(term));
    for (const auto& [row, positions] : by_row) {
      if (row % 3 == 0) c.Advance(row);  // skipping blocks must not confuse positions
      ASSERT_EQ(c.doc(), row);
      ASSERT_EQ(c.tf(), positions.size());
      const uint32_t* p = c.Positions();
      EXPECT_EQ(std::vector<uint32_t>(p, p + c.tf()), positions) << term << " row " << row;
      c.Next();
    }
  }
}

TEST(TextIndexTest, PrefixEnumerationIsOrderedAndBounded) {
  Fixture fx = Build(2000, 300, 4);
  std::vector<std::string> seen;
  fx.field->ForEachWithPrefix("t1", 1000,
                              [&](std::string_view t, const TermInfo&) { seen.emplace_back(t); });
  ASSERT_FALSE(seen.empty());
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  for (const auto& s : seen) EXPECT_EQ(s.substr(0, 2), "t1");
  size_t limited = 0;
  fx.field->ForEachWithPrefix("t", 3, [&](std::string_view, const TermInfo&) { ++limited; });
  EXPECT_EQ(limited, 3u);
}

TEST(TextIndexTest, DamagedObjectsAreCorruptionNotCrashes) {
  Fixture fx = Build(3000, 100, 5);
  const std::string enc = TextIndex({fx.field}).Encode();
  EXPECT_TRUE(TextIndex::Decode(enc, 2999).status().IsCorruption());  // wrong row count
  std::mt19937_64 rng(6);
  for (int i = 0; i < 200; ++i) {
    std::string bad = enc;
    bad[rng() % bad.size()] ^= static_cast<char>(1 + rng() % 255);
    auto d = TextIndex::Decode(bad, 3000);
    EXPECT_FALSE(d.ok());
    EXPECT_TRUE(d.status().IsCorruption()) << d.status().ToString();
  }
  EXPECT_TRUE(TextIndex::Decode(enc.substr(0, enc.size() / 2), 3000).status().IsCorruption());
}

}  // namespace
}  // namespace gannet::index
