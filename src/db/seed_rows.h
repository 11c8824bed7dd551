// Compaction's map from the merged segment's rows to the rows of its seed (the input whose
// vector index the merged index's clustering is maintained from; IvfBuildOptions::seed_rows).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "gannet/types.h"

namespace gannet::db {

// For each merged row (`merged_ids`: the merged segment's ids, ascending), the seed's row
// holding the same id (`seed_ids`: (id, seed row) of the seed's live rows, any order), or
// index::kNoSeedRow (UINT32_MAX). Empty when `seed_ids` is.
std::vector<uint32_t> SeedRowsOf(const std::vector<const Id*>& merged_ids,
                                 std::vector<std::pair<Id, uint32_t>> seed_ids);

}  // namespace gannet::db
