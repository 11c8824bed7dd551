// The inverted index of a segment's full-text attributes (and, built in memory, of a WAL
// entry's documents), for BM25 ranking and token filters.
//
// Per attribute (TextFieldIndex): a sorted term dictionary; for each term a posting list
// of (row, term frequency) in blocks of 128, doc-id deltas and frequencies bit-packed at
// the block's widest value, with a skip entry per block (last row, max frequency, shortest
// document) from which block-max WAND/MaxScore bound a block's score without decoding it;
// and one byte per row holding the row's token count quantized like Lucene's field norms
// (exact below 24 tokens, 4 significant bits above). Statistics for BM25: rows with
// tokens and the total token count. Each posting also lists the token's positions in the
// row (varint deltas, per block), for phrase filters.
//
// Serialised as one framed object per segment (magic GANNETFT, <segment key>.fts):
// docs/format/text-index.md.
//
// Thread safety: TextFieldIndex and TextIndex are immutable and shared; a PostingCursor
// is a single-threaded iterator over one posting list.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gannet/status.h"
#include "gannet/types.h"
#include "text/analyzer.h"

namespace gannet::index {

inline constexpr uint32_t kPostingBlock = 128;

// A document length as one byte (Lucene's SmallFloat.intToByte4 scheme): lengths below 24
// are exact, larger ones keep 4 significant bits. Decode(Encode(n)) <= n.
uint8_t EncodeFieldNorm(uint32_t length);
uint32_t DecodeFieldNorm(uint8_t code);

struct TermInfo {
  uint32_t df = 0;       // rows containing the term
  uint32_t max_tf = 0;   // largest frequency in any row
  uint8_t min_norm = 0;  // shortest row (norm code) containing the term
  uint32_t blocks = 0;
  uint64_t offset = 0;  // of the posting list in the postings area
};

class TextFieldIndex;

// What bounds the scores of one block's postings: the largest frequency and the shortest
// row, and the block's (frequency, norm) Pareto frontier (up to 4 points, each point
// dominating the postings it stands for; 0 points when a frequency exceeds 65535). A
// BM25 bound is the best score over the points (or of (max_tf, min_norm) without them).
struct BlockBound {
  uint32_t last_row = 0;
  uint32_t max_tf = 0;
  uint8_t min_norm = 0;
  uint8_t points = 0;
  uint16_t tf[4] = {};
  uint8_t norm[4] = {};
};
inline constexpr uint32_t kMaxFrontierPoints = 4;

// Iterates one posting list in row order.
class PostingCursor {
 public:
  static constexpr uint32_t kEnd = UINT32_MAX;
  PostingCursor(const TextFieldIndex& field, const TermInfo& term);
  uint32_t doc() const { return doc_; }
  // The current posting's frequency (a block's frequencies are decoded on first use: a
  // cursor that only leaps through rows never decodes them).
  uint32_t tf() {
    if (!tfs_ready_) DecodeTfs();
    return tfs_[pos_];
  }
  void Next();
  // Next() when `step`, else nothing; without a branch on `step` in the common case (a
  // posting list in a union, which holds the row in about as many cases as not).
  void NextIf(bool step) {
    pos_ += step;
    if (pos_ < len_) {
      doc_ = docs_[pos_];
    } else if (doc_ != kEnd) {
      --pos_;
      Next();
    }
  }
  // Moves to the first row >= target (kEnd when none).
  void Advance(uint32_t target);
  // The bound of the block that holds the first row >= target, without decoding it:
  // false when no such block.
  bool BoundAt(uint32_t target, BlockBound* out);
  // The bounds of every block holding rows in [target, last], in row order, into *out
  // (cleared first): the block of the first row >= target, then each next block while
  // the one before ends before `last`. Nothing is decoded; empty when no row >= target.
  void BoundsIn(uint32_t target, uint32_t last, std::vector<BlockBound>* out);
  // The list's blocks, for a search visiting them out of row order: how many, the bound
  // of one without decoding it, and a move to the first posting of one (before or after
  // the current block). REQUIRES: block < blocks().
  uint32_t blocks() const { return blocks_; }
  void BlockBoundOf(uint32_t block, BlockBound* out) const { ReadBound(block, out); }
  void SeekBlock(uint32_t block) {
    pos_block_ = UINT32_MAX;  // positions are read again from the block's start
    LoadBlock(block);
  }
  // The current block: its postings' rows and frequencies (block_len() of each) and the
  // current posting's index in it. REQUIRES: doc() != kEnd.
  uint32_t block() const { return block_; }
  uint32_t block_len() const { return len_; }
  uint32_t block_pos() const { return pos_; }
  const uint32_t* block_rows() const { return docs_; }
  const uint32_t* block_tfs() {
    if (!tfs_ready_) DecodeTfs();
    return tfs_;
  }
  // The current posting's token positions (ascending, tf() of them). REQUIRES: doc() !=
  // kEnd. Valid until the cursor moves. Only the postings asked for are decoded; the
  // ones between are skipped.
  const uint32_t* Positions();

 private:
  struct Skip {
    uint32_t last_row, offset, max_tf, pos_offset;
    uint8_t min_norm, doc_bits, tf_bits, points;
  };
  Skip ReadSkip(uint32_t block) const;
  uint32_t BlockFrom(uint32_t target) const;  // of the first row >= target; blocks_ if none
  void ReadBound(uint32_t block, BlockBound* out) const;
  uint32_t FindBlock(uint32_t from, uint32_t target) const;  // first block with last >= target
  void LoadBlock(uint32_t block);
  void DecodeTfs();

