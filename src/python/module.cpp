// The `gannet._gannet` extension: the embedded engine for the Python package.
//
// Thin by design: requests cross the boundary as JSON text in the shapes of the HTTP API
// (gannet/json.h), and responses as JSON text too, except query responses: those are
// built as Python objects straight from the serializer's events (gannet::JsonEvents), the
// same document the HTTP server sends, without printing and re-parsing it. So
// `gannet.open(...)` and `gannet.connect(...)` share the request building and response
// decoding in python/gannet/. Engine work runs with the GIL released. A failed call raises the
// typed exception from gannet._errors that matches the Status code (gannet._errors.from_code),
// carrying the engine's message.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>
#include <nanobind/stl/unique_ptr.h>

#include <algorithm>
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

// Builds the Python object of a JSON document from its events (GIL held): dicts, lists,
// str, int, float, bool and None, as json.loads would give. Vector elements are the f32
// values widened to float (json.loads would read their shortest decimal form, which
// rounds to the same f32). Invalid UTF-8 in strings (possible only through the C++ API)
// is replaced by U+FFFD per maximal invalid sequence (the serializer: per byte).
class PyObjectBuilder final : public gannet::JsonEvents {
 public:
  nb::object Take() { return std::move(root_); }

  void BeginObject() override { Open(nb::steal(PyDict_New())); }
  void EndObject() override { stack_.pop_back(); }
  void BeginArray() override { Open(nb::steal(PyList_New(0))); }
  void EndArray() override { stack_.pop_back(); }
  void Key(std::string_view k) override {
    // Keys repeat in every row ("id", "$dist", attribute names): each distinct key is
    // made once per response (str objects cache their hash for the dict inserts).
    for (const CachedKey& c : keys_) {
      if (c.text.size() == k.size() && std::memcmp(c.text.data(), k.data(), k.size()) == 0) {
        key_ = c.str;
        return;
      }
    }
    key_ = Str(k);
    if (keys_.size() < kMaxCachedKeys) keys_.push_back({std::string(k), key_});
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
  static nb::object Str(std::string_view s) {
    PyObject* o = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace");
    if (o == nullptr) throw nb::python_error();
    return nb::steal(o);
  }
  void Open(nb::object container) {
    if (!container.is_valid()) throw nb::python_error();
    Add(container);
    stack_.push_back(std::move(container));
  }
  void Add(const nb::object& v) {
    if (!v.is_valid()) throw nb::python_error();
    if (stack_.empty()) {
      root_ = v;
    } else if (PyList_Check(stack_.back().ptr())) {
      if (PyList_Append(stack_.back().ptr(), v.ptr()) != 0) throw nb::python_error();
    } else if (PyDict_SetItem(stack_.back().ptr(), key_.ptr(), v.ptr()) != 0) {
      throw nb::python_error();
    }
  }

  struct CachedKey {
    std::string text;
    nb::object str;
  };
  static constexpr size_t kMaxCachedKeys = 64;

  nb::object root_;
  std::vector<nb::object> stack_;
  nb::object key_;
  std::vector<CachedKey> keys_;
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

  // The response as Python objects (what json.loads of the HTTP response gives).
  nb::object Query(std::string_view ns, std::string_view body) {
    QueryAnswer answer = Run([&](gannet::Database& db) -> Result<QueryAnswer> {
      GANNET_ASSIGN_OR_RETURN(gannet::QueryBody parsed, gannet::ParseQueryBody(body));
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
    PyObjectBuilder out;
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
