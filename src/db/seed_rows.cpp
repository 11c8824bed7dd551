#include "db/seed_rows.h"

#include <algorithm>

#include "index/ivf_index.h"

namespace gannet::db {

std::vector<uint32_t> SeedRowsOf(const std::vector<const Id*>& merged_ids,
                                 std::vector<std::pair<Id, uint32_t>> seed_ids) {
  if (seed_ids.empty()) return {};
  std::sort(seed_ids.begin(), seed_ids.end());
  std::vector<uint32_t> rows(merged_ids.size(), index::kNoSeedRow);
  size_t k = 0;
  for (size_t row = 0; row < merged_ids.size() && k < seed_ids.size(); ++row) {
    while (k < seed_ids.size() && seed_ids[k].first < *merged_ids[row]) ++k;
    if (k < seed_ids.size() && seed_ids[k].first == *merged_ids[row]) {
      rows[row] = seed_ids[k++].second;
    }
  }
  return rows;
}

}  // namespace gannet::db
