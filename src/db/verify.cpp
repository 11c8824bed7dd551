// NamespaceImpl::Verify: a full read of a namespace's objects, for `gannet inspect
// --verify` and for operators who suspect damage.
#include <set>

#include "db/database_impl.h"
#include "db/namespace_impl.h"
#include "format/manifest.h"
#include "format/segment.h"
#include "format/wal_entry.h"
#include "index/ivf_index.h"

namespace gannet::db {

Result<VerifyReport> NamespaceImpl::Verify() {
  ObjectStore& store = *db_.store();
  VerifyReport report;
  auto problem = [&](const std::string& key, const std::string& what) {
    report.problems.push_back(key + ": " + what);
  };
  // Reads one object; nullopt (with a problem recorded) when it cannot be read.
  auto read = [&](const std::string& key) -> std::optional<std::string> {
    Result<GetResult> g = store.Get(key);
    if (!g.ok()) {
      problem(key, g.status().ToString());
      return std::nullopt;
    }
    report.objects_checked++;
    report.bytes_checked += g->data.size();
    return std::move(g->data);
  };

  std::vector<ObjectMeta> objects;
  std::string after;
  for (;;) {
    GANNET_ASSIGN_OR_RETURN(ListResult list, store.List(keys_.base(), after, 1000));
    for (ObjectMeta& o : list.objects) objects.push_back(std::move(o));
    if (!list.truncated || objects.empty()) break;
    after = objects.back().key;
  }
  Result<ObjectMeta> marker = store.Head(keys_.catalog());
  if (objects.empty() && !marker.ok()) {
    return Status::NotFound("namespace '" + name_ + "' not found");
  }
  if (!marker.ok())
    problem(keys_.catalog(), "catalog entry missing: " + marker.status().ToString());

  // The manifest and everything it references.
  format::Manifest manifest;
  std::set<std::string> referenced = {keys_.manifest()};
  bool have_manifest = false;
  for (const ObjectMeta& o : objects) have_manifest |= o.key == keys_.manifest();
  if (have_manifest) {
    if (std::optional<std::string> bytes = read(keys_.manifest())) {
      Result<format::Manifest> m = format::DecodeManifest(*bytes);
      if (m.ok()) {
        manifest = std::move(m).value();
      } else {
        problem(keys_.manifest(), m.status().ToString());
      }
    }
  }
  for (const format::SegmentRef& ref : manifest.segments) {
    const std::string key = keys_.segment(ref.id);
    referenced.insert(key);
    std::optional<std::string> bytes = read(key);
    if (!bytes) continue;
    Result<std::shared_ptr<const format::Segment>> seg = format::Segment::Decode(*bytes);
    if (!seg.ok()) {
      problem(key, seg.status().ToString());
      continue;
    }
    if ((*seg)->rows() != ref.rows) {
      problem(key, "holds " + std::to_string((*seg)->rows()) + " rows; the manifest says " +
                       std::to_string(ref.rows));
    }
    if (ref.vector_index) {
      const std::string ikey = keys_.vector_index(ref.id);
      referenced.insert(ikey);
      if (std::optional<std::string> ib = read(ikey)) {
        Result<std::shared_ptr<const index::IvfIndex>> idx = index::IvfIndex::Decode(*ib);
        if (!idx.ok()) {
          problem(ikey, idx.status().ToString());
        } else if (Status st = (*idx)->CheckCompatible((*seg)->rows(), (*seg)->dims()); !st.ok()) {
          problem(ikey, st.ToString());
        }
      }
    }
    if (ref.text_index) {
      const std::string tkey = keys_.text_index(ref.id);
      referenced.insert(tkey);
      if (std::optional<std::string> tb = read(tkey)) {
        Result<std::shared_ptr<const index::TextIndex>> idx =
            index::TextIndex::Decode(*tb, (*seg)->rows());
        if (!idx.ok()) problem(tkey, idx.status().ToString());
      }
    }
    if (ref.deletes_key.empty()) continue;
    referenced.insert(ref.deletes_key);
    std::optional<std::string> dv = read(ref.deletes_key);
    if (!dv) continue;
    Result<std::vector<uint32_t>> rows = format::DecodeDeletionVector(*dv);
    if (!rows.ok()) {
      problem(ref.deletes_key, rows.status().ToString());
    } else if (!rows->empty() && rows->back() >= (*seg)->rows()) {
      problem(ref.deletes_key, "deletes row " + std::to_string(rows->back()) + " of a " +
                                   std::to_string((*seg)->rows()) + "-row segment");
    } else if (rows->size() != ref.deleted_rows) {
      problem(ref.deletes_key, "deletes " + std::to_string(rows->size()) +
                                   " rows; the manifest says " + std::to_string(ref.deleted_rows));
    }
  }

  // The WAL: every entry present must decode and carry its own sequence; the entries
  // after the manifest must be dense.
  uint64_t expect = manifest.indexed_through + 1;
  for (const ObjectMeta& o : objects) {
    std::optional<uint64_t> seq = keys_.ParseWalKey(o.key);
    if (!seq) continue;
    referenced.insert(o.key);
    std::optional<std::string> bytes = read(o.key);
    if (!bytes) continue;
    Result<format::WalEntry> e = format::DecodeWalEntry(*bytes);
    if (!e.ok()) {
      problem(o.key, e.status().ToString());
    } else if (e->sequence != *seq) {
      problem(o.key, "holds sequence " + std::to_string(e->sequence));
    }
    if (*seq > manifest.indexed_through) {
      if (*seq != expect) {
        problem(o.key, "WAL gap: expected sequence " + std::to_string(expect) + " first");
      }
      expect = *seq + 1;
    }
  }

  // The rest: unreferenced segments and deletion vectors are garbage awaiting
  // collection; anything else is of a kind this version does not know.
  for (const ObjectMeta& o : objects) {
    if (referenced.count(o.key) != 0) continue;
    const bool known = o.key.rfind(keys_.base() + "segments/", 0) == 0 ||
                       o.key.rfind(keys_.base() + "deletes/", 0) == 0;
    if (known) {
      report.unreferenced_objects++;
    } else {
      report.unknown_objects++;
    }
  }
  return report;
}

}  // namespace gannet::db
