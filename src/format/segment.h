// Segment: an immutable, checksummed object holding a set of documents in columns, with
// a primary-key index (ids sorted ascending). Layout: docs/format/segment.md.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/memory.h"
#include "gannet/object_store.h"
#include "gannet/status.h"
#include "gannet/types.h"

namespace gannet::format {

// Encodes `docs` (REQUIRES: sorted by id ascending, unique ids; every attribute present
// in `schema`). Vectors are stored as the schema says (f32 or f16).
// Defensive behaviour when the REQUIRES are violated (never an unreadable object): docs
// are sorted by id and for a duplicated id the last one is kept; an attribute missing
// from the schema gets a type inferred from its first non-null value; a column with a
// value that does not match its type is stored self-describing ("tagged") and round-trips
// exactly; a null value is stored as absent; a repeated attribute name keeps the first.
// Every schema attribute gets a column (all-absent if no document has it). The attribute
// "vector" with a vector type goes to the vector block (dims() > 0) when at least one
// document has a vector and all vectors have the schema's dimension.
std::string EncodeSegment(const std::vector<Document>& docs, const Schema& schema);

// ---- Layout, for ranged reads (docs/format/segment.md) -----------------------------------

enum class SegmentBlockKind : uint8_t {
  kIds = 1,             // the sorted id column
  kVectorPresence = 2,  // presence bitmap of the vector block
  kVectors = 3,         // rows*dims elements, f32 or f16, never compressed
  kColumn = 4,          // one attribute column
  kVectorChunks = 5,    // checksums of the vectors block's chunks (version 2)
};

struct SegmentBlockRef {
  SegmentBlockKind kind = SegmentBlockKind::kIds;
  std::string name;  // attribute name for kColumn, else empty
  AttrType type;     // for kColumn
  bool zstd = false;
  uint64_t offset = 0;        // from the start of the object
  uint64_t stored_bytes = 0;  // bytes in the object
  uint64_t raw_bytes = 0;     // bytes after decompression
  uint64_t checksum = 0;      // XXH3-64 of the stored bytes
};

struct SegmentDirectory {
  uint64_t rows = 0;
  uint32_t dims = 0;  // 0: no vector block
  VectorElem elem = VectorElem::kF32;
  std::optional<Id> min_id, max_id;     // set when rows > 0
  std::vector<SegmentBlockRef> blocks;  // ids, vector presence, vectors, columns by name
};

// The last kSegmentTailBytes of a segment object locate its directory.
inline constexpr size_t kSegmentTailBytes = 32;
struct SegmentDirectoryLocation {
  uint64_t offset = 0, length = 0, checksum = 0;
};
// `tail` = the last kSegmentTailBytes of an object of `object_size` bytes.
Result<SegmentDirectoryLocation> LocateSegmentDirectory(std::string_view tail,
                                                        uint64_t object_size);
// Verifies the directory bytes against `loc` and parses them. Block ranges are checked to
// lie inside [kFrameHeaderBytes, loc.offset).
Result<SegmentDirectory> DecodeSegmentDirectory(std::string_view bytes,
                                                const SegmentDirectoryLocation& loc);

// Reads byte ranges of one segment object: fills (*out)[i] with the bytes of ranges[i]
// (truncated at the object's end) or fails. Must be thread-safe: a segment calls it from
// any thread that reads its vectors.
using SegmentRangeReader =
    std::function<Status(const std::vector<ByteRange>& ranges, std::vector<std::string>* out)>;

struct SegmentDecodeOptions {
  // When set and the segment has chunk checksums for its vectors (version 2), the vectors
  // are verified but not kept in memory: ReadVectors and GetDocument fetch the rows they
  // need through this reader, each chunk verified against its checksum.
  SegmentRangeReader vector_reader;
};

// The byte ranges of `dir`'s blocks other than the vectors block, in directory order: what
// Segment::DecodeWithoutVectors reads (a cold load: ids, columns, presence, chunk sums).
std::vector<ByteRange> SegmentBlocksWithoutVectors(const SegmentDirectory& dir);

// Vector rows per checksummed chunk of a vectors block: chunks of at least 512 bytes.
uint32_t VectorRowsPerChunk(uint32_t dims, VectorElem elem);

// A decoded segment, immutable and safe to share between threads.
class Segment {
 public:
  // Corruption on a bad magic, version, checksum or structure.
  static Result<std::shared_ptr<const Segment>> Decode(std::string_view bytes,
                                                       const SegmentDecodeOptions& options = {});
  // The same segment from parts of the object read by range, its vectors left there (a
  // cold load fetches a fraction of a large segment): `frame_header` (its first
  // kFrameHeaderBytes), `object_size`, its directory (DecodeSegmentDirectory) and
  // `blocks`, the bytes of SegmentBlocksWithoutVectors(dir) in that order. Each block is
  // verified against its directory checksum (the frame checksum, over the whole object,
  // is not). REQUIRES a version 2 segment with vectors and options.vector_reader, else
  // InvalidArgument; Corruption on damage.
  static Result<std::shared_ptr<const Segment>> DecodeWithoutVectors(
      std::string_view frame_header, uint64_t object_size, const SegmentDirectory& dir,
      const std::vector<std::string>& blocks, const SegmentDecodeOptions& options);

