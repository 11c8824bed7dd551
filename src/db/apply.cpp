#include "db/apply.h"

#include <algorithm>
#include <optional>
#include <unordered_map>

#include "model/filter_bind.h"
#include "query/executor.h"
#include "query/filter.h"

namespace gannet::db {
namespace {

// The changes of the entry being resolved, over the base snapshot.
class Overlay {
 public:
  explicit Overlay(const Snapshot& base) : base_(base) {}

  Result<DocPtr> Lookup(const Id& id) const {
    auto it = changes_.find(id);
    if (it != changes_.end()) return it->second;
    return base_.Lookup(id);
  }
  void Set(const Id& id, DocPtr doc) {
    auto [it, inserted] = changes_.try_emplace(id, doc);
    if (inserted) {
      order_.push_back(id);
    } else {
      it->second = std::move(doc);
    }
  }
  // Every live document: base segments and tail, then this entry's own changes.
  template <typename Fn>
  void ForEachLive(Fn&& fn) const {
    query::ExecInput in;
    for (const LoadedSegmentPtr& s : base_.segments) {
      in.segments.push_back({s->segment.get(), &s->deleted, s->norms.get()});
    }
    const TailMap& tail = base_.tail_map();
    in.tail = &tail;
    query::ForEachLiveRow(in, [&](const query::RowAccessor& row) {
      if (changes_.count(row.id()) == 0) fn(row);
      return true;
    });
    for (const auto& [id, doc] : changes_) {
      if (doc != nullptr) fn(query::DocumentAccessor(*doc));
    }
  }
  std::vector<std::pair<Id, DocPtr>> Take() {
    std::vector<std::pair<Id, DocPtr>> out;
    out.reserve(order_.size());
    for (const Id& id : order_) out.emplace_back(id, changes_[id]);
    return out;
  }

 private:
  const Snapshot& base_;
  std::unordered_map<Id, DocPtr, IdHash> changes_;
  std::vector<Id> order_;
};

bool ConditionHolds(const std::optional<Filter>& cond, const Document& current,
                    const Document* incoming) {
  if (!cond) return true;
  query::DocumentAccessor cur(current);
  if (incoming == nullptr) return query::MatchFilter(*cond, cur);
  query::DocumentAccessor neu(*incoming);
  return query::MatchFilter(*cond, cur, &neu);
}

}  // namespace

static bool HasUnboundFullText(const Filter& f) {
  if (f.is_logical()) {
    return std::any_of(f.children.begin(), f.children.end(),
                       [](const Filter& c) { return HasUnboundFullText(c); });
  }
  return (f.op == Filter::Op::kContainsAllTokens || f.op == Filter::Op::kContainsAnyToken ||
          f.op == Filter::Op::kContainsTokenSequence) &&
         f.full_text == nullptr;
}

Result<AppliedEntryPtr> ApplyEntry(const format::WalEntry& entry, const Snapshot& base,
                                   uint64_t encoded_bytes) {
  if (entry.sequence != base.head + 1) {
    return Status::Internal("apply: entry " + std::to_string(entry.sequence) +
                            " does not follow snapshot head " + std::to_string(base.head));
  }
  auto applied = std::make_shared<AppliedEntry>();
  applied->sequence = entry.sequence;
  applied->created_ms = entry.created_ms;
  applied->encoded_bytes = encoded_bytes;
  Overlay overlay(base);
  for (const WriteRequest& stored : entry.batches) {
    // Full-text filter bindings (analyzer, query tokens) are not stored in the WAL: bind
    // them again, against the schema the entry committed with, so every process replays
    // the entry as its writer applied it.
    const WriteRequest* reqp = &stored;
    std::optional<WriteRequest> rebound;
    auto needs_binding = [](const std::optional<Filter>& f) {
      return f.has_value() && HasUnboundFullText(*f);
    };
    if (needs_binding(stored.delete_by_filter) || needs_binding(stored.upsert_condition) ||
        needs_binding(stored.patch_condition) || needs_binding(stored.delete_condition)) {
      rebound = stored;
      for (std::optional<Filter>* f : {&rebound->delete_by_filter, &rebound->upsert_condition,
                                       &rebound->patch_condition, &rebound->delete_condition}) {
        if (f->has_value()) model::BindFullTextLeaves(**f, entry.schema);
      }
      reqp = &*rebound;
    }
    const WriteRequest& req = *reqp;
    BatchOutcome out;
    if (req.delete_by_filter) {
      std::vector<Id> doomed;
      overlay.ForEachLive([&](const query::RowAccessor& row) {
        if (query::MatchFilter(*req.delete_by_filter, row)) doomed.push_back(row.id());
      });
      for (Id& id : doomed) {
        overlay.Set(id, nullptr);
        out.deleted.push_back(std::move(id));
      }
    }
    for (const Document& doc : req.upserts) {
      if (req.upsert_condition) {
        GANNET_ASSIGN_OR_RETURN(DocPtr current, overlay.Lookup(doc.id));
        if (current != nullptr && !ConditionHolds(req.upsert_condition, *current, &doc)) continue;
      }
      overlay.Set(doc.id, std::make_shared<const Document>(doc));
      out.upserted.push_back(doc.id);
    }
    for (const Document& patch : req.patches) {
      GANNET_ASSIGN_OR_RETURN(DocPtr current, overlay.Lookup(patch.id));
      if (current == nullptr) continue;
      if (!ConditionHolds(req.patch_condition, *current, &patch)) continue;
      auto merged = std::make_shared<Document>(*current);
      for (const auto& [name, value] : patch.attrs) {
        if (value.is_null()) {
          merged->Erase(name);
        } else {
          merged->Set(name, value);
        }
      }
      overlay.Set(patch.id, std::move(merged));
      out.patched.push_back(patch.id);
    }
    for (const Id& id : req.deletes) {
      GANNET_ASSIGN_OR_RETURN(DocPtr current, overlay.Lookup(id));
      if (current == nullptr) continue;
      if (!ConditionHolds(req.delete_condition, *current, nullptr)) continue;
      overlay.Set(id, nullptr);
      out.deleted.push_back(id);
    }
    applied->outcomes.push_back(std::move(out));
  }
  applied->changes = overlay.Take();
  return AppliedEntryPtr(std::move(applied));
}

std::shared_ptr<Snapshot> ExtendSnapshot(const Snapshot& base, AppliedEntryPtr applied,
                                         const Schema& schema_after) {
  std::shared_ptr<Snapshot> next = WithSegments(base, base.segments);
  next->head = applied->sequence;
  next->created_ms = base.created_ms != 0 ? base.created_ms : applied->created_ms;
  next->updated_ms = applied->created_ms;
  next->schema = schema_after;
  next->tail.push_back(std::move(applied));
  return next;
}

}  // namespace gannet::db
