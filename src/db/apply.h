// Resolves WAL entries into AppliedEntry form (see snapshot.h).
#pragma once

#include "db/snapshot.h"
#include "format/wal_entry.h"

namespace gannet::db {

// Resolves `entry` on top of `base`, whose head must be entry.sequence - 1. Requests are
// applied in order; within a request: delete_by_filter, upserts, patches, deletes.
// Conditions are evaluated against each row's version just before the request
// (upsert_condition is skipped for ids that do not exist yet: the upsert applies).
// Patches of missing ids, and deletes of missing ids, do nothing.
Result<AppliedEntryPtr> ApplyEntry(const format::WalEntry& entry, const Snapshot& base,
                                   uint64_t encoded_bytes);

// A new snapshot: `base` plus `applied` (REQUIRES applied->sequence == base.head + 1).
std::shared_ptr<Snapshot> ExtendSnapshot(const Snapshot& base, AppliedEntryPtr applied,
                                         const Schema& schema_after);

}  // namespace gannet::db
