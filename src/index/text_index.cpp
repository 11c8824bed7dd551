#include "index/text_index.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <utility>

#include "common/coding.h"
#include "format/frame.h"

namespace gannet::index {

namespace {

// u32 last row, offset, max tf, positions offset; u8 min norm, doc bits, tf bits, points;
// 4 x (u16 tf, u8 norm) frontier points.
constexpr size_t kSkipBytes = 32;

// Lucene's SmallFloat.longToInt4 / int4ToLong: 3 explicit mantissa bits plus an exponent.
uint32_t LongToInt4(uint32_t i) {
  const int bits = 32 - std::countl_zero(i);
  if (bits < 4) return i;  // subnormal
  const int shift = bits - 4;
  uint32_t encoded = (i >> shift) & 0x07;
  encoded |= static_cast<uint32_t>(shift + 1) << 3;
  return encoded;
}

uint64_t Int4ToLong(uint32_t i) {
  const uint64_t bits = i & 0x07;
  const int shift = static_cast<int>(i >> 3) - 1;
  return shift == -1 ? bits : (bits | 0x08) << shift;
}

// Codes below this are lengths as they are; 255 - LongToInt4(INT32_MAX) = 24.
const uint32_t kNumFreeValues = 255 - LongToInt4(INT32_MAX);

uint32_t BitsFor(uint32_t v) { return v == 0 ? 0 : 32 - std::countl_zero(v); }

void PackBits(const uint32_t* v, uint32_t n, uint32_t bits, std::string* out) {
  if (bits == 0) return;
  uint64_t acc = 0;
  uint32_t have = 0;
  for (uint32_t i = 0; i < n; ++i) {
    acc |= static_cast<uint64_t>(v[i]) << have;
    have += bits;
    while (have >= 8) {
      out->push_back(static_cast<char>(acc & 0xFF));
      acc >>= 8;
      have -= 8;
    }
  }
  if (have > 0) out->push_back(static_cast<char>(acc & 0xFF));
}

// Reads values at 64-bit words (value i at bit i·bits: one unaligned load, shift, mask),
// bytewise only within the last 8 bytes so nothing past the packed area is read.
void UnpackBits(const uint8_t* in, uint32_t n, uint32_t bits, uint32_t* out) {
  if (bits == 0) {
    std::fill(out, out + n, 0u);
    return;
  }
  const uint64_t mask = bits == 32 ? 0xFFFFFFFFull : (uint64_t{1} << bits) - 1;
  const size_t bytes = (static_cast<size_t>(n) * bits + 7) / 8;
  uint32_t i = 0;
  for (size_t bit = 0; i < n && (bit >> 3) + 8 <= bytes; ++i, bit += bits) {
    uint64_t w;
    std::memcpy(&w, in + (bit >> 3), 8);
    out[i] = static_cast<uint32_t>((w >> (bit & 7)) & mask);
  }
  for (size_t bit = static_cast<size_t>(i) * bits; i < n; ++i, bit += bits) {
    uint64_t w = 0;
    const size_t at = bit >> 3;
    std::memcpy(&w, in + at, std::min<size_t>(8, bytes - at));
    out[i] = static_cast<uint32_t>((w >> (bit & 7)) & mask);
  }
}

// A full block (kPostingBlock values) at a width known at compile time: 16 groups of 8
// values, each group starting on a byte boundary, so every load has a constant offset.
// Reads up to 8 bytes past the packed values (callers check that they are there).
template <uint32_t kBits>
void UnpackFullBlock(const uint8_t* in, uint32_t* out) {
  constexpr uint64_t kMask = kBits == 32 ? 0xFFFFFFFFull : (uint64_t{1} << kBits) - 1;
  for (uint32_t g = 0; g < kPostingBlock / 8; ++g) {
    const uint8_t* base = in + g * kBits;  // 8 values take kBits bytes
#pragma GCC unroll 8
    for (uint32_t j = 0; j < 8; ++j) {
      uint64_t w;
      std::memcpy(&w, base + (j * kBits) / 8, 8);
      out[g * 8 + j] = static_cast<uint32_t>((w >> ((j * kBits) % 8)) & kMask);
    }
  }
}

template <size_t... kWidths>
constexpr auto MakeFullBlockUnpackers(std::index_sequence<kWidths...>) {
  return std::array<void (*)(const uint8_t*, uint32_t*), sizeof...(kWidths)>{
      &UnpackFullBlock<static_cast<uint32_t>(kWidths)>...};
}

// UnpackBits for n values that may read up to 8 bytes past them when `slack` says the
// bytes are there: full blocks through the fixed-width unpackers.
void UnpackBitsFast(const uint8_t* in, uint32_t n, uint32_t bits, uint32_t* out, bool slack) {
  static constexpr auto kFullBlock = MakeFullBlockUnpackers(std::make_index_sequence<33>());
  if (slack && n == kPostingBlock && bits > 0 && bits <= 32) return kFullBlock[bits](in, out);
  UnpackBits(in, n, bits, out);
}

// Skips `count` varints of a validated area: 8 bytes at a time while at least 8 varints
// remain (they span at least 8 bytes), counting the bytes without a continuation bit.
const uint8_t* SkipVarints(const uint8_t* p, uint64_t count) {
  while (count >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    // The terminators (high bit clear) among the 8 bytes, counted by summing the bytes of
    // their flags in the top byte (a multiply; std::popcount is a libgcc call on baseline
    // x86-64, 2% of a phrase query).
    count -= (((~w & 0x8080808080808080ull) >> 7) * 0x0101010101010101ull) >> 56;
    p += 8;
  }
  while (count > 0) {
    if ((*p++ & 0x80) == 0) --count;
  }
  return p;
}

size_t PackedBytes(uint32_t n, uint32_t bits) { return (static_cast<size_t>(n) * bits + 7) / 8; }

uint32_t Load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;  // little-endian hosts only (as the rest of the format)
}

void Store32(std::string* out, uint32_t v) {
  char b[4];
  std::memcpy(b, &v, 4);
  out->append(b, 4);
}

Status Bad(std::string_view what) { return Status::Corruption("text index: " + std::string(what)); }

}  // namespace

