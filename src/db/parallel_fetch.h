// Parallel GETs: one round trip for a set of independent objects (a cold load fetches
// all of a manifest's segments, deletion vectors and vector indexes, plus the next WAL
// probe, at once).
#pragma once

#include <string>
#include <vector>

#include "gannet/object_store.h"

namespace gannet::db {

// GETs every key, at most `max_parallel` at a time, and returns the results in the
// order of `keys`. REQUIRES: `store` is safe for concurrent use (every ObjectStore is).
std::vector<Result<GetResult>> FetchAll(ObjectStore& store, const std::vector<std::string>& keys,
                                        size_t max_parallel = 16);

}  // namespace gannet::db
