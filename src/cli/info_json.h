// JSON forms of namespace metadata shared by `ns info` and the maintenance commands.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "gannet/database.h"

namespace gannet::cli {

// {"name", "approx_row_count", "approx_logical_bytes", "schema", "created_at", ...}.
nlohmann::ordered_json NamespaceInfoJson(const NamespaceInfo& info);

// The objects a namespace holds in the store, by kind: {"wal": n, "segments": n, ...}
// plus "objects" and "bytes" totals.
Result<nlohmann::ordered_json> NamespaceObjectsJson(Database& db, const std::string& ns);

}  // namespace gannet::cli