uint8_t EncodeFieldNorm(uint32_t length) {
  if (length > INT32_MAX) length = INT32_MAX;
  if (length < kNumFreeValues) return static_cast<uint8_t>(length);
  return static_cast<uint8_t>(kNumFreeValues + LongToInt4(length - kNumFreeValues));
}

uint32_t DecodeFieldNorm(uint8_t code) {
  if (code < kNumFreeValues) return code;
  return static_cast<uint32_t>(kNumFreeValues + Int4ToLong(code - kNumFreeValues));
}

// ---- PostingCursor ----

PostingCursor::PostingCursor(const TextFieldIndex& field, const TermInfo& term) {
  const auto* base = reinterpret_cast<const uint8_t*>(field.postings_.data()) + term.offset;
  skips_ = base;
  data_ = base + static_cast<size_t>(term.blocks) * kSkipBytes;
  end_ = reinterpret_cast<const uint8_t*>(field.postings_.data()) + field.postings_.size();
  df_ = term.df;
  blocks_ = term.blocks;
  if (blocks_ > 0) LoadBlock(0);
}

PostingCursor::Skip PostingCursor::ReadSkip(uint32_t block) const {
  const uint8_t* p = skips_ + static_cast<size_t>(block) * kSkipBytes;
  return Skip{Load32(p), Load32(p + 4), Load32(p + 8), Load32(p + 12), p[16], p[17], p[18], p[19]};
}

