// Status and Result<T>: how every fallible Gannet call reports failure.
//
// No exception crosses the public API. A Status is cheap to copy when OK (no heap
// allocation) and carries a code plus a human-readable message otherwise. Messages name
// the thing that was wrong ("row 7: attribute 'price': expected float, got string").
//
// Thread safety: Status and Result are values; distinct objects may be used from
// different threads freely.
#pragma once

#include <cassert>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace gannet {

enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument = 1,     // the caller's input is wrong; retrying will not help
  kNotFound = 2,            // key, namespace or object does not exist
  kAlreadyExists = 3,       // PutIfAbsent on an existing key
  kPreconditionFailed = 4,  // PutIfMatch with a stale etag
  kCorruption = 5,          // a checksum, magic number or structure check failed
  kIOError = 6,             // the OS or the object store failed definitively
  kUnavailable = 7,         // transient: timeout, throttling; the operation MAY have applied
  kResourceExhausted = 8,   // a limit or budget was hit
  kConflict = 9,            // a condition or a race was lost; re-read and retry
  kPermissionDenied = 10,   // authentication / authorisation
  kInternal = 11,           // a bug: an invariant of Gannet's own was violated
};

// Name of a code, e.g. "InvalidArgument".
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message)
      : rep_(code == StatusCode::kOk ? nullptr
                                     : std::make_shared<Rep>(Rep{code, std::move(message)})) {}

  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status PreconditionFailed(std::string m) {
    return {StatusCode::kPreconditionFailed, std::move(m)};
  }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status IOError(std::string m) { return {StatusCode::kIOError, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status ResourceExhausted(std::string m) {
    return {StatusCode::kResourceExhausted, std::move(m)};
  }
  static Status Conflict(std::string m) { return {StatusCode::kConflict, std::move(m)}; }
  static Status PermissionDenied(std::string m) {
    return {StatusCode::kPermissionDenied, std::move(m)};
  }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return rep_ == nullptr; }
  StatusCode code() const { return rep_ ? rep_->code : StatusCode::kOk; }
  const std::string& message() const {
    static const std::string kEmpty;
    return rep_ ? rep_->message : kEmpty;
  }
  bool IsNotFound() const { return code() == StatusCode::kNotFound; }
  bool IsAlreadyExists() const { return code() == StatusCode::kAlreadyExists; }
  bool IsPreconditionFailed() const { return code() == StatusCode::kPreconditionFailed; }
  bool IsCorruption() const { return code() == StatusCode::kCorruption; }
  bool IsInvalidArgument() const { return code() == StatusCode::kInvalidArgument; }
  bool IsUnavailable() const { return code() == StatusCode::kUnavailable; }

  // A copy with "context: " prepended to the message. OK stays OK.
  Status WithContext(std::string_view context) const {
    if (ok()) return *this;
    return Status(code(), std::string(context) + ": " + message());
  }

  // "InvalidArgument: message", or "OK".
  std::string ToString() const;

  // Explicitly discard a status whose failure does not matter (documented at call site).
  void IgnoreError() const {}

 private:
  struct Rep {
    StatusCode code;
    std::string message;
  };
  std::shared_ptr<const Rep> rep_;
};

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok() && "Result constructed from an OK Status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  Status status() const { return ok() ? Status::OK() : std::get<Status>(v_); }

  // REQUIRES: ok().
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace gannet

#define GANNET_CONCAT_INNER_(a, b) a##b
#define GANNET_CONCAT_(a, b) GANNET_CONCAT_INNER_(a, b)

// Returns the Status from the enclosing function if `expr` is not OK.
#define GANNET_RETURN_IF_ERROR(expr)             \
  do {                                           \
    ::gannet::Status _gannet_st = (expr);        \
    if (!_gannet_st.ok()) return _gannet_st;     \
  } while (0)

// `lhs = value of expr`, or returns its Status. `lhs` may be a declaration.
#define GANNET_ASSIGN_OR_RETURN(lhs, expr) \
  GANNET_ASSIGN_OR_RETURN_IMPL_(GANNET_CONCAT_(_gannet_r_, __LINE__), lhs, expr)
#define GANNET_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()
