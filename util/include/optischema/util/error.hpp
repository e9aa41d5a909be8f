#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace optischema {

/// The one error enum of the project. Every failure that crosses a library or
/// actor boundary carries one of these plus a message that says what to do.
enum class ec : uint8_t {
  /// No error.
  no_error = 0,
  /// A configuration value or command-line flag is invalid.
  invalid_configuration,
  /// The target database cannot be reached (down, refused, DNS, auth).
  db_unreachable,
  /// The role lacks a privilege it needs (see the message for the GRANT).
  permission_denied,
  /// A required extension is missing or not preloaded.
  missing_extension,
  /// A SQL statement failed on the target.
  sql_error,
  /// SQL text that libpg_query cannot parse.
  parse_error,
  /// The history database failed (I/O, corruption, lock held).
  store_error,
  /// The message broker is unreachable or refused an operation.
  broker_error,
  /// A request to the HTTP API is malformed.
  bad_request,
  /// Something asked for does not exist.
  not_found,
  /// A deadline passed before an answer arrived.
  timeout,
  /// The LLM endpoint failed, refused, or answered something unusable.
  llm_error,
  /// A configured limit (LLM budget, rate) is used up for now.
  budget_exhausted,
  /// A request lacks the API token or carries a wrong one.
  unauthorized,
  /// The state forbids the operation now (a lock is held, another engine is
  /// applying, the recommendation is in the wrong state).
  conflict,
  /// The feature is switched off by configuration (the message says how to
  /// switch it on).
  disabled,
  /// An internal invariant failed; a bug.
  internal,
};

/// Returns the stable snake_case name of `x`, used in logs and API errors.
const char* to_string(ec x);

/// A failure value: what went wrong and, in `message`, what to do about it.
struct failure {
  ec code = ec::internal;
  std::string message;
};

/// Either a value or a failure; the return type of fallible library calls.
/// (std::expected is C++23; this is the small subset we need.)
template <class T>
class expected {
public:
  expected(T x) : data_(std::move(x)) {}
  expected(failure x) : data_(std::move(x)) {}

  explicit operator bool() const {
    return data_.index() == 0;
  }
  bool has_value() const {
    return data_.index() == 0;
  }

  T& operator*() {
    return std::get<0>(data_);
  }
  const T& operator*() const {
    return std::get<0>(data_);
  }
  T* operator->() {
    return &std::get<0>(data_);
  }
  const T* operator->() const {
    return &std::get<0>(data_);
  }

  const failure& error() const {
    return std::get<1>(data_);
  }

private:
  std::variant<T, failure> data_;
};

/// A unit type for `expected<ok>` results of calls that return nothing.
struct ok {};

} // namespace optischema
