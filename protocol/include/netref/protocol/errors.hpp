#pragma once
/// Errors raised by a remote callee (or by our own dispatch on the peer's behalf).
#include "netref/export.hpp"
#include <exception>
#include <string>
#include <string_view>
#include <utility>

#include "netref/protocol/exception_codec.hpp"
#include "netref/stream/error.hpp"

namespace netref {

/// What every exception raised from a peer's reply carries: the remote class (module,
/// name), its args and attributes, and the remote traceback text. RemoteError derives from
/// it, and so does the type a registered exception is raised as (Registry::
/// register_exception), so `catch (const netref::RemoteInfo& r)` sees both. Not itself a
/// std::exception: a registered type already is one, and two would make
/// `catch (const std::exception&)` ambiguous. remote_info() finds it from a std::exception.
class NETREF_API RemoteInfo {
 public:
  explicit RemoteInfo(ExceptionInfo info) noexcept : info_(std::move(info)) {}
  RemoteInfo(const RemoteInfo&) = default;
  RemoteInfo(RemoteInfo&&) noexcept = default;
  RemoteInfo& operator=(const RemoteInfo&) = default;
  RemoteInfo& operator=(RemoteInfo&&) noexcept = default;
  virtual ~RemoteInfo() = default;

  const ExceptionInfo& info() const noexcept { return info_; }
  const std::string& module() const noexcept { return info_.module; }
  const std::string& class_name() const noexcept { return info_.class_name; }
  /// The message without the class prefix.
  std::string message() const { return info_.message(); }
  const std::string& remote_traceback() const noexcept { return info_.traceback; }
  /// The attribute name the peer sent with the exception (vinegar's attributes), or null.
  const Value* attr(std::string_view name) const noexcept;
  /// What rpyc's `_remote_version` says: the peer's rpyc version ("6.0.1"), "<version
  /// denied>", or "" when the peer sent none.
  std::string remote_version() const;

