#include "cli/info_json.h"

#include <map>

#include "cli/cli.h"
#include "db/keys.h"
#include "gannet/json.h"

namespace gannet::cli {

nlohmann::ordered_json NamespaceInfoJson(const NamespaceInfo& info) {
  nlohmann::ordered_json j;
  j["name"] = info.name;
  j["approx_row_count"] = info.approx_row_count;
  j["approx_logical_bytes"] = info.approx_logical_bytes;
  j["schema"] = ToTree(SchemaToJson(info.schema));
  j["created_at"] = TimeJson(info.created_at_ms);
  j["updated_at"] = TimeJson(info.updated_at_ms);
  j["wal_sequence"] = info.wal_sequence;
  j["indexed_sequence"] = info.indexed_sequence;
  j["unindexed_rows"] = info.unindexed_rows;
  j["segments"] = info.segment_count;
  j["manifest_version"] = info.manifest_version;
  return j;
}

Result<nlohmann::ordered_json> NamespaceObjectsJson(Database& db, const std::string& ns) {
  db::Keys keys("", ns);
  const std::string& base = keys.base();
  std::map<std::string, uint64_t> counts = {
      {"wal", 0}, {"manifest", 0}, {"segments", 0}, {"deletes", 0}};
  uint64_t objects = 0, bytes = 0;
  std::string after;
  for (;;) {
    GANNET_ASSIGN_OR_RETURN(ListResult list, db.store()->List(base, after, 1000));
    for (const ObjectMeta& o : list.objects) {
      std::string rest = o.key.substr(base.size());
      std::string kind = rest.substr(0, rest.find('/'));
      ++counts[kind];
      ++objects;
      bytes += o.size;
    }
    if (!list.truncated || list.objects.empty()) break;
    after = list.objects.back().key;
  }
  nlohmann::ordered_json j;
  j["objects"] = objects;
  j["bytes"] = bytes;
  j["wal_entries"] = counts["wal"];
  j["segment_objects"] = counts["segments"];
  j["deletion_vectors"] = counts["deletes"];
  return j;
}

}  // namespace gannet::cli