void PostingCursor::LoadBlock(uint32_t block) {
  block_ = block;
  pos_ = 0;
  if (block >= blocks_) {
    doc_ = kEnd;
    len_ = 0;
    tfs_[0] = 1;  // tf() past the end: 1, so a score computed there (then dropped) is finite
    tfs_ready_ = true;
    return;
  }
  const Skip s = ReadSkip(block);
  len_ = block + 1 < blocks_ ? kPostingBlock : df_ - block * kPostingBlock;
  const uint8_t* p = data_ + s.offset;
  tf_data_ = p + PackedBytes(len_, s.doc_bits);
  UnpackBitsFast(p, len_, s.doc_bits, docs_, end_ - tf_data_ >= 8);
  tf_bits_ = s.tf_bits;
  tfs_ready_ = false;
  // Deltas to rows: the first delta is relative to the previous block's last row + 1.
  uint32_t prev = block == 0 ? 0 : ReadSkip(block - 1).last_row + 1;
  for (uint32_t i = 0; i < len_; ++i) {
    prev += docs_[i];
    docs_[i] = prev;
    ++prev;
  }
  doc_ = docs_[0];
}

void PostingCursor::DecodeTfs() {
  UnpackBitsFast(tf_data_, len_, tf_bits_, tfs_,
                 static_cast<size_t>(end_ - tf_data_) >= 8 + PackedBytes(len_, tf_bits_));
  for (uint32_t i = 0; i < len_; ++i) ++tfs_[i];
  tfs_ready_ = true;
}

void PostingCursor::Next() {
  if (doc_ == kEnd) return;
  if (++pos_ < len_) {
    doc_ = docs_[pos_];
    return;
  }
  LoadBlock(block_ + 1);
}

