#pragma once
/// Errors raised by a remote callee (or by our own dispatch on the peer's behalf).
#include "netref/export.hpp"
#include <exception>
#include <string>

#include "netref/protocol/exception_codec.hpp"
#include "netref/stream/error.hpp"

namespace netref {

/// The callee threw. Carries the remote class (module, name), its message and the remote
/// traceback text. what() is "ValueError: bad value".
class NETREF_API RemoteError : public Error {
 public:
  explicit RemoteError(ExceptionInfo info);
  /// A locally raised error that travels as builtins.<class_name>(message).
  RemoteError(std::string class_name, std::string message);

  const ExceptionInfo& info() const noexcept { return info_; }
  const std::string& module() const noexcept { return info_.module; }
  const std::string& class_name() const noexcept { return info_.class_name; }
  /// The message without the class prefix.
  std::string message() const { return info_.message(); }
  const std::string& remote_traceback() const noexcept { return info_.traceback; }

 private:
  ExceptionInfo info_;
};

/// No such attribute, or access to it is denied (Python's AttributeError).
class NETREF_API AttributeError : public RemoteError {
 public:
  using RemoteError::RemoteError;
  explicit AttributeError(std::string message) : RemoteError("AttributeError", std::move(message)) {}
};

/// Arguments did not convert, or a value is not of the expected type (Python's TypeError).
class NETREF_API TypeError : public RemoteError {
 public:
  using RemoteError::RemoteError;
  explicit TypeError(std::string message) : RemoteError("TypeError", std::move(message)) {}
};

/// A key was not found (Python's KeyError).
class NETREF_API KeyError : public RemoteError {
 public:
  using RemoteError::RemoteError;
  explicit KeyError(std::string message) : RemoteError("KeyError", std::move(message)) {}
};

/// An index was out of range (Python's IndexError).
class NETREF_API IndexError : public RemoteError {
 public:
  using RemoteError::RemoteError;
  explicit IndexError(std::string message) : RemoteError("IndexError", std::move(message)) {}
};

/// A value was of the right type but unusable (Python's ValueError).
class NETREF_API ValueError : public RemoteError {
 public:
  using RemoteError::RemoteError;
  explicit ValueError(std::string message) : RemoteError("ValueError", std::move(message)) {}
};

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

/// The C++ exception a received ExceptionInfo is raised as: AttributeError, TypeError,
/// KeyError, IndexError, ValueError, StopIteration for those builtins, RemoteError otherwise.
NETREF_API std::exception_ptr make_remote_exception(ExceptionInfo info);

/// What an exception thrown by a handler travels as: netref errors keep their class, a
/// ConversionError is a TypeError, standard C++ exceptions map to the closest builtin
/// (invalid_argument -> ValueError, out_of_range ->
/// IndexError, bad_alloc -> MemoryError, others -> RuntimeError), and the traceback names
/// the C++ type and where (`context`). Never throws.
NETREF_API ExceptionInfo describe_exception(std::exception_ptr error, std::string_view context) noexcept;

}  // namespace netref
