#include "db/snapshot.h"

namespace gannet::db {

std::shared_ptr<LoadedSegment> MakeLoadedSegment(const format::SegmentRef& ref,
                                                 std::shared_ptr<const format::Segment> segment,
                                                 std::vector<bool> deleted,
                                                 std::shared_ptr<const std::vector<float>> norms,
                                                 std::shared_ptr<const index::IvfIndex> ann) {
  auto loaded = std::make_shared<LoadedSegment>();
  loaded->ref = ref;
  loaded->norms = norms != nullptr
                      ? std::move(norms)
                      : std::make_shared<const std::vector<float>>(query::VectorNorms(*segment));
  loaded->segment = std::move(segment);
  loaded->deleted = std::move(deleted);
  loaded->ann = std::move(ann);
  return loaded;
}

const TailMap& Snapshot::tail_map() const {
  std::call_once(tail_once_, [this] {
    size_t n = 0;
    for (const AppliedEntryPtr& e : tail) n += e->changes.size();
    tail_map_.reserve(n);
    for (const AppliedEntryPtr& e : tail) {
      for (const auto& [id, doc] : e->changes) tail_map_.insert_or_assign(id, doc);
    }
  });
  return tail_map_;
}

uint64_t Snapshot::tail_rows() const {
  uint64_t n = 0;
  for (const AppliedEntryPtr& e : tail) n += e->changes.size();
  return n;
}

uint64_t Snapshot::approx_rows() const {
  uint64_t n = 0;
  for (const LoadedSegmentPtr& s : segments) n += s->ref.rows - s->ref.deleted_rows;
  for (const AppliedEntryPtr& e : tail) {
    for (const auto& [id, doc] : e->changes) n += doc != nullptr ? 1 : 0;
  }
  return n;
}

DocPtr Snapshot::Lookup(const Id& id) const {
  const TailMap& tm = tail_map();
  auto it = tm.find(id);
  if (it != tm.end()) return it->second;
  for (auto s = segments.rbegin(); s != segments.rend(); ++s) {
    std::optional<size_t> row = (*s)->segment->Find(id);
    if (row && !(*s)->is_deleted(*row)) {
      return std::make_shared<const Document>((*s)->segment->GetDocument(*row));
    }
  }
  return nullptr;
}

}  // namespace gannet::db