uint32_t PostingCursor::FindBlock(uint32_t from, uint32_t target) const {
  uint32_t lo = from, hi = blocks_;
  while (lo < hi) {
    const uint32_t mid = lo + (hi - lo) / 2;
    if (ReadSkip(mid).last_row < target) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

void PostingCursor::Advance(uint32_t target) {
  if (doc_ >= target) return;
  if (docs_[len_ - 1] < target) {
    const uint32_t b = FindBlock(block_ + 1, target);
    LoadBlock(b);
    if (doc_ == kEnd) return;
  }
  // Branch-free lower bound over the rest of the block (its last row is >= target).
  const uint32_t* base = docs_ + pos_;
  for (uint32_t n = len_ - pos_; n > 1;) {
    const uint32_t half = n / 2;
    base = base[half - 1] < target ? base + half : base;
    n -= half;
  }
  pos_ = static_cast<uint32_t>(base - docs_);
  doc_ = docs_[pos_];
}

// Decodes one varint from a validated area (TextFieldIndex::Parse checked its bounds).
uint32_t DecodeVarint32(const uint8_t*& p) {
  uint32_t v = 0;
  for (int shift = 0;; shift += 7) {
    const uint8_t b = *p++;
    v |= static_cast<uint32_t>(b & 0x7F) << shift;
    if ((b & 0x80) == 0 || shift >= 28) return v;
  }
}

const uint32_t* PostingCursor::Positions() {
  if (!tfs_ready_) DecodeTfs();
  if (pos_block_ != block_) {
    pos_block_ = block_;
    pos_next_ = 0;
    pos_at_ = UINT32_MAX;
    pos_ptr_ = data_ + ReadSkip(block_).pos_offset;
  }
  if (pos_at_ != pos_) {  // postings only move forward within a block
    uint64_t skip = 0;
    for (uint32_t i = pos_next_; i < pos_; ++i) skip += tfs_[i];
    const uint8_t* p = SkipVarints(pos_ptr_, skip);
    positions_.resize(tfs_[pos_]);
    uint32_t prev = 0;
    for (uint32_t j = 0; j < tfs_[pos_]; ++j) {
      prev = (j == 0 ? 0 : prev + 1) + DecodeVarint32(p);
      positions_[j] = prev;
    }
    pos_ptr_ = p;
    pos_next_ = pos_ + 1;
    pos_at_ = pos_;
  }
  return positions_.data();
}

uint32_t PostingCursor::BlockFrom(uint32_t target) const {
  if (doc_ == kEnd) return blocks_;
  return docs_[len_ - 1] < target ? FindBlock(block_ + 1, target) : block_;
}

void PostingCursor::ReadBound(uint32_t block, BlockBound* out) const {
  const Skip s = ReadSkip(block);
  out->last_row = s.last_row;
  out->max_tf = s.max_tf;
  out->min_norm = s.min_norm;
  out->points = s.points;
  const uint8_t* p = skips_ + static_cast<size_t>(block) * kSkipBytes + 20;
  for (uint32_t i = 0; i < s.points; ++i) {
    std::memcpy(&out->tf[i], p + 3 * i, 2);
    out->norm[i] = p[3 * i + 2];
  }
}

bool PostingCursor::BoundAt(uint32_t target, BlockBound* out) {
  const uint32_t b = BlockFrom(target);
  if (b >= blocks_) return false;
  ReadBound(b, out);
  return true;
}

void PostingCursor::BoundsIn(uint32_t target, uint32_t last, std::vector<BlockBound>* out) {
  out->clear();
  for (uint32_t b = BlockFrom(target); b < blocks_; ++b) {
    ReadBound(b, &out->emplace_back());
    if (out->back().last_row >= last) break;
  }
}

// ---- TextFieldIndex ----

const TermInfo* TextFieldIndex::Find(std::string_view term) const {
  if (slots_.empty()) return nullptr;  // not made by Parse
  const size_t mask = slots_.size() - 1;
  for (size_t i = Checksum64(term) & mask;; i = (i + 1) & mask) {
    const uint32_t slot = slots_[i];
    if (slot == 0) return nullptr;
    if (terms_[slot - 1] == term) return &infos_[slot - 1];
  }
}

void TextFieldIndex::ForEachWithPrefix(
    std::string_view prefix, size_t limit,
    const std::function<void(std::string_view, const TermInfo&)>& fn) const {
  auto it = std::lower_bound(terms_.begin(), terms_.end(), prefix);
  for (size_t n = 0; it != terms_.end() && n < limit; ++it, ++n) {
    if (it->substr(0, prefix.size()) != prefix) break;
    fn(*it, infos_[it - terms_.begin()]);
  }
}

size_t TextFieldIndex::memory_bytes() const {
  return bytes_.size() + terms_.size() * (sizeof(std::string_view) + sizeof(TermInfo)) +
         slots_.size() * sizeof(uint32_t);
}

Result<std::shared_ptr<const TextFieldIndex>> TextFieldIndex::Parse(
    std::shared_ptr<const std::string> storage, std::string_view bytes) {
  auto f = std::make_shared<TextFieldIndex>();
  f->storage_ = std::move(storage);
  f->bytes_ = bytes;
  Reader r(bytes);
  std::string_view name, fingerprint;
  uint64_t rows = 0, nterms = 0;
  if (!r.GetBytes(&name) || !r.GetBytes(&fingerprint) || !r.GetVarint(&rows) ||
      !r.GetVarint(&f->docs_) || !r.GetVarint(&f->tokens_)) {
    return Bad("truncated field header");
  }
  if (rows > UINT32_MAX - 1) return Bad("too many rows");
  // BM25's N and avgdl come from these: rows with tokens have at least one each.
  if (f->docs_ > rows || f->tokens_ < f->docs_) return Bad("bad field statistics");
  f->name_ = name;
  f->fingerprint_ = fingerprint;
  f->rows_ = static_cast<uint32_t>(rows);
  if (!r.GetRaw(rows, &f->norms_) || !r.GetVarint(&nterms)) return Bad("truncated norms");
  if (nterms > r.remaining()) return Bad("term count exceeds the object");
  f->terms_.reserve(nterms);
  f->infos_.reserve(nterms);
  uint64_t offset = 0;
  for (uint64_t i = 0; i < nterms; ++i) {
    std::string_view term;
    uint64_t df = 0, max_tf = 0, delta = 0;
    uint8_t min_norm = 0;
    if (!r.GetBytes(&term) || !r.GetVarint(&df) || !r.GetVarint(&max_tf) || !r.GetU8(&min_norm) ||
        !r.GetVarint(&delta)) {
      return Bad("truncated term dictionary");
    }
    if (!f->terms_.empty() && !(f->terms_.back() < term)) return Bad("terms out of order");
    if (df == 0 || df > f->docs_ || max_tf == 0 || max_tf > UINT32_MAX) {
      return Bad("bad term stats");
    }
    offset += delta;
    TermInfo info;
    info.df = static_cast<uint32_t>(df);
    info.max_tf = static_cast<uint32_t>(max_tf);
    info.min_norm = min_norm;
    info.blocks = static_cast<uint32_t>((df + kPostingBlock - 1) / kPostingBlock);
    info.offset = offset;
    f->terms_.push_back(term);
    f->infos_.push_back(info);
  }
  if (!r.GetBytes(&f->postings_) || !r.done()) return Bad("bad postings area");
  f->slots_.assign(std::bit_ceil(2 * f->terms_.size() + 2), 0);
  const size_t mask = f->slots_.size() - 1;
  for (size_t t = 0; t < f->terms_.size(); ++t) {
    size_t i = Checksum64(f->terms_[t]) & mask;
    while (f->slots_[i] != 0) i = (i + 1) & mask;
    f->slots_[i] = static_cast<uint32_t>(t + 1);
  }
  // Every posting list must decode to ascending rows below `rows` with the stated bounds,
  // so that cursors never read outside the object.
  const auto* base = reinterpret_cast<const uint8_t*>(f->postings_.data());
  const size_t size = f->postings_.size();
  uint32_t docs[kPostingBlock], tfs[kPostingBlock];
  for (const TermInfo& t : f->infos_) {
    const size_t skips = static_cast<size_t>(t.blocks) * kSkipBytes;
    if (t.offset > size || size - t.offset < skips) return Bad("posting list out of bounds");
    const uint8_t* sk = base + t.offset;
    const size_t data_size = size - t.offset - skips;
    uint64_t next_min = 0;  // the smallest row the next posting may have
    uint32_t seen_max_tf = 0;
    for (uint32_t b = 0; b < t.blocks; ++b) {
      const uint8_t* p = sk + static_cast<size_t>(b) * kSkipBytes;
      const uint32_t last = Load32(p), off = Load32(p + 4), btf = Load32(p + 8);
      const uint32_t db = p[17], tb = p[18], npoints = p[19];
      const uint32_t len = b + 1 < t.blocks ? kPostingBlock : t.df - b * kPostingBlock;
      if (db > 32 || tb > 32) return Bad("bad bit width");
      const size_t need = PackedBytes(len, db) + PackedBytes(len, tb);
      if (off > data_size || data_size - off < need) return Bad("posting block out of bounds");
      UnpackBits(sk + skips + off, len, db, docs);
      UnpackBits(sk + skips + off + PackedBytes(len, db), len, tb, tfs);
      uint32_t block_max_tf = 0;
      const uint32_t npts = std::min<uint32_t>(p[19], kMaxFrontierPoints);
      for (uint32_t i = 0; i < len; ++i) {
        const uint64_t row = next_min + docs[i];
        if (row >= rows) return Bad("row out of range");
        next_min = row + 1;
        block_max_tf = std::max(block_max_tf, tfs[i] + 1);
        // Some frontier point must dominate the posting, or pruning would be wrong.
        bool dominated = npts == 0;
        for (uint32_t k = 0; k < npts && !dominated; ++k) {
          uint16_t ptf;
          std::memcpy(&ptf, p + 20 + 3 * k, 2);
          dominated =
              ptf >= tfs[i] + 1 && p[20 + 3 * k + 2] <= static_cast<uint8_t>(f->norms_[row]);
        }
        if (!dominated) return Bad("frontier does not bound a posting");
        if (p[16] > static_cast<uint8_t>(f->norms_[row])) return Bad("block norm bound too high");
      }
      if (next_min - 1 != last || block_max_tf > btf) return Bad("skip entry disagrees");
      if (npoints > kMaxFrontierPoints) return Bad("bad frontier");
      if (t.min_norm > p[16]) return Bad("term norm bound too high");
      seen_max_tf = std::max(seen_max_tf, block_max_tf);
      // Positions: sum of tf varints inside the postings area.
      const uint32_t pos_off = Load32(p + 12);
      if (pos_off > data_size) return Bad("positions out of bounds");
      Reader pr(std::string_view(reinterpret_cast<const char*>(sk + skips + pos_off),
                                 data_size - pos_off));
      for (uint32_t i = 0; i < len; ++i) {
        uint64_t pos = 0;
        for (uint32_t j = 0; j <= tfs[i]; ++j) {
          uint64_t delta = 0;
          if (!pr.GetVarint(&delta) || delta > UINT32_MAX) return Bad("truncated positions");
          pos = (j == 0 ? 0 : pos + 1) + delta;
          if (pos > UINT32_MAX) return Bad("position out of range");
        }
      }
    }
    if (seen_max_tf > t.max_tf) return Bad("max frequency disagrees");
  }
  return std::shared_ptr<const TextFieldIndex>(std::move(f));
}

// ---- TextFieldBuilder ----

TextFieldBuilder::TextFieldBuilder(std::string name, std::string fingerprint, uint32_t rows)
    : name_(std::move(name)), fingerprint_(std::move(fingerprint)), rows_(rows) {
  norms_.assign(rows, '\0');
}

void TextFieldBuilder::Add(uint32_t row, const std::vector<std::string>& tokens) {
  if (tokens.empty()) return;
  ++docs_;
  tokens_ += tokens.size();
  norms_[row] = static_cast<char>(EncodeFieldNorm(static_cast<uint32_t>(tokens.size())));
  // Token indexes ordered by token, then position.
  std::vector<uint32_t> order(tokens.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return tokens[a] < tokens[b]; });
  for (size_t i = 0; i < order.size();) {
    size_t j = i + 1;
    while (j < order.size() && tokens[order[j]] == tokens[order[i]]) ++j;
    Postings& p = postings_[tokens[order[i]]];
    p.rows_tf.push_back(row);
    p.rows_tf.push_back(static_cast<uint32_t>(j - i));
    for (size_t k = i; k < j; ++k) p.positions.push_back(order[k]);
    i = j;
  }
}

std::shared_ptr<const TextFieldIndex> TextFieldBuilder::Finish() {
  std::vector<std::pair<std::string_view, Postings*>> terms;
  terms.reserve(postings_.size());
  for (auto& [term, list] : postings_) terms.emplace_back(term, &list);
  std::sort(terms.begin(), terms.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });

  std::string postings;
  Writer dict;
  uint64_t prev_offset = 0;
  uint32_t deltas[kPostingBlock], freqs[kPostingBlock];
  for (const auto& [term, listp] : terms) {
    const std::vector<uint32_t>& list = listp->rows_tf;
    const uint32_t df = static_cast<uint32_t>(list.size() / 2);
    const uint32_t blocks = (df + kPostingBlock - 1) / kPostingBlock;
    const uint64_t offset = postings.size();
    std::string skips, data;
    Writer positions;            // appended after `data`; offsets patched below
    std::vector<size_t> pos_at;  // per block: offset in `positions`
    size_t next_pos = 0;         // index into listp->positions
    uint32_t max_tf = 0;
    uint8_t min_norm = 255;
    uint32_t prev = 0;  // previous block's last row + 1
    for (uint32_t b = 0; b < blocks; ++b) {
      const uint32_t begin = b * kPostingBlock;
      const uint32_t len = std::min(kPostingBlock, df - begin);
      uint32_t dmax = 0, fmax = 0, block_tf = 0;
      uint8_t block_norm = 255;
      for (uint32_t i = 0; i < len; ++i) {
        const uint32_t row = list[2 * (begin + i)], tf = list[2 * (begin + i) + 1];
        deltas[i] = row - prev;
        prev = row + 1;
        freqs[i] = tf - 1;
        dmax = std::max(dmax, deltas[i]);
        fmax = std::max(fmax, freqs[i]);
        block_tf = std::max(block_tf, tf);
        block_norm = std::min(block_norm, static_cast<uint8_t>(norms_[row]));
      }
      const uint32_t db = BitsFor(dmax), tb = BitsFor(fmax);
      // The block's (tf, norm) Pareto frontier: no posting has both a higher frequency and
      // a shorter row than every point. More than 4 points merge into dominating groups.
      std::vector<std::pair<uint8_t, uint32_t>> by_norm;  // (norm, tf)
      for (uint32_t i = 0; i < len; ++i) {
        const uint32_t row = list[2 * (begin + i)];
        by_norm.emplace_back(static_cast<uint8_t>(norms_[row]), list[2 * (begin + i) + 1]);
      }
      std::sort(by_norm.begin(), by_norm.end(), [](const auto& a, const auto& b) {
        return a.first != b.first ? a.first < b.first : a.second > b.second;
      });
      std::vector<std::pair<uint8_t, uint32_t>> frontier;
      for (const auto& [norm, tf] : by_norm) {
        if (frontier.empty() || tf > frontier.back().second) frontier.emplace_back(norm, tf);
      }
      std::vector<std::pair<uint8_t, uint32_t>> points;
      const size_t groups = std::min<size_t>(frontier.size(), kMaxFrontierPoints);
      for (size_t g = 0; g < groups; ++g) {
        const size_t from = g * frontier.size() / groups;
        const size_t to = (g + 1) * frontier.size() / groups;  // exclusive
        points.emplace_back(frontier[from].first, frontier[to - 1].second);
      }
      if (block_tf > 0xFFFF) points.clear();
      pos_at.push_back(positions.size());
      for (uint32_t i = 0; i < len; ++i) {
        const uint32_t tf = list[2 * (begin + i) + 1];
        uint32_t last_pos = 0;
        for (uint32_t k = 0; k < tf; ++k) {
          const uint32_t pos = listp->positions[next_pos++];
          positions.PutVarint(k == 0 ? pos : pos - last_pos - 1);
          last_pos = pos;
        }
      }
      Store32(&skips, prev - 1);
      Store32(&skips, static_cast<uint32_t>(data.size()));
      Store32(&skips, block_tf);
      Store32(&skips, 0);  // positions offset, patched once `data` is complete
      skips.push_back(static_cast<char>(block_norm));
      skips.push_back(static_cast<char>(db));
      skips.push_back(static_cast<char>(tb));
      skips.push_back(static_cast<char>(points.size()));
      for (uint32_t i = 0; i < kMaxFrontierPoints; ++i) {
        const uint16_t tf = i < points.size() ? static_cast<uint16_t>(points[i].second) : 0;
        const uint8_t norm = i < points.size() ? points[i].first : 0;
        char b[3];
        std::memcpy(b, &tf, 2);
        b[2] = static_cast<char>(norm);
        skips.append(b, 3);
      }
      PackBits(deltas, len, db, &data);
      PackBits(freqs, len, tb, &data);
      max_tf = std::max(max_tf, block_tf);
      min_norm = std::min(min_norm, block_norm);
    }
    for (uint32_t b = 0; b < blocks; ++b) {
      const uint32_t pos_off = static_cast<uint32_t>(data.size() + pos_at[b]);
      std::memcpy(skips.data() + static_cast<size_t>(b) * kSkipBytes + 12, &pos_off, 4);
    }
    postings += skips;
    postings += data;
    postings += positions.buffer();
    dict.PutBytes(term);
    dict.PutVarint(df);
    dict.PutVarint(max_tf);
    dict.PutU8(min_norm);
    dict.PutVarint(offset - prev_offset);
    prev_offset = offset;
  }
  postings_.clear();

  Writer w;
  w.PutBytes(name_);
  w.PutBytes(fingerprint_);
  w.PutVarint(rows_);
  w.PutVarint(docs_);
  w.PutVarint(tokens_);
  w.PutRaw(norms_);
  w.PutVarint(terms.size());
  w.PutRaw(dict.buffer());
  w.PutBytes(postings);
  auto storage = std::make_shared<const std::string>(w.Release());
  Result<std::shared_ptr<const TextFieldIndex>> f = TextFieldIndex::Parse(storage, *storage);
  // What we just wrote always parses; a failure here is a bug.
  return f.ok() ? std::move(f).value() : nullptr;
}

