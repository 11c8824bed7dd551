// The `gannet._gannet` extension: the embedded engine for the Python package.
//
// Thin by design: requests cross the boundary in the shapes of the HTTP API
// (gannet/json.h), and responses as JSON text too, except query responses. A query body
// arrives as the request dict, written to JSON text here (JsonWriter; anything beyond plain
// dicts, lists, strings, numbers, booleans and None goes through the package's own encoder,
// gannet._encode.dumps, so both give the same text and the same errors) and parsed by the
// engine's one request parser. Its response is built as Python objects straight from the
// serializer's events (gannet::JsonEvents), the same document the HTTP server sends, except
// that each result row is a gannet.Row; no JSON text is printed or re-parsed. So
// `gannet.open(...)` and `gannet.connect(...)` share the request building and response
// decoding in python/gannet/. Engine work runs with the GIL released. A failed call raises
// the typed exception from gannet._errors that matches the Status code
// (gannet._errors.from_code), carrying the engine's message.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>
#include <nanobind/stl/unique_ptr.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "gannet/database.h"
#include "gannet/json.h"

namespace nb = nanobind;

namespace {

using gannet::Result;
using gannet::Status;

// Raises the gannet._errors exception for `st` (GIL held).
[[noreturn]] void Raise(const Status& st) {
  nb::object errors = nb::module_::import_("gannet._errors");
  nb::object exc =
      errors.attr("from_code")(std::string(gannet::StatusCodeName(st.code())), st.message());
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
  throw nb::python_error();
}

// The package's Python pieces the extension uses, looked up once (GIL held).
struct PyHooks {
  nb::object row_type;                      // gannet._types.Row
  nb::object decode_vector;                 // gannet._types.decode_vector
  nb::object dumps;                         // gannet._encode.dumps: the fallback request encoder
  nb::object id, dist, attributes, vector;  // interned names

  static const PyHooks& Get() {
    static const PyHooks* hooks = [] {
      auto* h = new PyHooks();  // never freed: lives as long as the interpreter's modules
      nb::object types = nb::module_::import_("gannet._types");
      h->row_type = types.attr("Row");
      h->decode_vector = types.attr("decode_vector");
      h->dumps = nb::module_::import_("gannet._encode").attr("dumps");
      h->id = nb::steal(PyUnicode_InternFromString("id"));
      h->dist = nb::steal(PyUnicode_InternFromString("dist"));
      h->attributes = nb::steal(PyUnicode_InternFromString("attributes"));
      h->vector = nb::steal(PyUnicode_InternFromString("vector"));
      return h;
    }();
    return *hooks;
  }
};

// Builds the Python object of a query response from its serializer events (GIL held):
// dicts, lists, str, int, float, bool and None, as json.loads would give, except that each
// result row (the elements of "rows" and "fused" at the top, and of "rows" in each of
// "results") is a gannet.Row, as Row.from_json would make it (its "vector" attribute
// decoded by decode_vector). Vector elements are the f32 values widened to float
// (json.loads would read their shortest decimal form, which rounds to the same f32).
// Invalid UTF-8 in strings (possible only through the C++ API) is replaced by U+FFFD per
// maximal invalid sequence (the serializer: per byte).
class PyResponseBuilder final : public gannet::JsonEvents {
 public:
  explicit PyResponseBuilder(const PyHooks& hooks) : hooks_(hooks) {}

  nb::object Take() { return std::move(root_); }

