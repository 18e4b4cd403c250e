#pragma once
/// Logging: one hook for clients and servers alike. netref prints nothing unless told to:
/// set a process-wide handler with netref::set_log_handler, or one for a connection
/// (ConnectionConfig::log) or a server (ServerConfig::log), which then wins for its events.
/// ```cpp
/// netref::set_log_handler([](netref::LogLevel level, std::string_view message, netref::ConnectionId id) {
///   std::fprintf(stderr, "[%s] conn %llu: %.*s\n", std::string(netref::to_string(level)).c_str(),
///                static_cast<unsigned long long>(id), static_cast<int>(message.size()), message.data());
/// });
/// ```
#include <cstdint>
#include <functional>
#include <string_view>

#include "netref/export.hpp"

namespace netref {

/// How much an event matters: debug (a handler raised, which the peer was told), info (a
/// connection ended normally), warning (a peer broke the protocol or a limit; a refused
/// client), error (a hook of ours or of the user's failed, and netref carried on).
enum class LogLevel : std::uint8_t { debug, info, warning, error };

constexpr std::string_view to_string(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warning: return "warning";
    case LogLevel::error: return "error";
  }
  return "error";
}

/// Which connection an event is about (Connection::id(), the number in its default name
/// "conn7"); none for a server's own events (a refused client, a failed registrar).
enum class ConnectionId : std::uint64_t { none = 0 };

/// Receives log events. Called on whichever thread met the event, possibly several at once;
/// must not throw (what it throws is dropped) and should return quickly.
using LogHandler = std::function<void(LogLevel level, std::string_view message, ConnectionId connection)>;

/// Sets the process-wide handler (null: nothing is logged, the default). Any thread; events
/// already being delivered may still reach the previous handler.
NETREF_API void set_log_handler(LogHandler handler);

namespace detail {
/// True when an event would go somewhere: override is set, or a process-wide handler is.
/// Cheap (one relaxed load): callers check it before building a message.
NETREF_API bool log_wanted(const LogHandler& override) noexcept;
/// Delivers an event to override, or else to the process-wide handler. Never throws.
NETREF_API void log(const LogHandler& override, LogLevel level, std::string_view message, ConnectionId connection) noexcept;
}  // namespace detail

}  // namespace netref
