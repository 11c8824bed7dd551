// Segment: an immutable, checksummed object holding a set of documents in columns, with
// a primary-key index (ids sorted ascending). Layout: docs/format/segment.md.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gannet/status.h"
#include "gannet/types.h"

namespace gannet::format {

// Encodes `docs` (REQUIRES: sorted by id ascending, unique ids; every attribute present
// in `schema`). Vectors are stored as the schema says (f32 or f16).
std::string EncodeSegment(const std::vector<Document>& docs, const Schema& schema);

// A decoded segment, immutable and safe to share between threads.
class Segment {
 public:
  // Corruption on a bad magic, version, checksum or structure.
  static Result<std::shared_ptr<const Segment>> Decode(std::string_view bytes);

  size_t rows() const { return ids_.size(); }
  const Id& id(size_t row) const { return ids_[row]; }
  const std::vector<Id>& ids() const { return ids_; }
  // Row of `id` (binary search over the sorted ids), or nullopt.
  std::optional<size_t> Find(const Id& id) const;

  // Vectors: dims() == 0 when the segment has none. vectors() is rows()*dims() floats,
  // row-major (f16 widened on decode); has_vector(row) false for rows without one
  // (their slots are zero).
  uint32_t dims() const { return dims_; }
  const float* vector(size_t row) const { return vectors_.data() + row * dims_; }
  const std::vector<float>& vectors() const { return vectors_; }
  bool has_vector(size_t row) const { return dims_ != 0 && vector_present_[row]; }

  struct Column {
    std::string name;
    AttrType type;
    std::vector<Value> values;  // one per row; null where the row lacks the attribute
  };
  const std::vector<Column>& columns() const { return columns_; }
  const Column* column(std::string_view name) const;

  // The full document at `row` (attributes plus "vector" if present).
  Document GetDocument(size_t row) const;
  uint64_t encoded_bytes() const { return encoded_bytes_; }

 private:
  std::vector<Id> ids_;
  uint32_t dims_ = 0;
  std::vector<float> vectors_;
  std::vector<bool> vector_present_;
  std::vector<Column> columns_;
  uint64_t encoded_bytes_ = 0;
};

// Deletion vector: the rows of one segment that are deleted as of a manifest version.
// Object key <ns>/deletes/<segment id>/<version:020>. Rows ascending, unique.
std::string EncodeDeletionVector(const std::vector<uint32_t>& rows);
Result<std::vector<uint32_t>> DecodeDeletionVector(std::string_view bytes);

}  // namespace gannet::format