  size_t rows() const { return ids_.size(); }
  const Id& id(size_t row) const { return ids_[row]; }
  const std::vector<Id>& ids() const { return ids_; }
  // Row of `id` (binary search over the sorted ids), or nullopt.
  std::optional<size_t> Find(const Id& id) const;

  // Vectors: dims() == 0 when the segment has none; has_vector(row) false for rows
  // without one (their slots are zero). When vectors_resident(), vectors() is
  // rows()*dims() floats, row-major (f16 widened on decode); otherwise it is empty and
  // rows are read through ReadVectors.
  uint32_t dims() const { return dims_; }
  bool vectors_resident() const { return reader_ == nullptr; }
  // REQUIRES: vectors_resident().
  const float* vector(size_t row) const { return vectors_.data() + row * dims_; }
  const HugeVector<float>& vectors() const { return vectors_; }
  bool has_vector(size_t row) const { return dims_ != 0 && vector_present_[row]; }
  // Copies the vectors of rows[0..n) (REQUIRES: ascending, each < rows(), dims() > 0) into
  // out (n * dims() floats). Resident: a copy. Otherwise one ranged read per run of
  // adjacent chunks, in one batch; Corruption when a chunk fails its checksum, or the
  // reader's error.
  Status ReadVectors(const uint32_t* rows, size_t n, float* out) const;

  struct Column {
    std::string name;
    AttrType type;
    std::vector<Value> values;  // one per row; null where the row lacks the attribute
    // The least and greatest Value::AsNumber of the values (lo > hi when none is a
    // number), computed at decode: what bounds a ranking expression's Attribute clause.
    double lo = std::numeric_limits<double>::infinity();
    double hi = -std::numeric_limits<double>::infinity();
  };
  const std::vector<Column>& columns() const { return columns_; }
  const Column* column(std::string_view name) const;

  // The full document at `row` (attributes plus "vector" if present and `with_vector`).
  // Fails only when the vector is not resident and cannot be read (ReadVectors).
  Result<Document> GetDocument(size_t row, bool with_vector = true) const;
  // The full documents at `rows` (REQUIRES: ascending), appended to *out; vectors that are
  // not resident are read in batches of a few thousand rows.
  Status GetDocuments(const std::vector<uint32_t>& rows, std::vector<Document>* out) const;
  uint64_t encoded_bytes() const { return encoded_bytes_; }
  // Bytes this decoded segment holds in memory, approximately (computed at decode).
  size_t memory_bytes() const { return memory_bytes_; }
  // Storage type of the vector block (meaningful when dims() > 0).
  VectorElem vector_elem() const { return vector_elem_; }

 private:
  friend class SegmentDecoder;
  std::vector<Id> ids_;
  uint32_t dims_ = 0;
  VectorElem vector_elem_ = VectorElem::kF32;
  HugeVector<float> vectors_;  // huge pages: the re-rank reads rows at random
  std::vector<bool> vector_present_;
  // Not resident: where the vectors block starts, its chunking and chunk checksums.
  SegmentRangeReader reader_;
  uint64_t vectors_offset_ = 0;
  uint32_t rows_per_chunk_ = 0;
  std::vector<uint64_t> chunk_checksums_;
  std::vector<Column> columns_;
  uint64_t encoded_bytes_ = 0;
  size_t memory_bytes_ = 0;
  size_t ComputeMemoryBytes() const;
  // The document at `row` with `vec` as its vector (none when empty).
  Document DocumentWith(size_t row, std::vector<float> vec) const;
};

// Deletion vector: the rows of one segment that are deleted as of a manifest version.
// Object key <ns>/deletes/<segment id>/<version:020>. Rows ascending, unique.
std::string EncodeDeletionVector(const std::vector<uint32_t>& rows);
Result<std::vector<uint32_t>> DecodeDeletionVector(std::string_view bytes);

}  // namespace gannet::format
