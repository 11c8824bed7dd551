#include "db/seed_rows.h"

#include <gtest/gtest.h>

#include "index/ivf_index.h"

namespace gannet::db {
namespace {

std::vector<const Id*> Pointers(const std::vector<Id>& ids) {
  std::vector<const Id*> out;
  for (const Id& id : ids) out.push_back(&id);
  return out;
}

TEST(SeedRowsTest, MapsMergedRowsToTheSeedsRowsOfTheSameIds) {
  // The seed held ids 2, 5, 9 (rows 0, 3, 7: rows between them were deleted) and 11 (row 8),
  // listed out of order; the merged segment interleaves them with another input's ids.
  const std::vector<Id> merged = {Id(1), Id(2), Id(4), Id(5), Id(9), Id(10), Id(11)};
  std::vector<std::pair<Id, uint32_t>> seed = {{Id(9), 7}, {Id(2), 0}, {Id(11), 8}, {Id(5), 3}};
  const uint32_t none = index::kNoSeedRow;
  EXPECT_EQ(SeedRowsOf(Pointers(merged), seed),
            (std::vector<uint32_t>{none, 0, none, 3, 7, none, 8}));
  EXPECT_TRUE(SeedRowsOf(Pointers(merged), {}).empty());
}

TEST(SeedRowsTest, StringIdsAndIdsTheMergeDropped) {
  const std::vector<Id> merged = {Id(std::string("a")), Id(std::string("c"))};
  // "b" was deleted after the seed was written: not in the merge.
  std::vector<std::pair<Id, uint32_t>> seed = {
      {Id(std::string("c")), 2}, {Id(std::string("b")), 1}, {Id(std::string("a")), 0}};
  EXPECT_EQ(SeedRowsOf(Pointers(merged), seed), (std::vector<uint32_t>{0, 2}));
}

}  // namespace
}  // namespace gannet::db
