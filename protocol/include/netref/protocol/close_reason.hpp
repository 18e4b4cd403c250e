#pragma once
/// Why a connection closed: one word per cause, for counting (ServerStats::closed) and for
/// deciding what to do next (retry after `peer`, not after `message`).
#include <cstdint>
#include <string_view>

namespace netref {

enum class CloseReason : std::uint8_t {
  local,          ///< close() on this side
  peer,           ///< the peer hung up: EOF, reset, or its CLOSE
  frame,          ///< broken framing, an oversized frame, bad zlib
  message,        ///< a message that does not decode
  reference,      ///< a reply to a seq never sent, a release of an object never lent
  budget,         ///< the process buffer budget refused a frame's memory
  pings,          ///< the peer sent PINGs past max_pings_per_second
  frame_timeout,  ///< a frame began and did not end within the frame timeout
  write_stall,    ///< the peer stopped reading what we queued for it (write_timeout)
  keepalive,      ///< our PING went unanswered (keepalive_timeout)
  idle,           ///< nothing happened for idle_timeout
  first_frame,    ///< the peer sent nothing for first_frame_timeout after connecting
  server_stop,    ///< the server stopped
  aborted,        ///< Connection::abort without a more specific reason
  protocol,       ///< any other violation of the protocol
  timeout,        ///< any other deadline
  error,          ///< anything else (a local failure)
};

/// The reason as a word ("write_stall"): stable, for logs and metric labels.
constexpr std::string_view to_string(CloseReason reason) noexcept {
  switch (reason) {
    case CloseReason::local: return "local";
    case CloseReason::peer: return "peer";
    case CloseReason::frame: return "frame";
    case CloseReason::message: return "message";
    case CloseReason::reference: return "reference";
    case CloseReason::budget: return "budget";
    case CloseReason::pings: return "pings";
    case CloseReason::frame_timeout: return "frame_timeout";
    case CloseReason::write_stall: return "write_stall";
    case CloseReason::keepalive: return "keepalive";
    case CloseReason::idle: return "idle";
    case CloseReason::first_frame: return "first_frame";
    case CloseReason::server_stop: return "server_stop";
    case CloseReason::aborted: return "aborted";
    case CloseReason::protocol: return "protocol";
    case CloseReason::timeout: return "timeout";
    case CloseReason::error: return "error";
  }
  return "error";
}

}  // namespace netref
