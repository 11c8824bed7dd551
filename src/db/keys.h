// Object keys of a database in its store. One place, so the layout is written down once:
//
//   <prefix>catalog/<ns>                      marker: the namespace exists (created first)
//   <prefix>ns/<ns>/wal/<seq:020>             immutable WAL entries (PutIfAbsent)
//   <prefix>ns/<ns>/manifest                  the CAS pointer (PutIfMatch)
//   <prefix>ns/<ns>/segments/<id>             immutable segments
//   <prefix>ns/<ns>/segments/<id>.ivf         a segment's vector index (when it has one)
//   <prefix>ns/<ns>/segments/<id>.fts         a segment's text index (when it has one)
//   <prefix>ns/<ns>/deletes/<id>/<ver:020>    deletion vectors, one per manifest version
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/coding.h"

namespace gannet::db {

class Keys {
 public:
  Keys(std::string prefix, std::string ns) : prefix_(std::move(prefix)), ns_(std::move(ns)) {
    base_ = prefix_ + "ns/" + ns_ + "/";
  }
  static std::string CatalogPrefix(std::string_view prefix) {
    return std::string(prefix) + "catalog/";
  }
  std::string catalog() const { return CatalogPrefix(prefix_) + ns_; }
  const std::string& base() const { return base_; }
  std::string wal_prefix() const { return base_ + "wal/"; }
  std::string wal(uint64_t seq) const { return wal_prefix() + PadSequence(seq); }
  std::string manifest() const { return base_ + "manifest"; }
  std::string segment(std::string_view id) const { return base_ + "segments/" + std::string(id); }
  // The vector index of a segment (docs/format/vector-index.md).
  std::string vector_index(std::string_view segment_id) const {
    return segment(segment_id) + ".ivf";
  }
  std::string text_index(std::string_view segment_id) const { return segment(segment_id) + ".fts"; }
  std::string deletes(std::string_view segment_id, uint64_t version) const {
    return base_ + "deletes/" + std::string(segment_id) + "/" + PadSequence(version);
  }
  // Parses the sequence out of a WAL key; nullopt if it is not one.
  std::optional<uint64_t> ParseWalKey(std::string_view key) const;

 private:
  std::string prefix_, ns_, base_;
};

}  // namespace gannet::db
