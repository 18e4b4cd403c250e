#pragma once
/// What netref's servers (and its own tests) reach inside a Connection: the channel, the
/// non-blocking turn a reactor serves, and the hooks that tell a reactor when to come back.
/// Not for applications: Connection's public members are what they call.
#include <cstddef>
#include <cstdint>
#include <functional>

#include "netref/protocol/connection.hpp"

namespace netref::detail {

struct ConnectionAccess {
  static Channel& channel(Connection& connection) noexcept { return connection.channel(); }

  /// For servers that multiplex many connections on a few threads: unless another thread is
  /// reading, writes what is queued for the peer, reads what the stream has without blocking
  /// and serves each whole frame received (requests run on this thread), at most max_frames
  /// of them; the replies of frames that arrived together leave in one write. Never waits
  /// for the network. Says what is left; output still queued shows in
  /// stats().queued_bytes.
  static ServeStatus serve_available(Connection& connection, std::size_t max_frames = 16) {
    return connection.serve_available(max_frames);
  }

  /// Called after a thread other than a serve_available caller gave up reading (a handler
  /// that waited for a callback's reply, say): frames may wait in the buffer, so a reactor
  /// must schedule the connection again. Set before serving starts.
  static void set_reader_released_handler(Connection& connection, std::function<void()> handler) {
    connection.set_reader_released_handler(std::move(handler));
  }

  /// Called when bytes queued for the peer could not all be written and no thread of this
  /// connection will wait for room: a reactor must watch for it (EPOLLOUT) and call
  /// serve_available, which writes first. Set before serving starts.
  static void set_writer_wanted_handler(Connection& connection, std::function<void()> handler) {
    connection.set_writer_wanted_handler(std::move(handler));
  }

  /// The seq of the next request (seqs count up and wrap at 2^32): tests start near the top
  /// to cross the wrap. Only while no request awaits a reply.
  static void set_next_seq(Connection& connection, std::uint32_t seq) { connection.set_next_seq(seq); }
};

}  // namespace netref::detail