  void BeginObject() override {
    const Kind parent = stack_.empty() ? Kind::kNone : stack_.back().kind;
    if (parent == Kind::kRows) {
      // A row: its id and $dist are kept aside, the rest goes to its attributes dict.
      stack_.push_back({nb::steal(PyDict_New()), Kind::kRow});
      if (!stack_.back().container.is_valid()) throw nb::python_error();
      row_id_ = nb::none();
      row_dist_ = nb::none();
      return;
    }
    Kind kind = Kind::kOther;
    if (parent == Kind::kNone) kind = Kind::kTop;
    if (parent == Kind::kResults) kind = Kind::kResult;
    Open(nb::steal(PyDict_New()), kind);
  }
  void EndObject() override {
    if (stack_.back().kind != Kind::kRow) {
      stack_.pop_back();
      return;
    }
    nb::object attrs = std::move(stack_.back().container);
    stack_.pop_back();
    if (PyObject* v = PyDict_GetItemWithError(attrs.ptr(), hooks_.vector.ptr())) {
      nb::object decoded = hooks_.decode_vector(nb::handle(v));
      if (PyDict_SetItem(attrs.ptr(), hooks_.vector.ptr(), decoded.ptr()) != 0) {
        throw nb::python_error();
      }
    } else if (PyErr_Occurred()) {
      throw nb::python_error();
    }
    auto* type = reinterpret_cast<PyTypeObject*>(hooks_.row_type.ptr());
    nb::object row = nb::steal(type->tp_alloc(type, 0));
    if (!row.is_valid() || PyObject_SetAttr(row.ptr(), hooks_.id.ptr(), row_id_.ptr()) != 0 ||
        PyObject_SetAttr(row.ptr(), hooks_.dist.ptr(), row_dist_.ptr()) != 0 ||
        PyObject_SetAttr(row.ptr(), hooks_.attributes.ptr(), attrs.ptr()) != 0) {
      throw nb::python_error();
    }
    Add(row);
  }
  void BeginArray() override {
    const Kind parent = stack_.empty() ? Kind::kNone : stack_.back().kind;
    Kind kind = Kind::kOther;
    if (parent == Kind::kTop && (key_text_ == "rows" || key_text_ == "fused")) kind = Kind::kRows;
    if (parent == Kind::kTop && key_text_ == "results") kind = Kind::kResults;
    if (parent == Kind::kResult && key_text_ == "rows") kind = Kind::kRows;
    Open(nb::steal(PyList_New(0)), kind);
  }
  void EndArray() override { stack_.pop_back(); }
  void Key(std::string_view k) override {
    // Keys repeat in every row ("id", "$dist", attribute names) and every response
    // ("rows", the performance figures): each distinct key is made once per process, up
    // to kMaxCachedKeys of them (str objects cache their hash for the dict inserts).
    std::vector<CachedKey>& keys = CachedKeys();
    for (const CachedKey& c : keys) {
      if (c.text == k) {
        key_ = c.str;
        key_text_ = c.text;
        return;
      }
    }
    PyObject* str = Str(k).release().ptr();
    PyUnicode_InternInPlace(&str);
    key_ = nb::steal(str);
    key_text_storage_.assign(k);
    key_text_ = key_text_storage_;
    if (keys.size() < kMaxCachedKeys) keys.push_back({std::string(k), key_});
  }
  void Null() override { Add(nb::none()); }
  void Bool(bool b) override { Add(nb::bool_(b)); }
  void Int(int64_t v) override { Add(nb::steal(PyLong_FromLongLong(v))); }
  void Uint(uint64_t v) override { Add(nb::steal(PyLong_FromUnsignedLongLong(v))); }
  void Double(double d) override {
    if (!std::isfinite(d)) return Null();  // as the serializer
    Add(nb::steal(PyFloat_FromDouble(d)));
  }
  void Float(float f) override { Double(f); }
  void String(std::string_view s) override { Add(Str(s)); }

 private:
  // Where a container sits in the response; kRows' objects become Rows.
  enum class Kind { kNone, kTop, kResults, kResult, kRows, kRow, kOther };
  struct Frame {
    nb::object container;
    Kind kind;
  };

  static nb::object Str(std::string_view s) {
    PyObject* o = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace");
    if (o == nullptr) throw nb::python_error();
    return nb::steal(o);
  }
  void Open(nb::object container, Kind kind) {
    if (!container.is_valid()) throw nb::python_error();
    Add(container);
    stack_.push_back({std::move(container), kind});
  }
  void Add(const nb::object& v) {
    if (!v.is_valid()) throw nb::python_error();
    if (stack_.empty()) {
      root_ = v;
      return;
    }
    const Frame& top = stack_.back();
    if (top.kind == Kind::kRow && key_text_ == "id") {
      row_id_ = v;
    } else if (top.kind == Kind::kRow && key_text_ == "$dist") {
      row_dist_ = v;
    } else if (PyList_Check(top.container.ptr())) {
      if (PyList_Append(top.container.ptr(), v.ptr()) != 0) throw nb::python_error();
    } else if (PyDict_SetItem(top.container.ptr(), key_.ptr(), v.ptr()) != 0) {
      throw nb::python_error();
    }
  }