 private:
  ExceptionInfo info_;
};

/// The callee threw. Carries the remote class (module, name), its message and the remote
/// traceback text. what() is "ValueError: bad value".
class NETREF_API RemoteError : public Error, public RemoteInfo {
 public:
  explicit RemoteError(ExceptionInfo info);
  /// A locally raised error that travels as `builtins.<class_name>(message)`.
  RemoteError(std::string class_name, std::string message);
};

/// The RemoteInfo of e: a RemoteError, or a registered exception type raised from a peer's
/// reply; null for an exception raised locally.
inline const RemoteInfo* remote_info(const std::exception& e) noexcept { return dynamic_cast<const RemoteInfo*>(&e); }

// Python's builtin exception classes that arrive as their own C++ type, in Python's
// hierarchy (KeyError is a LookupError, ZeroDivisionError an ArithmeticError...). Each one
// constructed from a message travels to the peer as that builtin class; any other builtin
// arrives as RemoteError, its class in class_name().

/// Declares Name : Base, a builtin Python exception class.
#define NETREF_BUILTIN_EXCEPTION(Name, Base)                                                        \
  class NETREF_API Name : public Base {                                                             \
   public:                                                                                          \
    explicit Name(ExceptionInfo info) : Base(std::move(info)) {}                                    \
    explicit Name(std::string message) : Base(std::string(#Name), std::move(message)) {}            \
    Name(std::string class_name, std::string message) : Base(std::move(class_name), std::move(message)) {} \
  }

/// No such attribute, or access to it is denied (Python's AttributeError).
NETREF_BUILTIN_EXCEPTION(AttributeError, RemoteError);
/// Arguments did not convert, or a value is not of the expected type (Python's TypeError).
NETREF_BUILTIN_EXCEPTION(TypeError, RemoteError);
/// A key or index was not found (Python's LookupError, base of KeyError and IndexError).
NETREF_BUILTIN_EXCEPTION(LookupError, RemoteError);
/// A key was not found (Python's KeyError).
NETREF_BUILTIN_EXCEPTION(KeyError, LookupError);
/// An index was out of range (Python's IndexError).
NETREF_BUILTIN_EXCEPTION(IndexError, LookupError);
/// A value was of the right type but unusable (Python's ValueError).
NETREF_BUILTIN_EXCEPTION(ValueError, RemoteError);
/// Python's ArithmeticError, base of ZeroDivisionError and OverflowError.
NETREF_BUILTIN_EXCEPTION(ArithmeticError, RemoteError);
/// Division or modulo by zero (Python's ZeroDivisionError).
NETREF_BUILTIN_EXCEPTION(ZeroDivisionError, ArithmeticError);
/// A result too large to represent (Python's OverflowError; std::overflow_error travels so).
NETREF_BUILTIN_EXCEPTION(OverflowError, ArithmeticError);
/// Python's RuntimeError (what other std::exceptions travel as), base of NotImplementedError.
NETREF_BUILTIN_EXCEPTION(RuntimeError, RemoteError);
/// An operation the callee does not implement (Python's NotImplementedError).
NETREF_BUILTIN_EXCEPTION(NotImplementedError, RuntimeError);
/// An assert statement failed in the callee (Python's AssertionError).
NETREF_BUILTIN_EXCEPTION(AssertionError, RemoteError);
/// Out of memory (Python's MemoryError; std::bad_alloc travels so).
NETREF_BUILTIN_EXCEPTION(MemoryError, RemoteError);
/// The callee gave up in time (Python's TimeoutError): a request whose deadline passed before
/// its handler started, or a handler's own call that timed out (a local Timeout travels so).
NETREF_BUILTIN_EXCEPTION(TimeoutError, RemoteError);

#undef NETREF_BUILTIN_EXCEPTION

/// An iterator is exhausted (Python's StopIteration).
class NETREF_API StopIteration : public RemoteError {
 public:
  StopIteration();
  using RemoteError::RemoteError;
};

/// A value did not convert to the C++ type asked for (Value::as, a result's or an argument's
/// conversion). A local error, not the peer's: it says nothing the remote side raised. A
/// handler that lets one escape answers its peer with TypeError.
class NETREF_API ConversionError : public Error {
 public:
  using Error::Error;
  /// The message (what()), as RemoteError::message() gives a remote one's.
  std::string message() const { return what(); }
};

/// Exception classes beyond the builtins for one connection: which C++ exception types
/// travel as which Python class, and back. Registry::register_exception fills one; servers
/// and clients hand their Service's to each connection (ConnectionConfig::exceptions).
/// Read-only once serving starts, so any thread may use it.
class NETREF_API ExceptionMap {
 public:
  virtual ~ExceptionMap() = default;
  /// If error is of a registered type, fills info's module, class and args and returns
  /// true; false otherwise. Never throws.
  virtual bool describe(const std::exception_ptr& error, ExceptionInfo& info) const noexcept = 0;
  /// The exception to raise for info when its module and class are registered; null
  /// otherwise (info is then left as it was).
  virtual std::exception_ptr raise(ExceptionInfo& info) const = 0;
};

/// The C++ exception a received ExceptionInfo is raised as: the type registered for its
/// class in exceptions (if given), else the builtin classes above (AttributeError,
/// TypeError, KeyError...), StopIteration, and RemoteError for every other class.
NETREF_API std::exception_ptr make_remote_exception(ExceptionInfo info, const ExceptionMap* exceptions = nullptr);

/// What an exception thrown by a handler travels as: an exception raised from a peer's
/// reply keeps its class (a Python error passed through stays a Python error), a registered
/// type its registered class (exceptions), a ConversionError is a TypeError, standard C++
/// exceptions map to the closest builtin (invalid_argument -> ValueError, out_of_range ->
/// IndexError, overflow_error -> OverflowError, bad_alloc -> MemoryError, others ->
/// RuntimeError), and the traceback names the C++ type and where (`context`). Never throws.
NETREF_API ExceptionInfo describe_exception(std::exception_ptr error, std::string_view context,
                                 const ExceptionMap* exceptions = nullptr) noexcept;

}  // namespace netref
