// `gannet write NS [FILE|-|JSON]`: one JSON write request, or a JSONL stream of documents
// imported in batches of upsert_rows requests.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "cli/cli.h"
#include "gannet/json.h"

namespace gannet::cli {
namespace {

constexpr std::string_view kUsage =
    "gannet write NS [FILE|-|JSON] [--batch-rows N] [--distance-metric M] [--progress] "
    "[--pretty]";
constexpr size_t kDefaultBatchRows = 1000;
constexpr size_t kMaxBatchRows = 1'000'000;
// A batch is also committed once its JSON text reaches this size, bounding memory.
constexpr size_t kMaxBatchBytes = 64u << 20;
// A first line that is not JSON by itself may start a pretty-printed request; read at
// most this much looking for it.
constexpr size_t kMaxRequestBytes = 1u << 30;

// Keys that mark a JSON object as a write request rather than a document.
bool IsWriteRequestKey(std::string_view k) {
  static constexpr std::string_view kKeys[] = {
      "upsert_rows",      "upsert_columns",     "patch_rows",       "patch_columns",
      "deletes",          "delete_by_filter",   "distance_metric",  "schema",
      "upsert_condition", "patch_condition",    "delete_condition", "return_affected_ids",
      "patch_by_filter",  "copy_from_namespace"};
  for (std::string_view key : kKeys) {
    if (k == key) return true;
  }
  return false;
}

bool LooksLikeWriteRequest(const nlohmann::json& j) {
  if (!j.is_object()) return false;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (IsWriteRequestKey(it.key())) return true;
  }
  return false;
}

bool IsBlank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

// Checks one JSONL line without building a tree: valid JSON, an object, and its
// top-level "id" (kind-tagged text, for duplicate detection and error mapping).
class LineScanner : public nlohmann::json_sax<nlohmann::json> {
 public:
  using json = nlohmann::json;

  // Returns "" when the line is a JSON object, else what is wrong with it.
  std::string Scan(std::string_view line) {
    depth_ = 0;
    top_object_ = false;
    top_kind_.clear();
    expecting_id_ = false;
    id_.clear();
    id_text_.clear();
    error_.clear();
    bool ok = json::sax_parse(line.begin(), line.end(), this, nlohmann::json::input_format_t::json,
                              /*strict=*/true);
    if (!ok) return error_.empty() ? "malformed JSON" : error_;
    if (!top_object_) return "expected a JSON object (a document), got " + top_kind_;
    return "";
  }
  // "u:7", "i:-1", "s:abc", "x:" (not a scalar) or "" (no id).
  const std::string& id_key() const { return id_; }
  // The id as the library prints it (Id::ToString form).
  const std::string& id_text() const { return id_text_; }

  bool null() override { return Scalar("null", "x", ""); }
  bool boolean(bool) override { return Scalar("bool", "x", ""); }
  bool number_integer(number_integer_t v) override {
    return Scalar("number", "i", std::to_string(v));
  }
  bool number_unsigned(number_unsigned_t v) override {
    return Scalar("number", "u", std::to_string(v));
  }
  bool number_float(number_float_t, const string_t& s) override { return Scalar("number", "f", s); }
  bool string(string_t& s) override { return Scalar("string", "s", s); }
  bool binary(binary_t&) override { return Scalar("binary", "x", ""); }
  bool start_object(std::size_t) override {
    if (depth_ == 0) top_object_ = true;
    Nested();
    ++depth_;
    return true;
  }
  bool end_object() override {
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override {
    if (depth_ == 0) top_kind_ = "array";
    Nested();
    ++depth_;
    return true;
  }
  bool end_array() override {
    --depth_;
    return true;
  }
  bool key(string_t& k) override {
    if (depth_ == 1 && k == "id") expecting_id_ = true;
    return true;
  }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& ex) override {
    std::string what = ex.what();
    // nlohmann's text is "[json.exception.parse_error.101] parse error at line 1, column
    // 5: ..."; keep the part after the last "column N: " prefix.
    if (size_t p = what.find(": "); p != std::string::npos && what.find("column") < p) {
      what = what.substr(p + 2);
    } else if (size_t b = what.find("] "); b != std::string::npos) {
      what = what.substr(b + 2);
    }
    error_ = "malformed JSON at byte " + std::to_string(position) + ": " + what;
    return false;
  }