  struct CachedKey {
    std::string text;
    nb::object str;
  };
  static constexpr size_t kMaxCachedKeys = 256;
  // Shared by every response; only touched with the GIL held. Never freed (its strings
  // live as long as the interpreter).
  static std::vector<CachedKey>& CachedKeys() {
    static auto* keys = new std::vector<CachedKey>();
    return *keys;
  }

  const PyHooks& hooks_;
  nb::object root_;
  std::vector<Frame> stack_;
  nb::object key_;
  std::string_view key_text_;  // into CachedKeys() or key_text_storage_
  std::string key_text_storage_;
  nb::object row_id_, row_dist_;
};

// Writes a request object (dicts with str keys, lists, tuples, str, int, float, bool, None)
// as JSON text, as gannet._encode.dumps would (numbers in the shortest form that reads back
// equal). Returns false, with `out` unspecified, for anything else: other types (NumPy
// values, UUIDs, datetimes), non-str keys, non-finite floats, integers beyond 64 bits,
// strings with lone surrogates and nesting deeper than kMaxDepth; the caller then uses the
// package's encoder, which converts them or raises its InvalidArgument. Never sets a Python
// error. GIL held.
class JsonWriter {
 public:
  static bool Write(PyObject* o, std::string& out) { return Value(o, out, 0); }

 private:
  static constexpr int kMaxDepth = 64;

  static bool Value(PyObject* o, std::string& out, int depth) {
    if (o == Py_None) {
      out += "null";
    } else if (o == Py_True) {
      out += "true";
    } else if (o == Py_False) {
      out += "false";
    } else if (PyUnicode_CheckExact(o)) {
      return String(o, out);
    } else if (PyLong_CheckExact(o)) {
      return Integer(o, out);
    } else if (PyFloat_CheckExact(o)) {
      const double d = PyFloat_AS_DOUBLE(o);
      if (!std::isfinite(d)) return false;
      char buf[32];
      const auto r = std::to_chars(buf, buf + sizeof buf, d);
      out.append(buf, r.ptr);
      // An integral double prints without a point ("2"); keep it a JSON float as Python
      // does ("2.0"), so the parser types it the same.
      if (std::find_if(buf, r.ptr, [](char c) { return c == '.' || c == 'e'; }) == r.ptr) {
        out += ".0";
      }
    } else if (depth >= kMaxDepth) {
      return false;
    } else if (PyDict_CheckExact(o)) {
      out += '{';
      Py_ssize_t pos = 0;
      PyObject* k;
      PyObject* v;
      bool first = true;
      while (PyDict_Next(o, &pos, &k, &v)) {
        if (!PyUnicode_CheckExact(k)) return false;
        if (!first) out += ',';
        first = false;
        if (!String(k, out)) return false;
        out += ':';
        if (!Value(v, out, depth + 1)) return false;
      }
      out += '}';
    } else if (PyList_CheckExact(o) || PyTuple_CheckExact(o)) {
      out += '[';
      const Py_ssize_t n = PySequence_Fast_GET_SIZE(o);
      PyObject** items = PySequence_Fast_ITEMS(o);
      for (Py_ssize_t i = 0; i < n; ++i) {
        if (i > 0) out += ',';
        if (!Value(items[i], out, depth + 1)) return false;
      }
      out += ']';
    } else {
      return false;
    }
    return true;
  }