std::vector<std::shared_ptr<const TextFieldIndex>> BuildTextFields(
    uint32_t rows,
    const std::vector<std::pair<std::string, std::shared_ptr<const text::Analyzer>>>& fields,
    const std::function<const Value*(uint32_t row, const std::string& attr)>& value) {
  std::vector<std::shared_ptr<const TextFieldIndex>> out;
  std::vector<std::string> tokens;
  for (const auto& [attr, analyzer] : fields) {
    TextFieldBuilder b(attr, analyzer->fingerprint(), rows);
    for (uint32_t row = 0; row < rows; ++row) {
      const Value* v = value(row, attr);
      if (v == nullptr) continue;
      tokens.clear();
      analyzer->AnalyzeValue(*v, &tokens);
      b.Add(row, tokens);
    }
    out.push_back(b.Finish());
  }
  return out;
}

// ---- TextIndex ----

std::shared_ptr<const TextFieldIndex> TextIndex::Field(std::string_view name,
                                                       std::string_view fingerprint) const {
  for (const auto& f : fields_) {
    if (f->name() == name && f->fingerprint() == fingerprint) return f;
  }
  return nullptr;
}

std::string TextIndex::Encode() const {
  Writer w;
  w.PutVarint(fields_.size());
  for (const auto& f : fields_) w.PutBytes(f->bytes_);
  return format::EncodeFrame(format::ObjectKind::kTextIndex, w.buffer());
}