  const uint8_t* skips_ = nullptr;
  const uint8_t* data_ = nullptr;
  const uint8_t* end_ = nullptr;  // the end of the postings area (of every list)
  uint32_t df_ = 0, blocks_ = 0;
  uint32_t block_ = 0, pos_ = 0, len_ = 0, doc_ = kEnd;
  bool tfs_ready_ = false;            // tfs_ holds the current block's frequencies
  uint32_t tf_bits_ = 0;              // the current block's frequency width
  const uint8_t* tf_data_ = nullptr;  // and where they are packed
  uint32_t docs_[kPostingBlock];
  uint32_t tfs_[kPostingBlock];
  // Positions of the current block: postings before pos_next_ are passed, pos_ptr_ is
  // where posting pos_next_'s varints start; positions_ holds posting pos_at_'s.
  uint32_t pos_block_ = UINT32_MAX;
  uint32_t pos_next_ = 0;
  uint32_t pos_at_ = UINT32_MAX;
  const uint8_t* pos_ptr_ = nullptr;
  std::vector<uint32_t> positions_;
};

class TextFieldIndex {
 public:
  const std::string& name() const { return name_; }
  // FtsOptions::Fingerprint of the analyzer that built it.
  const std::string& fingerprint() const { return fingerprint_; }
  uint32_t rows() const { return rows_; }
  uint64_t docs() const { return docs_; }      // rows with at least one token
  uint64_t tokens() const { return tokens_; }  // sum of row lengths
  uint8_t norm(uint32_t row) const { return static_cast<uint8_t>(norms_[row]); }
  const uint8_t* norms() const { return reinterpret_cast<const uint8_t*>(norms_.data()); }
  size_t num_terms() const { return terms_.size(); }
  const TermInfo* Find(std::string_view term) const;
  // Calls fn(term, info) for each term starting with `prefix`, in order, at most `limit`.
  void ForEachWithPrefix(std::string_view prefix, size_t limit,
                         const std::function<void(std::string_view, const TermInfo&)>& fn) const;
  size_t memory_bytes() const;

 private:
  friend class PostingCursor;
  friend class TextFieldBuilder;
  friend class TextIndex;
  // Parses one field's bytes (a view into *storage) and checks every posting list.
  static Result<std::shared_ptr<const TextFieldIndex>> Parse(
      std::shared_ptr<const std::string> storage, std::string_view bytes);

  std::string name_, fingerprint_;
  uint32_t rows_ = 0;
  uint64_t docs_ = 0, tokens_ = 0;
  std::string_view norms_;
  std::vector<std::string_view> terms_;  // sorted, views into storage_
  std::vector<TermInfo> infos_;
  // Open-addressed hash of the terms (term index + 1, 0 = empty; linear probing), a power
  // of two at least twice the term count: Find in one or two probes instead of a binary
  // search over scattered strings.
  std::vector<uint32_t> slots_;
  std::string_view postings_;
  std::string_view bytes_;  // the whole encoded field
  std::shared_ptr<const std::string> storage_;
};

// Builds one attribute's index: Add rows in ascending order, then Finish.
class TextFieldBuilder {
 public:
  TextFieldBuilder(std::string name, std::string fingerprint, uint32_t rows);
  // REQUIRES: row < rows, rows added in ascending order, each at most once.
  void Add(uint32_t row, const std::vector<std::string>& tokens);
  std::shared_ptr<const TextFieldIndex> Finish();

 private:
  std::string name_, fingerprint_;
  uint32_t rows_;
  uint64_t docs_ = 0, tokens_ = 0;
  std::string norms_;
  struct Postings {
    std::vector<uint32_t> rows_tf;    // (row, tf) pairs
    std::vector<uint32_t> positions;  // each row's positions, in row order
  };
  std::unordered_map<std::string, Postings> postings_;
};

// The index of every full-text attribute of `rows` rows: `value(row, attr)` returns a
// row's value of attr (or null). `fields`: (attribute, analyzer) pairs.
std::vector<std::shared_ptr<const TextFieldIndex>> BuildTextFields(
    uint32_t rows,
    const std::vector<std::pair<std::string, std::shared_ptr<const text::Analyzer>>>& fields,
    const std::function<const Value*(uint32_t row, const std::string& attr)>& value);

// A segment's stored text index: one TextFieldIndex per full-text attribute.
class TextIndex {
 public:
  explicit TextIndex(std::vector<std::shared_ptr<const TextFieldIndex>> fields)
      : fields_(std::move(fields)) {}
  const std::vector<std::shared_ptr<const TextFieldIndex>>& fields() const { return fields_; }
  // The field for `name` built with `fingerprint`, or null.
  std::shared_ptr<const TextFieldIndex> Field(std::string_view name,
                                              std::string_view fingerprint) const;
  std::string Encode() const;
  // Corruption on a damaged object. `rows`: the segment's row count every field must have.
  static Result<std::shared_ptr<const TextIndex>> Decode(std::string_view bytes, uint64_t rows);

 private:
  std::vector<std::shared_ptr<const TextFieldIndex>> fields_;
};

}  // namespace gannet::index