  static bool Integer(PyObject* o, std::string& out) {
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    char buf[24];
    std::to_chars_result r{};
    if (overflow == 0) {
      if (v == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return false;
      }
      r = std::to_chars(buf, buf + sizeof buf, v);
    } else if (overflow > 0) {
      const unsigned long long u = PyLong_AsUnsignedLongLong(o);
      if (u == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
        PyErr_Clear();
        return false;
      }
      r = std::to_chars(buf, buf + sizeof buf, u);
    } else {
      return false;
    }
    out.append(buf, r.ptr);
    return true;
  }

  static bool String(PyObject* o, std::string& out) {
    Py_ssize_t n = 0;
    const char* s = PyUnicode_AsUTF8AndSize(o, &n);
    if (s == nullptr) {  // lone surrogates
      PyErr_Clear();
      return false;
    }
    static constexpr char kHex[] = "0123456789abcdef";
    out += '"';
    for (Py_ssize_t i = 0; i < n; ++i) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (c == '"' || c == '\\') {
        out += '\\';
        out += static_cast<char>(c);
      } else if (c < 0x20) {
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 15];
      } else {
        out += static_cast<char>(c);
      }
    }
    out += '"';
    return true;
  }
};

// T of a Result<T>.
template <typename R>
struct ResultValue;
template <typename T>
struct ResultValue<Result<T>> {
  using type = T;
};

// What a query computed without the GIL, turned into Python objects with it.
struct QueryAnswer {
  gannet::QueryBody body;
  std::vector<gannet::QueryResponse> responses;
};

std::string MetadataJson(const gannet::NamespaceInfo& info) {
  using Json = nlohmann::json;
  auto time = [](int64_t ms) { return gannet::Datetime{ms}.ToString(); };
  Json j = Json::object();
  j["schema"] = Json::parse(gannet::SchemaToJson(info.schema));
  j["approx_logical_bytes"] = info.approx_logical_bytes;
  j["approx_row_count"] = info.approx_row_count;
  j["created_at"] = time(info.created_at_ms);
  j["updated_at"] = time(info.updated_at_ms);
  j["last_write_at"] = time(info.updated_at_ms);
  j["encryption"] = {{"mode", "default"}};
  if (info.unindexed_rows == 0) {
    j["index"] = {{"status", "up-to-date"}};
  } else {
    const uint64_t rows = std::max<uint64_t>(info.approx_row_count, 1);
    const auto bytes = static_cast<uint64_t>(
        static_cast<double>(info.approx_logical_bytes) *
        std::min<double>(1.0, static_cast<double>(info.unindexed_rows) / rows));
    j["index"] = {{"status", "updating"},
                  {"unindexed_rows", info.unindexed_rows},
                  {"unindexed_bytes", bytes}};
  }
  j["gannet"] = {{"wal_sequence", info.wal_sequence},
                 {"indexed_sequence", info.indexed_sequence},
                 {"segment_count", info.segment_count},
                 {"manifest_version", info.manifest_version}};
  return j.dump();
}

// One open database. Namespace handles are cached; all methods are thread-safe.
class PyDatabase {
 public:
  explicit PyDatabase(std::unique_ptr<gannet::Database> db) : db_(std::move(db)) {}
  ~PyDatabase() {
    if (db_) db_->Close();
  }
  PyDatabase(const PyDatabase&) = delete;
  PyDatabase& operator=(const PyDatabase&) = delete;

  static std::unique_ptr<PyDatabase> Open(const std::string& path) {
    Result<std::unique_ptr<gannet::Database>> db = [&] {
      nb::gil_scoped_release release;
      return gannet::Database::OpenPath(path);
    }();
    if (!db.ok()) Raise(db.status());
    return std::make_unique<PyDatabase>(std::move(db).value());
  }

  std::string Write(std::string_view ns, std::string_view body) {
    return Run([&](gannet::Database& db) -> Result<std::string> {
      Result<gannet::WriteRequest> req = gannet::ParseWriteRequest(body);
      if (!req.ok()) return req.status();
      Result<std::shared_ptr<gannet::Namespace>> handle = Handle(db, ns);
      if (!handle.ok()) return handle.status();
      Result<gannet::WriteResponse> w = (*handle)->Write(std::move(req).value());
      if (!w.ok()) return w.status();
      return gannet::WriteResponseToJson(*w);
    });
  }