 private:
  bool Scalar(const char* kind, const char* tag, std::string text) {
    if (depth_ == 0) top_kind_ = kind;
    if (depth_ == 1 && expecting_id_) {
      id_ = std::string(tag) + ":" + text;
      id_text_ = std::move(text);
      expecting_id_ = false;
    }
    return true;
  }
  void Nested() {
    if (depth_ == 1 && expecting_id_) {
      id_ = "x:";
      expecting_id_ = false;
    }
  }

  int depth_ = 0;
  bool top_object_ = false;
  std::string top_kind_;
  bool expecting_id_ = false;
  std::string id_, id_text_, error_;
};

double MiB(uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

std::string Fixed(double v, int digits) {
  std::ostringstream ss;
  ss << std::fixed << std::setprecision(digits) << v;
  return ss.str();
}

// Streams JSONL documents into batched upsert_rows writes.
class JsonlImporter {
 public:
  JsonlImporter(Namespace& ns, size_t batch_rows, std::optional<DistanceMetric> metric,
                bool progress, bool progress_tty)
      : ns_(ns),
        batch_rows_(batch_rows),
        metric_(metric),
        progress_(progress),
        progress_tty_(progress_tty),
        start_(Clock::now()),
        last_report_(start_) {}

  // Adds line number `line_no` (1-based) holding `line`. Blank lines are skipped.
  Status AddLine(size_t line_no, std::string_view line) {
    bytes_in_ += line.size() + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (IsBlank(line)) return Status::OK();
    std::string problem = scanner_.Scan(line);
    if (!problem.empty()) return LineError(line_no, problem);
    const std::string& id = scanner_.id_key();
    if (id.empty()) return LineError(line_no, "document has no \"id\"");
    // A repeated id starts a new batch, so the later line wins as in sequential upserts.
    if (batch_ids_.count(id) > 0) GANNET_RETURN_IF_ERROR(Flush());
    batch_ids_.emplace(id, line_no);
    if (!scanner_.id_text().empty()) id_lines_.emplace(scanner_.id_text(), line_no);
    batch_text_.append(batch_lines_.empty() ? "" : ",");
    batch_text_.append(line);
    batch_lines_.push_back(line_no);
    if (batch_lines_.size() >= batch_rows_ || batch_text_.size() >= kMaxBatchBytes) {
      GANNET_RETURN_IF_ERROR(Flush());
    }
    MaybeReport();
    return Status::OK();
  }

  // Commits the pending batch, if any.
  Status Flush() {
    if (batch_lines_.empty()) return Status::OK();
    std::string text = "{";
    if (metric_) {
      text += "\"distance_metric\":\"" + std::string(DistanceMetricName(*metric_)) + "\",";
    }
    text += "\"upsert_rows\":[";
    text += batch_text_;
    text += "]}";
    Result<WriteRequest> req = ParseWriteRequest(text);
    if (!req.ok()) return BatchError(ParseErrorWithLine(req.status()));
    Result<WriteResponse> resp = ns_.Write(std::move(req).value());
    if (!resp.ok()) return BatchError(WriteErrorWithLine(resp.status()));
    rows_ += batch_lines_.size();
    last_committed_line_ = batch_lines_.back();
    wal_sequence_ = resp->wal_sequence;
    ++batches_;
    batch_text_.clear();
    batch_lines_.clear();
    batch_ids_.clear();
    id_lines_.clear();
    MaybeReport();
    return Status::OK();
  }

  void FinishProgress() {
    if (reported_ && progress_tty_) std::cerr << "\n";
  }

  std::string Summary() const {
    double secs = Seconds();
    double rate = secs > 0 ? static_cast<double>(rows_) / secs : 0;
    return "imported " + std::to_string(rows_) + " rows in " + std::to_string(batches_) +
           " batches (" + Fixed(MiB(bytes_in_), 1) + " MB) in " + Fixed(secs, 2) +
           "s: " + Fixed(rate, 0) + " rows/s, " + Fixed(secs > 0 ? MiB(bytes_in_) / secs : 0, 1) +
           " MB/s";
  }

  nlohmann::ordered_json SummaryJson() const {
    nlohmann::ordered_json j;
    j["rows_upserted"] = rows_;
    j["batches"] = batches_;
    j["bytes_read"] = bytes_in_;
    j["seconds"] = std::round(Seconds() * 1000) / 1000;
    j["wal_sequence"] = wal_sequence_;
    return j;
  }

 private:
  using Clock = std::chrono::steady_clock;

  double Seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

  void MaybeReport() {
    if (!progress_) return;
    Clock::time_point now = Clock::now();
    if (now - last_report_ < std::chrono::seconds(1)) return;
    last_report_ = now;
    double secs = Seconds();
    std::string line = "written " + std::to_string(rows_) + " rows, " +
                       Fixed(static_cast<double>(rows_) / secs, 0) + " rows/s, " +
                       Fixed(MiB(bytes_in_) / secs, 1) + " MB/s";
    if (progress_tty_) {
      std::cerr << "\r\033[K" << line << std::flush;
    } else {
      std::cerr << line << "\n" << std::flush;
    }
    reported_ = true;
  }

  std::string CommittedNote() const {
    if (rows_ == 0) return "nothing was written";
    return std::to_string(rows_) + " rows from earlier batches (lines 1-" +
           std::to_string(last_committed_line_) + ") were committed; the failing batch (lines " +
           std::to_string(batch_lines_.front()) + "-" + std::to_string(batch_lines_.back()) +
           ") was not applied";
  }

  Status LineError(size_t line_no, std::string_view problem) {
    std::string note = rows_ == 0 ? "nothing was written"
                                  : std::to_string(rows_) + " rows from earlier batches (lines 1-" +
                                        std::to_string(last_committed_line_) +
                                        ") were committed; the current batch was not applied";
    return Status::InvalidArgument("line " + std::to_string(line_no) + ": " + std::string(problem) +
                                   " (" + note + ")");
  }

  Status BatchError(const Status& s) const {
    return Status(s.code(), s.message() + " (" + CommittedNote() + ")");
  }

  // "upsert_rows[3].price: ..." -> "line 1004: upsert_rows[3].price: ...".
  Status ParseErrorWithLine(const Status& s) const {
    const std::string& m = s.message();
    constexpr std::string_view kPrefix = "upsert_rows[";
    size_t p = m.find(kPrefix);
    if (p != std::string::npos) {
      size_t end = m.find(']', p);
      if (end != std::string::npos) {
        auto idx =
            ParseUint(std::string_view(m).substr(p + kPrefix.size(), end - p - kPrefix.size()));
        if (idx && *idx < batch_lines_.size()) {
          return s.WithContext("line " + std::to_string(batch_lines_[*idx]));
        }
      }
    }
    return s.WithContext(LineRange());
  }

  // "upsert id=7: attribute ..." -> "line 12: upsert id=7: attribute ...".
  Status WriteErrorWithLine(const Status& s) const {
    const std::string& m = s.message();
    size_t p = m.find("id=");
    if (p != std::string::npos) {
      size_t start = p + 3;
      size_t end = m.find(": ", start);
      std::string id = m.substr(start, end == std::string::npos ? std::string::npos : end - start);
      auto it = id_lines_.find(id);
      if (it != id_lines_.end()) return s.WithContext("line " + std::to_string(it->second));
    }
    return s.WithContext(LineRange());
  }

  std::string LineRange() const {
    return "lines " + std::to_string(batch_lines_.front()) + "-" +
           std::to_string(batch_lines_.back());
  }

  Namespace& ns_;
  const size_t batch_rows_;
  const std::optional<DistanceMetric> metric_;
  const bool progress_, progress_tty_;
  LineScanner scanner_;

  std::string batch_text_;
  std::vector<size_t> batch_lines_;
  std::unordered_map<std::string, size_t> batch_ids_;  // kind-tagged id -> line
  std::unordered_map<std::string, size_t> id_lines_;   // printed id -> line
  uint64_t rows_ = 0, batches_ = 0, bytes_in_ = 0, wal_sequence_ = 0;
  size_t last_committed_line_ = 0;
  Clock::time_point start_, last_report_;
  bool reported_ = false;
};

int WriteRequestText(Namespace& ns, std::string_view text, bool pretty) {
  Result<WriteRequest> req = ParseWriteRequest(text);
  if (!req.ok()) return ReportError(req.status());
  Result<WriteResponse> resp = ns.Write(std::move(req).value());
  if (!resp.ok()) return ReportError(resp.status());
  PrintJsonText(WriteResponseToJson(*resp), pretty);
  return kExitOk;
}

}  // namespace

int CmdWrite(Context& ctx, const Args& args) {
  if (std::string e = CheckAllowed(args, {"batch-rows", "distance-metric", "progress", "pretty"});
      !e.empty()) {
    return UsageError(e, kUsage);
  }
  if (args.positional.empty()) return UsageError("write: missing namespace", kUsage);
  if (args.positional.size() > 2) {
    return UsageError("write: unexpected argument '" + args.positional[2] + "'", kUsage);
  }
  const std::string& ns_name = args.positional[0];
  std::string source = args.positional.size() > 1 ? args.positional[1] : "-";
  size_t batch_rows = kDefaultBatchRows;
  if (auto v = args.Option("batch-rows")) {
    auto n = ParseUint(*v);
    if (!n || *n == 0 || *n > kMaxBatchRows) {
      return UsageError("--batch-rows: expected an integer in 1.." + std::to_string(kMaxBatchRows) +
                            ", got '" + *v + "'",
                        kUsage);
    }
    batch_rows = *n;
  }
  std::optional<DistanceMetric> metric;
  if (auto v = args.Option("distance-metric")) {
    Result<DistanceMetric> m = ParseDistanceMetric(*v);
    if (!m.ok()) return UsageError("--distance-metric: " + m.status().message(), kUsage);
    metric = *m;
  }
  if (Status s = ValidateNamespaceName(ns_name); !s.ok()) return ReportError(s);

  // The input stream: inline JSON, stdin, or a file.
  std::unique_ptr<std::istream> owned;
  std::istream* in = nullptr;
  if (!source.empty() && (source.front() == '{' || source.front() == '[')) {
    owned = std::make_unique<std::istringstream>(source);
    in = owned.get();
  } else if (source == "-") {
    if (ctx.in_shell()) {
      return ReportError(
          Status::InvalidArgument("cannot read stdin inside the shell; give the JSON inline"));
    }
    in = &std::cin;
  } else {
    auto f = std::make_unique<std::ifstream>(source, std::ios::binary);
    if (!*f) return ReportError(Status::NotFound("cannot open file '" + source + "'"));
    owned = std::move(f);
    in = owned.get();
  }

  Result<Database*> db = ctx.db();
  if (!db.ok()) return ReportError(db.status());
  Result<std::shared_ptr<Namespace>> ns = (*db)->OpenNamespace(ns_name);
  if (!ns.ok()) return ReportError(ns.status());
  const bool pretty = args.Flag("pretty");

  // Find the first non-blank line and decide between one request and JSONL.
  std::string line;
  size_t line_no = 0;
  size_t first_line_no = 0;
  bool have_first = false;
  while (std::getline(*in, line)) {
    ++line_no;
    if (!IsBlank(line)) {
      have_first = true;
      first_line_no = line_no;
      break;
    }
  }
  if (!have_first) return ReportError(Status::InvalidArgument("write: the input is empty"));

  nlohmann::json first = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (first.is_discarded()) {
    // Not JSON by itself: maybe the first line of a pretty-printed request.
    std::string whole = line;
    std::string next;
    bool too_big = false;
    while (std::getline(*in, next)) {
      whole.push_back('\n');
      whole += next;
      if (whole.size() > kMaxRequestBytes) {
        too_big = true;
        break;
      }
    }
    if (!too_big) {
      nlohmann::json j = nlohmann::json::parse(whole, nullptr, /*allow_exceptions=*/false);
      if (!j.is_discarded() && j.is_object()) return WriteRequestText(**ns, whole, pretty);
    }
    // Fall through to JSONL, which reports the first line's problem.
  } else if (LooksLikeWriteRequest(first)) {
    std::string whole = line;
    std::string next;
    while (std::getline(*in, next)) {
      whole.push_back('\n');
      whole += next;
    }
    return WriteRequestText(**ns, whole, pretty);
  }

  const bool tty = isatty(STDERR_FILENO) == 1;
  JsonlImporter importer(**ns, batch_rows, metric, tty || args.Flag("progress"), tty);
  Status s = importer.AddLine(first_line_no, line);
  while (s.ok() && std::getline(*in, line)) {
    ++line_no;
    s = importer.AddLine(line_no, line);
  }
  if (s.ok() && in->bad()) s = Status::IOError("reading the input failed");
  if (s.ok()) s = importer.Flush();
  importer.FinishProgress();
  if (!s.ok()) return ReportError(s);
  std::cerr << importer.Summary() << "\n";
  PrintJson(importer.SummaryJson(), pretty);
  return kExitOk;
}

}  // namespace gannet::cli
