// `gannet inspect PATH_OR_KEY`: decodes one stored object (recognised by its magic) and
// prints a human-readable JSON summary.
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <string>

#include "cli/cli.h"
#include "common/coding.h"
#include "format/frame.h"
#include "format/manifest.h"
#include "format/segment.h"
#include "format/wal_entry.h"
#include "gannet/json.h"
#include "index/ivf_index.h"

namespace gannet::cli {
namespace {

using Json = nlohmann::ordered_json;

constexpr std::string_view kUsage =
    "gannet inspect PATH_OR_KEY [--full] [--limit N] [--pretty]\n"
    "       gannet inspect --verify NAMESPACE [--pretty]";
constexpr size_t kVectorPreviewDims = 4;

bool IsRegularFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::NotFound("cannot open '" + path + "'");
  std::string data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) return Status::IOError("reading '" + path + "' failed");
  return data;
}

Json ValueJson(const Value& v, bool full) {
  if (v.kind() == Value::Kind::kVector && !full && v.as_vector().size() > kVectorPreviewDims) {
    // Through the library's encoder, so floats print in their short f32 form.
    const std::vector<float>& full_vec = v.as_vector();
    Json a = ToTree(ValueToJson(Value::Vector(
        std::vector<float>(full_vec.begin(), full_vec.begin() + kVectorPreviewDims))));
    if (!a.is_array()) a = Json::array();
    a.push_back("...");
    return a;
  }
  Json j = ToTree(ValueToJson(v));
  if (j.is_discarded()) return ValueToJson(v);
  return j;
}

Json DocJson(const Document& d, bool full) {
  Json j;
  j["id"] = ToTree(IdToJson(d.id));
  for (const auto& [name, value] : d.attrs) j[name] = ValueJson(value, full);
  return j;
}

Json FilterJson(const Filter& f) {
  std::string op(FilterOpName(f.op));
  if (f.op == Filter::Op::kNot) {
    return Json::array({op, f.children.empty() ? Json(nullptr) : FilterJson(f.children[0])});
  }
  if (f.is_logical()) {
    Json kids = Json::array();
    for (const Filter& c : f.children) kids.push_back(FilterJson(c));
    return Json::array({op, kids});
  }
  Json operand = f.ref_new ? Json{{"$ref_new", *f.ref_new}} : ValueJson(f.value, true);
  return Json::array({f.attr, op, operand});
}

Json SchemaJson(const Schema& s) { return ToTree(SchemaToJson(s)); }

Json DocsJson(const std::vector<Document>& docs, bool full, size_t limit) {
  Json a = Json::array();
  for (size_t i = 0; i < docs.size() && i < limit; ++i) a.push_back(DocJson(docs[i], full));
  return a;
}

Json WalJson(const format::WalEntry& e, bool full, size_t limit) {
  Json j;
  j["sequence"] = e.sequence;
  j["writer_nonce"] = HexEncode(e.writer_nonce);
  j["created_at"] = TimeJson(e.created_ms);
  j["schema"] = SchemaJson(e.schema);
  Json batches = Json::array();
  for (const WriteRequest& r : e.batches) {
    Json b;
    b["upserts"] = r.upserts.size();
    b["patches"] = r.patches.size();
    b["deletes"] = r.deletes.size();
    if (r.delete_by_filter) b["delete_by_filter"] = FilterJson(*r.delete_by_filter);
    if (r.upsert_condition) b["upsert_condition"] = FilterJson(*r.upsert_condition);
    if (r.patch_condition) b["patch_condition"] = FilterJson(*r.patch_condition);
    if (r.delete_condition) b["delete_condition"] = FilterJson(*r.delete_condition);
    if (r.distance_metric) b["distance_metric"] = DistanceMetricName(*r.distance_metric);
    if (r.schema) b["schema"] = SchemaJson(*r.schema);
    if (!r.upserts.empty()) b["upsert_rows"] = DocsJson(r.upserts, full, limit);
    if (!r.patches.empty()) b["patch_rows"] = DocsJson(r.patches, full, limit);
    if (!r.deletes.empty()) {
      Json ids = Json::array();
      for (size_t i = 0; i < r.deletes.size() && i < limit; ++i) {
        ids.push_back(ToTree(IdToJson(r.deletes[i])));
      }
      b["delete_ids"] = std::move(ids);
    }
    batches.push_back(std::move(b));
  }
  j["batches"] = std::move(batches);
  return j;
}

Json ManifestJson(const format::Manifest& m) {
  Json j;
  j["version"] = m.version;
  j["indexed_through"] = m.indexed_through;
  j["created_at"] = TimeJson(m.created_ms);
  j["updated_at"] = TimeJson(m.updated_ms);
  j["writer_nonce"] = HexEncode(m.writer_nonce);
  j["schema"] = SchemaJson(m.schema);
  Json segs = Json::array();
  for (const format::SegmentRef& s : m.segments) {
    Json r;
    r["id"] = s.id;
    r["rows"] = s.rows;
    r["bytes"] = s.bytes;
    r["min_sequence"] = s.min_sequence;
    r["max_sequence"] = s.max_sequence;
    r["deleted_rows"] = s.deleted_rows;
    r["deletes_key"] = s.deletes_key.empty() ? Json(nullptr) : Json(s.deletes_key);
    segs.push_back(std::move(r));
  }
  j["segments"] = std::move(segs);
  return j;
}