Result<std::shared_ptr<const TextIndex>> TextIndex::Decode(std::string_view bytes, uint64_t rows) {
  std::string storage;
  GANNET_ASSIGN_OR_RETURN(std::string_view payload,
                          format::DecodeFrame(format::ObjectKind::kTextIndex, bytes, &storage));
  auto owned = std::make_shared<const std::string>(payload);
  Reader r(*owned);
  uint64_t n = 0;
  if (!r.GetVarint(&n) || n > r.remaining()) return Bad("truncated");
  std::vector<std::shared_ptr<const TextFieldIndex>> fields;
  for (uint64_t i = 0; i < n; ++i) {
    std::string_view fb;
    if (!r.GetBytes(&fb)) return Bad("truncated field");
    GANNET_ASSIGN_OR_RETURN(std::shared_ptr<const TextFieldIndex> f,
                            TextFieldIndex::Parse(owned, fb));
    if (f->rows() != rows) {
      return Bad("field '" + f->name() + "' has " + std::to_string(f->rows()) +
                 " rows, the segment " + std::to_string(rows));
    }
    fields.push_back(std::move(f));
  }
  if (!r.done()) return Bad("trailing bytes");
  return std::make_shared<const TextIndex>(std::move(fields));
}

}  // namespace gannet::index