  // The response as Python objects (see PyResponseBuilder). `body` is the request as a
  // dict or as JSON text.
  nb::object Query(std::string_view ns, nb::handle body) {
    const PyHooks& hooks = PyHooks::Get();
    std::string text;
    std::string_view body_text;
    if (PyUnicode_Check(body.ptr())) {
      Py_ssize_t n = 0;
      const char* s = PyUnicode_AsUTF8AndSize(body.ptr(), &n);
      if (s == nullptr) throw nb::python_error();
      body_text = std::string_view(s, static_cast<size_t>(n));
    } else {
      text.reserve(256);
      if (!JsonWriter::Write(body.ptr(), text)) text = nb::cast<std::string>(hooks.dumps(body));
      body_text = text;
    }
    QueryAnswer answer = Run([&](gannet::Database& db) -> Result<QueryAnswer> {
      GANNET_ASSIGN_OR_RETURN(gannet::QueryBody parsed, gannet::ParseQueryBody(body_text));
      GANNET_ASSIGN_OR_RETURN(std::shared_ptr<gannet::Namespace> handle, Handle(db, ns));
      QueryAnswer a{std::move(parsed), {}};
      if (!a.body.multi) {
        GANNET_ASSIGN_OR_RETURN(gannet::QueryResponse q, handle->Query(a.body.queries[0]));
        a.responses.push_back(std::move(q));
      } else {
        GANNET_ASSIGN_OR_RETURN(a.responses, handle->MultiQuery(a.body.queries));
      }
      return a;
    });
    const bool b64 = answer.body.queries[0].vector_encoding_base64;
    PyResponseBuilder out(hooks);
    if (answer.body.multi) {
      gannet::MultiQueryBodyResponseToEvents(answer.body, answer.responses, b64, out);
    } else {
      gannet::QueryResponseToEvents(answer.responses[0], b64, out);
    }
    return out.Take();
  }
  std::string Metadata(std::string_view ns) {
    return Run([&](gannet::Database& db) -> Result<std::string> {
      Result<std::shared_ptr<gannet::Namespace>> handle = Handle(db, ns);
      if (!handle.ok()) return handle.status();
      Result<gannet::NamespaceInfo> info = (*handle)->Info();
      if (!info.ok()) return info.status();
      return MetadataJson(*info);
    });
  }

  std::string GetSchema(std::string_view ns) {
    return Run([&](gannet::Database& db) -> Result<std::string> {
      Result<std::shared_ptr<gannet::Namespace>> handle = Handle(db, ns);
      if (!handle.ok()) return handle.status();
      Result<gannet::Schema> schema = (*handle)->GetSchema();
      if (!schema.ok()) return schema.status();
      return gannet::SchemaToJson(*schema);
    });
  }

  // Merges declared attribute types into the schema; returns the schema after.
  std::string UpdateSchema(std::string_view ns, std::string_view body) {
    return Run([&](gannet::Database& db) -> Result<std::string> {
      Result<gannet::Schema> schema = gannet::ParseSchema(body);
      if (!schema.ok()) return schema.status();
      Result<std::shared_ptr<gannet::Namespace>> handle = Handle(db, ns);
      if (!handle.ok()) return handle.status();
      gannet::WriteRequest w;
      w.schema = std::move(schema).value();
      Result<gannet::WriteResponse> done = (*handle)->Write(std::move(w));
      if (!done.ok()) return done.status();
      Result<gannet::Schema> after = (*handle)->GetSchema();
      if (!after.ok()) return after.status();
      return gannet::SchemaToJson(*after);
    });
  }

  void DeleteNamespace(std::string_view ns) {
    Run([&](gannet::Database& db) -> Result<std::string> {
      Status st = db.DeleteNamespace(ns);
      if (!st.ok()) return st;
      std::lock_guard<std::mutex> l(mu_);
      handles_.erase(std::string(ns));
      return std::string();
    });
  }

