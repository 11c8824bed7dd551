#include "db/snapshot.h"

namespace gannet::db {

std::shared_ptr<LoadedSegment> MakeLoadedSegment(const format::SegmentRef& ref,
                                                 std::shared_ptr<const format::Segment> segment,
                                                 std::vector<bool> deleted,
                                                 std::shared_ptr<const std::vector<float>> norms,
                                                 std::shared_ptr<const index::IvfIndex> ann,
                                                 std::shared_ptr<const index::TextIndex> text) {
  auto loaded = std::make_shared<LoadedSegment>();
  loaded->ref = ref;
  // Vectors read by byte range get their norms computed as they are read.
  if (norms == nullptr && segment->vectors_resident()) {
    norms = std::make_shared<const std::vector<float>>(query::VectorNorms(*segment));
  }
  loaded->norms = std::move(norms);
  loaded->segment = std::move(segment);
  loaded->deleted = std::move(deleted);
  loaded->ann = std::move(ann);
  loaded->text = std::move(text);
  return loaded;
}

std::shared_ptr<Snapshot> WithSegments(const Snapshot& base,
                                       std::vector<LoadedSegmentPtr> segments) {
  auto next = std::make_shared<Snapshot>();
  next->manifest = base.manifest;
  next->manifest_etag = base.manifest_etag;
  next->segments = std::move(segments);
  next->tail = base.tail;
  next->schema = base.schema;
  next->head = base.head;
  next->created_ms = base.created_ms;
  next->updated_ms = base.updated_ms;
  return next;
}

std::shared_ptr<const index::TextFieldIndex> TextFieldCache::Get(
    const std::string& attr, const std::shared_ptr<const text::Analyzer>& analyzer,
    const std::function<std::shared_ptr<const index::TextFieldIndex>()>& build) {
  const std::string key = attr + '\0' + analyzer->fingerprint();
  std::lock_guard<std::mutex> lock(mu_);  // one build at a time; later queries reuse it
  auto it = built_.find(key);
  if (it != built_.end()) return it->second;
  std::shared_ptr<const index::TextFieldIndex> f = build();
  built_.emplace(key, f);
  return f;
}

std::shared_ptr<const index::TextFieldIndex> LoadedSegment::TextField(
    const std::string& attr, const std::shared_ptr<const text::Analyzer>& analyzer) const {
  if (text != nullptr) {
    if (auto f = text->Field(attr, analyzer->fingerprint())) return f;
  }
  const format::Segment::Column* col = segment->column(attr);
  if (col == nullptr) return nullptr;
  return text_cache->Get(attr, analyzer, [&] {
    return index::BuildTextFields(static_cast<uint32_t>(segment->rows()), {{attr, analyzer}},
                                  [col](uint32_t row, const std::string&) -> const Value* {
                                    const Value& v = col->values[row];
                                    return v.is_null() ? nullptr : &v;
                                  })[0];
  });
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

uint64_t Snapshot::approx_memory_bytes() const {
  uint64_t n = sizeof(Snapshot);
  for (const LoadedSegmentPtr& s : segments) {
    n += sizeof(LoadedSegment) + s->deleted.capacity() / 8;
    if (s->segment != nullptr) n += s->segment->memory_bytes();
    if (s->norms != nullptr) n += s->norms->capacity() * sizeof(float);
    if (s->ann != nullptr) n += s->ann->MemoryBytes();
    if (s->text != nullptr) {
      for (const auto& field : s->text->fields()) n += field->memory_bytes();
    }
  }
  // Decoded documents take a few times their encoded size.
  for (const AppliedEntryPtr& e : tail) n += sizeof(AppliedEntry) + 4 * e->encoded_bytes;
  return n;
}

Result<DocPtr> Snapshot::Lookup(const Id& id) const {
  const TailMap& tm = tail_map();
  auto it = tm.find(id);
  if (it != tm.end()) return it->second;
  for (auto s = segments.rbegin(); s != segments.rend(); ++s) {
    std::optional<size_t> row = (*s)->segment->Find(id);
    if (row && !(*s)->is_deleted(*row)) {
      GANNET_ASSIGN_OR_RETURN(Document doc, (*s)->segment->GetDocument(*row));
      return std::make_shared<const Document>(std::move(doc));
    }
  }
  return DocPtr();
}

}  // namespace gannet::db