std::string_view BlockKindName(format::SegmentBlockKind k) {
  switch (k) {
    case format::SegmentBlockKind::kIds:
      return "ids";
    case format::SegmentBlockKind::kVectorPresence:
      return "vector_presence";
    case format::SegmentBlockKind::kVectors:
      return "vectors";
    case format::SegmentBlockKind::kVectorChunks:
      return "vector_chunks";
    case format::SegmentBlockKind::kColumn:
      return "column";
  }
  return "unknown";
}

Result<Json> SegmentJson(std::string_view bytes, bool full, size_t limit) {
  GANNET_ASSIGN_OR_RETURN(std::shared_ptr<const format::Segment> seg,
                          format::Segment::Decode(bytes));
  Json j;
  j["rows"] = seg->rows();
  j["dims"] = seg->dims();
  if (seg->dims() > 0) {
    j["vector_type"] = AttrType::Vector(seg->dims(), seg->vector_elem()).ToString();
    size_t with_vector = 0;
    for (size_t r = 0; r < seg->rows(); ++r) with_vector += seg->has_vector(r) ? 1 : 0;
    j["rows_with_vector"] = with_vector;
  }
  if (seg->rows() > 0) {
    j["min_id"] = ToTree(IdToJson(seg->ids().front()));
    j["max_id"] = ToTree(IdToJson(seg->ids().back()));
  }
  Json cols = Json::array();
  for (const format::Segment::Column& c : seg->columns()) {
    size_t present = 0;
    for (const Value& v : c.values) present += v.is_null() ? 0 : 1;
    cols.push_back({{"name", c.name}, {"type", c.type.ToString()}, {"present", present}});
  }
  j["columns"] = std::move(cols);
  // The block layout, from the directory at the end of the object.
  if (bytes.size() >= format::kSegmentTailBytes) {
    auto loc = format::LocateSegmentDirectory(
        bytes.substr(bytes.size() - format::kSegmentTailBytes), bytes.size());
    if (loc.ok() && loc->offset + loc->length <= bytes.size()) {
      auto dir = format::DecodeSegmentDirectory(bytes.substr(loc->offset, loc->length), *loc);
      if (dir.ok()) {
        Json blocks = Json::array();
        for (const format::SegmentBlockRef& b : dir->blocks) {
          Json jb;
          jb["block"] = BlockKindName(b.kind);
          if (b.kind == format::SegmentBlockKind::kColumn) jb["name"] = b.name;
          jb["offset"] = b.offset;
          jb["stored_bytes"] = b.stored_bytes;
          jb["raw_bytes"] = b.raw_bytes;
          jb["zstd"] = b.zstd;
          blocks.push_back(std::move(jb));
        }
        j["blocks"] = std::move(blocks);
      }
    }
  }
  Json docs = Json::array();
  for (size_t r = 0; r < seg->rows() && r < limit; ++r) {
    Result<Document> doc = seg->GetDocument(r);  // resident: cannot fail
    if (doc.ok()) docs.push_back(DocJson(*doc, full));
  }
  j["documents"] = std::move(docs);
  return j;
}

// `inspect --verify NS`: reads and checks every object of a namespace. Exit 1 when
// anything is damaged.
int VerifyNamespace(Context& ctx, const Args& args) {
  Result<Database*> db = ctx.db();
  if (!db.ok()) return ReportError(db.status());
  Result<std::shared_ptr<Namespace>> ns = (*db)->OpenNamespace(args.positional[0]);
  if (!ns.ok()) return ReportError(ns.status());
  Result<VerifyReport> report = (*ns)->Verify();
  if (!report.ok()) return ReportError(report.status());
  Json out;
  out["namespace"] = args.positional[0];
  out["ok"] = report->problems.empty();
  out["objects_checked"] = report->objects_checked;
  out["bytes_checked"] = report->bytes_checked;
  out["unreferenced_objects"] = report->unreferenced_objects;
  out["unknown_objects"] = report->unknown_objects;
  out["problems"] = report->problems;
  PrintJson(out, args.Flag("pretty"));
  if (report->problems.empty()) return kExitOk;
  return ReportError(Status::Corruption(std::to_string(report->problems.size()) +
                                        " problem(s) in namespace '" + args.positional[0] +
                                        "', first: " + report->problems.front()));
}

}  // namespace

