#pragma once
/// Promise pipelining (feature `pipeline`): requests on the result of an async call that has
/// not arrived yet. Between netref peers that both listed `pipeline`, the request leaves at
/// once naming "the result of my request seq", and the peer runs it after that result, in the
/// order such requests were sent, or fails it with that result's error. A chain of dependent
/// calls then costs one round trip. To any other peer (Python's rpyc) the same call waits for
/// the result first, then sends the ordinary request: one round trip per dependency.
/// The wire form is in docs/PIPELINING.md. proxy/'s AsyncCall::attr is the user's way in.
#include <chrono>
#include <exception>
#include <optional>
#include <span>
#include <string>

#include "netref/export.hpp"
#include "netref/protocol/async_result.hpp"
#include "netref/protocol/object.hpp"
#include "netref/protocol/value.hpp"

namespace netref {

/// True when a request on target's result may leave before it arrives: target is an async
/// call (RemoteRef::async_call_path) the peer keeps, and its reply has not arrived.
NETREF_API bool pipelinable(const AsyncResult& target) noexcept;

/// Calls the attribute path names (none: the result itself) of target's result with args,
/// without waiting: pipelined while pipelinable(target), else after waiting for target (the
/// returned result then carries target's error, if it failed). timeout: as
/// RemoteRef::async_call_path's (settles with Timeout, travels as the call's deadline). Throws
/// ConnectionClosed, or TypeError when target's result is not a netref.
NETREF_API AsyncResult pipelined_async_call(const AsyncResult& target, std::span<const std::string> names,
                                            std::span<const Value> args, Kwargs kwargs = {},
                                            std::optional<std::chrono::milliseconds> timeout = std::nullopt);

/// The same call, waiting for its reply (at most timeout; nullopt: sync_request_timeout).
/// The arguments are released once sent. Throws the remote error (target's, when it failed),
/// Timeout, ConnectionClosed.
NETREF_API Value pipelined_call(const AsyncResult& target, std::span<const std::string> names,
                                std::span<Value> args, Kwargs kwargs = {},
                                std::optional<std::chrono::milliseconds> timeout = std::nullopt);

/// An AsyncResult of target's connection, settled already with error.
NETREF_API AsyncResult failed_async_result(const AsyncResult& target, std::exception_ptr error);

}  // namespace netref