  // {"namespaces": [{"id": ...}], "next_cursor": ...}, as GET /v1/namespaces.
  std::string ListNamespaces(std::string_view prefix, std::string_view cursor, size_t page_size) {
    return Run([&](gannet::Database& db) -> Result<std::string> {
      Result<gannet::NamespaceList> list = db.ListNamespaces(prefix, cursor, page_size);
      if (!list.ok()) return list.status();
      nlohmann::json j = nlohmann::json::object();
      j["namespaces"] = nlohmann::json::array();
      for (const std::string& n : list->names) j["namespaces"].push_back({{"id", n}});
      if (list->next_cursor) j["next_cursor"] = *list->next_cursor;
      return j.dump();
    });
  }

  // Folds the namespace's WAL tail into a segment now.
  void IndexNow(std::string_view ns) {
    Run([&](gannet::Database& db) -> Result<std::string> {
      Result<std::shared_ptr<gannet::Namespace>> handle = Handle(db, ns);
      if (!handle.ok()) return handle.status();
      Status st = (*handle)->IndexNow();
      if (!st.ok()) return st;
      return std::string();
    });
  }

  void Close() {
    std::shared_ptr<gannet::Database> db;
    {
      std::lock_guard<std::mutex> l(mu_);
      handles_.clear();
      db = std::move(db_);
    }
    if (db) {
      nb::gil_scoped_release release;
      db->Close();
    }
  }

  bool closed() {
    std::lock_guard<std::mutex> l(mu_);
    return db_ == nullptr;
  }

 private:
  // Runs `work` (Database& -> Result<T>) without the GIL; raises its Status, returns its
  // value.
  template <typename F>
  typename ResultValue<std::invoke_result_t<F&, gannet::Database&>>::type Run(F&& work) {
    std::shared_ptr<gannet::Database> db;
    {
      std::lock_guard<std::mutex> l(mu_);
      db = db_;
    }
    if (!db) Raise(Status::InvalidArgument("the database is closed"));
    std::optional<decltype(work(*db))> out;
    {
      nb::gil_scoped_release release;
      out.emplace(work(*db));
      db.reset();  // the last reference may close the database: not under the GIL
    }
    if (!out->ok()) Raise(out->status());
    return std::move(*out).value();
  }

  Result<std::shared_ptr<gannet::Namespace>> Handle(gannet::Database& db, std::string_view ns) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = handles_.find(ns);
    if (it != handles_.end()) return it->second;
    Result<std::shared_ptr<gannet::Namespace>> handle = db.OpenNamespace(ns);
    if (handle.ok() && handles_.size() < 4096) handles_.emplace(std::string(ns), *handle);
    return handle;
  }

  std::mutex mu_;
  std::shared_ptr<gannet::Database> db_;
  std::map<std::string, std::shared_ptr<gannet::Namespace>, std::less<>> handles_;
};

}  // namespace

NB_MODULE(_gannet, m) {
  m.doc() = "Gannet's embedded engine (use gannet.open, not this module directly).";
  nb::class_<PyDatabase>(m, "Database")
      .def_static("open", &PyDatabase::Open, nb::arg("path"),
                  "Opens a local directory (created if missing) or s3://bucket/prefix.")
      .def("write", &PyDatabase::Write, nb::arg("namespace"), nb::arg("body"))
      .def("query", &PyDatabase::Query, nb::arg("namespace"), nb::arg("body"))
      .def("metadata", &PyDatabase::Metadata, nb::arg("namespace"))
      .def("schema", &PyDatabase::GetSchema, nb::arg("namespace"))
      .def("update_schema", &PyDatabase::UpdateSchema, nb::arg("namespace"), nb::arg("body"))
      .def("delete_namespace", &PyDatabase::DeleteNamespace, nb::arg("namespace"))
      .def("list_namespaces", &PyDatabase::ListNamespaces, nb::arg("prefix"), nb::arg("cursor"),
           nb::arg("page_size"))
      .def("index_now", &PyDatabase::IndexNow, nb::arg("namespace"))
      .def("close", &PyDatabase::Close)
      .def_prop_ro("closed", &PyDatabase::closed);
}
