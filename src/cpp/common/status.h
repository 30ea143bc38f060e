#pragma once
// Status and Result<T>: how every fallible lumos C++ call reports failure.
// No exceptions cross module boundaries. Codes map 1:1 to Python exceptions in
// src/pyx/common.pxi (check_status), so keep the numbering stable.
#include <string>
#include <utility>
#include <variant>

namespace lumos {

enum class StatusCode : int {
  kOK = 0,
  kInvalidArgument = 1,   // caller's mistake (ValueError)
  kTypeError = 2,         // wrong kind of value (TypeError)
  kNotFound = 3,
  kAlreadyExists = 4,
  kTimedOut = 5,          // GetTimeoutError
  kIOError = 6,           // socket or file failure
  kOutOfMemory = 7,       // object store full (ObjectStoreFullError)
  kDisconnected = 8,      // peer went away
  kInvalid = 9,           // protocol violation / malformed input
  kNotImplemented = 10,
  kWorkerDied = 11,       // WorkerCrashedError
  kObjectLost = 12,       // ObjectLostError
  kInterrupted = 13,      // KeyboardInterrupt while blocked
  kPythonError = 14,      // a Python exception is set; re-raise it unchanged
  kUnknown = 15,
  kNotInitialized = 16,   // RaySystemError-ish: not connected
  kUnauthenticated = 17,  // wrong or missing cluster token (AuthenticationError)
};

/// \brief Outcome of an operation: OK, or a code with a human message.
class Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string msg) : code_(code), msg_(std::move(msg)) {}

  static Status OK() { return Status(); }
#define LUMOS_STATUS_CTOR(Name)                                     \
  static Status Name(std::string msg) { return Status(StatusCode::k##Name, std::move(msg)); }
  LUMOS_STATUS_CTOR(InvalidArgument)
  LUMOS_STATUS_CTOR(TypeError)
  LUMOS_STATUS_CTOR(NotFound)
  LUMOS_STATUS_CTOR(AlreadyExists)
  LUMOS_STATUS_CTOR(TimedOut)
  LUMOS_STATUS_CTOR(IOError)
  LUMOS_STATUS_CTOR(OutOfMemory)
  LUMOS_STATUS_CTOR(Disconnected)
  LUMOS_STATUS_CTOR(Invalid)
  LUMOS_STATUS_CTOR(NotImplemented)
  LUMOS_STATUS_CTOR(WorkerDied)
  LUMOS_STATUS_CTOR(ObjectLost)
  LUMOS_STATUS_CTOR(Interrupted)
  LUMOS_STATUS_CTOR(PythonError)
  LUMOS_STATUS_CTOR(Unknown)
  LUMOS_STATUS_CTOR(NotInitialized)
  LUMOS_STATUS_CTOR(Unauthenticated)
#undef LUMOS_STATUS_CTOR

  bool ok() const { return code_ == StatusCode::kOK; }
  StatusCode code() const { return code_; }
  int code_int() const { return static_cast<int>(code_); }
  const std::string& message() const { return msg_; }
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOK;
  std::string msg_;
};

/// \brief A value or the Status explaining why there is none.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}   // NOLINT
  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() { return std::get<T>(v_); }
  const T& value() const { return std::get<T>(v_); }
  T MoveValue() { return std::move(std::get<T>(v_)); }

 private:
  std::variant<T, Status> v_;
};

#define LUMOS_RETURN_NOT_OK(expr)        \
  do {                                   \
    ::lumos::Status _s = (expr);         \
    if (!_s.ok()) return _s;             \
  } while (0)

}  // namespace lumos
