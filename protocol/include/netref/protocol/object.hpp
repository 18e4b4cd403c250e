#pragma once
/// Object: a local object the peer may reach. service/ implements it for exposed C++ types
/// and callables; the connection lends Objects by id and dispatches the peer's requests to
/// them. Every method may throw: the error travels back as a remote exception.
#include "netref/export.hpp"
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "netref/protocol/value.hpp"

namespace netref {

/// Keyword arguments as they travel: (name, value) pairs in call order.
using Kwargs = std::vector<std::pair<std::string, Value>>;
/// Positional arguments.
using Args = std::vector<Value>;
/// One method as INSPECT reports it: (name, doc).
using MethodInfo = std::pair<std::string, std::string>;

/// The interface behind every lent object. Names arrive already checked by the connection
/// (non-empty, bounded, ConnectionConfig::exposed_prefix stripped); an Object still decides
/// what is exposed.
/// Methods run on whichever thread serves the connection; an Object shared between
/// connections must be thread-safe itself.
class NETREF_API Object : public std::enable_shared_from_this<Object> {
 public:
  virtual ~Object() = default;

  /// id_pack[0]: the name a Python peer sees. Callables use
  /// "builtins.builtin_function_or_method" so Python needs no INSPECT round trip.
  virtual std::string_view type_name() const noexcept = 0;
  /// id_pack[1]: stable for the type within this process (default: hash of type_name()).
  virtual std::uint64_t type_id() const noexcept;

  /// GETATTR. Default: AttributeError.
  virtual Value getattr(std::string_view name);
  /// SETATTR. Default: AttributeError (read-only).
  virtual void setattr(std::string_view name, Value value);
  /// DELATTR. Default: AttributeError.
  virtual void delattr(std::string_view name);
  /// CALL (`obj(*args, **kwargs)`). Default: TypeError "object is not callable".
  virtual Value call(Args args, Kwargs kwargs);
  /// CALLATTR (`obj.name(*args, **kwargs)`). Default: getattr(name), then call it.
  virtual Value callattr(std::string_view name, Args args, Kwargs kwargs);
  /// REPR. Default: "<netref TypeName object>".
  virtual std::string repr();
  /// STR. Default: repr().
  virtual std::string str();
  /// HASH. Default: identity.
  virtual std::int64_t hash();
  /// DIR: the names the peer may use.
  virtual std::vector<std::string> dir();
  /// INSPECT: the methods and dunders a Python netref class is built from.
  virtual std::vector<MethodInfo> inspect();
  /// CMP with op "__eq__", "__ne__", "__lt__"... Default: identity for eq/ne, else
  /// NotImplemented.
  virtual Value compare(std::string_view op, const Value& other);
  /// BUFFITER: up to count next items of an iterator; fewer only when it is exhausted (as
  /// Python's islice). Default: TypeError.
  virtual std::vector<Value> next_items(std::size_t count);
};

/// The wire form of keyword arguments: a tuple of (name, value) pairs, as rpyc sends them.
NETREF_API Value kwargs_to_value(Kwargs kwargs);

/// Invokes a Value that holds something callable: a local Object (call) or a netref (a CALL
/// request to its peer). Throws TypeError for anything else.
NETREF_API Value call_value(const Value& callee, Args args, Kwargs kwargs = {});

}  // namespace netref