int CmdInspect(Context& ctx, const Args& args) {
  if (std::string e = CheckAllowed(args, {"full", "limit", "pretty", "verify"}); !e.empty()) {
    return UsageError(e, kUsage);
  }
  if (args.positional.size() != 1) return UsageError("inspect: expected one path or key", kUsage);
  if (args.Flag("verify")) return VerifyNamespace(ctx, args);
  const bool full = args.Flag("full");
  std::optional<size_t> limit_opt;
  if (auto v = args.Option("limit")) {
    auto n = ParseUint(*v);
    if (!n) return UsageError("--limit: expected a non-negative integer, got '" + *v + "'", kUsage);
    limit_opt = *n;
  }
  const std::string& target = args.positional[0];
  std::string path = target;
  if (!IsRegularFile(path)) {
    std::string in_data = ctx.data_dir() + "/" + target;
    if (!IsRegularFile(in_data)) {
      return ReportError(Status::NotFound("no file '" + target + "' and no object '" + target +
                                          "' in " + ctx.data_dir()));
    }
    path = in_data;
  }
  Result<std::string> bytes = ReadFile(path);
  if (!bytes.ok()) return ReportError(bytes.status());

  std::optional<format::ObjectKind> kind;
  for (format::ObjectKind k :
       {format::ObjectKind::kWalEntry, format::ObjectKind::kManifest, format::ObjectKind::kSegment,
        format::ObjectKind::kDeletionVector, format::ObjectKind::kVectorIndex}) {
    if (bytes->size() >= 8 && std::string_view(*bytes).substr(0, 8) == format::FrameMagic(k)) {
      kind = k;
    }
  }
  if (!kind) {
    std::string head = bytes->substr(0, std::min<size_t>(8, bytes->size()));
    return ReportError(Status::Corruption("'" + target + "' is not a Gannet object (magic " +
                                          HexEncode(head) + ")"));
  }

  Json out;
  switch (*kind) {
    case format::ObjectKind::kWalEntry: {
      Result<format::WalEntry> e = format::DecodeWalEntry(*bytes);
      if (!e.ok()) return ReportError(e.status());
      out = WalJson(*e, full, limit_opt.value_or(SIZE_MAX));
      break;
    }
    case format::ObjectKind::kManifest: {
      Result<format::Manifest> m = format::DecodeManifest(*bytes);
      if (!m.ok()) return ReportError(m.status());
      out = ManifestJson(*m);
      break;
    }
    case format::ObjectKind::kSegment: {
      Result<Json> s = SegmentJson(*bytes, full, limit_opt.value_or(10));
      if (!s.ok()) return ReportError(s.status());
      out = std::move(*s);
      break;
    }
    case format::ObjectKind::kDeletionVector: {
      Result<std::vector<uint32_t>> rows = format::DecodeDeletionVector(*bytes);
      if (!rows.ok()) return ReportError(rows.status());
      out["row_count"] = rows->size();
      Json a = Json::array();
      for (size_t i = 0; i < rows->size() && i < limit_opt.value_or(SIZE_MAX); ++i) {
        a.push_back((*rows)[i]);
      }
      out["rows"] = std::move(a);
      break;
    }
    case format::ObjectKind::kVectorIndex: {
      Result<std::shared_ptr<const index::IvfIndex>> ix = index::IvfIndex::Decode(*bytes);
      if (!ix.ok()) return ReportError(ix.status());
      out["metric"] = std::string(DistanceMetricName((*ix)->metric()));
      out["dims"] = (*ix)->dims();
      out["segment_rows"] = (*ix)->rows();
      out["indexed_rows"] = (*ix)->indexed_rows();
      out["postings"] = (*ix)->postings();  // with boundary replicas
      out["lists"] = (*ix)->lists();
      // List sizes (balance decides how many rows a probe reads): min, median, p90, max.
      std::vector<size_t> sizes;
      for (size_t l = 0; l < (*ix)->lists(); ++l) sizes.push_back((*ix)->list_size(l));
      std::sort(sizes.begin(), sizes.end());
      if (!sizes.empty()) {
        out["list_rows"] = {{"min", sizes.front()},
                            {"p50", sizes[sizes.size() / 2]},
                            {"p90", sizes[sizes.size() * 9 / 10]},
                            {"max", sizes.back()}};
      }
      Json curves = Json::array();
      for (const auto& c : (*ix)->calibration()) {
        Json points = Json::array();
        for (const auto& [nprobe, recall] : c.points) points.push_back({nprobe, recall});
        Json curve = {{"k", c.k}, {"nprobe_recall", std::move(points)}};
        if (!c.errors.empty()) curve["standard_errors"] = c.errors;
        curves.push_back(std::move(curve));
      }
      out["calibration"] = std::move(curves);
      break;
    }
    default:  // a kind this command does not decode yet: the envelope facts below only
      break;
  }
  // The kind, then envelope facts, then the kind-specific fields.
  Json result;
  result["kind"] = format::ObjectKindName(*kind);
  result["path"] = path;
  result["bytes"] = bytes->size();
  Result<format::FrameHeader> header = format::ParseFrameHeader(
      *kind, std::string_view(*bytes).substr(0, format::kFrameHeaderBytes), bytes->size());
  if (header.ok()) {
    result["format_version"] = header->version;
    result["compressed"] = (header->flags & format::kFrameFlagZstd) != 0;
    result["payload_bytes"] = header->raw_bytes;
  }
  for (auto it = out.begin(); it != out.end(); ++it) {
    if (it.key() != "kind") result[it.key()] = it.value();
  }
  PrintJson(result, args.Flag("pretty"));
  return kExitOk;
}

}  // namespace gannet::cli
