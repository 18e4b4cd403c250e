#pragma once
/// Exceptions both ways, typed (pybind11's register_exception): a C++ exception type and a
/// Python class that stand for each other.
/// ```cpp
/// struct JobStateError : std::runtime_error {
///   using std::runtime_error::runtime_error;   // constructible from the message
/// };
/// netref::Registry types;
/// types.register_exception<JobStateError>("jobboard.JobStateError");
/// ```
/// A handler that throws JobStateError answers with a `jobboard.JobStateError` whose args
/// are (what(),), so a Python client sees that module and class (an instance of its own
/// class when it allows rpyc's instantiate_custom_exceptions). A reply carrying
/// `jobboard.JobStateError` is raised in C++ as a JobStateError, caught by type:
/// ```cpp
/// try {
///   root->attr("finish")->call(7);
/// } catch (const JobStateError& e) {
///   const netref::RemoteInfo* remote = netref::remote_info(e);  // traceback, args, attributes
///   report(e.what(), remote->remote_traceback());
/// }
/// ```
/// What E needs: derived from std::exception, copy-constructible, and constructible from
/// `const netref::ExceptionInfo&` (then it sees args and attributes) or from std::string
/// (the message, args[0]). Unless E is final, what is raised is a type derived from E and
/// from netref::RemoteInfo, so remote_info(e) gives the remote traceback, args and
/// attributes; a final E is raised as itself.
#include <exception>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "netref/protocol/errors.hpp"
#include "netref/protocol/exception_codec.hpp"

namespace netref::detail {

/// One registered exception type, type-erased (as pybind11 turns each def into a record).
struct ExceptionRecord {
  std::string module;      ///< "jobboard"
  std::string class_name;  ///< "JobStateError"
  const std::type_info* type = nullptr;
  /// Fills info's args if error holds an E (or a type derived from it).
  bool (*describe)(const std::exception_ptr& error, ExceptionInfo& info) noexcept = nullptr;
  /// An exception_ptr to the E that info is raised as.
  std::exception_ptr (*raise)(ExceptionInfo& info) = nullptr;
};

/// A registered E raised from a peer's reply: catchable as E, and as RemoteInfo.
template <class E>
class RaisedAs final : public E, public RemoteInfo {
 public:
  template <class... A>
  explicit RaisedAs(ExceptionInfo info, A&&... args) : E(std::forward<A>(args)...), RemoteInfo(std::move(info)) {}
};

template <class E>
bool describe_as(const std::exception_ptr& error, ExceptionInfo& info) noexcept {
  try {
    std::rethrow_exception(error);
  } catch (const E& e) {
    try {
      info.args.clear();
      info.args.emplace_back(std::string(e.what()));
      return true;
    } catch (...) {
      return false;
    }
  } catch (...) {
    return false;
  }
}

template <class E>
std::exception_ptr raise_as(ExceptionInfo& info) {
  if constexpr (std::is_base_of_v<RemoteInfo, E>) {
    return std::make_exception_ptr(E(std::move(info)));  // it carries the info itself
  } else if constexpr (std::is_constructible_v<E, const ExceptionInfo&>) {
    if constexpr (std::is_final_v<E>) {
      return std::make_exception_ptr(E(std::as_const(info)));
    } else {
      const ExceptionInfo& view = info;
      return std::make_exception_ptr(RaisedAs<E>(ExceptionInfo(info), view));
    }
  } else {
    if constexpr (std::is_final_v<E>) {
      return std::make_exception_ptr(E(info.message()));
    } else {
      std::string message = info.message();
      return std::make_exception_ptr(RaisedAs<E>(std::move(info), std::move(message)));
    }
  }
}

/// The record for E under "module.Class"; throws std::invalid_argument for a name without a
/// module or a class.
template <class E>
ExceptionRecord make_exception_record(const std::string& python_class) {
  static_assert(std::is_base_of_v<std::exception, E>, "netref: register_exception needs a std::exception type");
  static_assert(std::is_copy_constructible_v<E>, "netref: a registered exception type must be copy-constructible");
  static_assert(std::is_constructible_v<E, const ExceptionInfo&> || std::is_constructible_v<E, std::string>,
                "netref: a registered exception type must be constructible from std::string (the message) "
                "or from const netref::ExceptionInfo&");
  static_assert(!std::is_base_of_v<RemoteInfo, E> || std::is_constructible_v<E, ExceptionInfo>,
                "netref: a registered RemoteError type must be constructible from netref::ExceptionInfo");
  ExceptionRecord record;
  const auto dot = python_class.rfind('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == python_class.size()) {
    throw std::invalid_argument("netref: register_exception wants \"module.Class\", got \"" + python_class + "\"");
  }
  record.module = python_class.substr(0, dot);
  record.class_name = python_class.substr(dot + 1);
  record.type = &typeid(E);
  record.describe = &describe_as<E>;
  record.raise = &raise_as<E>;
  return record;
}

}  // namespace netref::detail
