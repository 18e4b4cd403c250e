#pragma once
/// Servers: accept connections and run a serve_all loop for each.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "netref/channel/channel.hpp"
#include "netref/protocol/connection.hpp"

namespace netref {

class Service;

/// Where and how a server listens, and what each connection gets.
struct ServerConfig {
  std::string host = "127.0.0.1";   ///< TCP address to bind (loopback by default)
  std::uint16_t port = 18861;        ///< 0 picks a free port; ask port()
  std::string unix_path;             ///< when set, listen on this Unix socket instead of TCP
  int backlog = 4096;
  ChannelConfig channel;             ///< framing limits and compression per connection
  ConnectionConfig connection;       ///< protocol limits per connection (generation is detected)
};

/// A thread per connection, like rpyc's ThreadedServer. The listening socket is bound by the
/// constructor (so port() is known before serving). Never dies of one bad client: a
/// connection's protocol error closes that connection only.
class ThreadedServer {
 public:
  /// service must outlive the server.
  ThreadedServer(Service& service, ServerConfig config = {});
  /// Stops (closes every connection and joins every thread).
  ~ThreadedServer();
  ThreadedServer(const ThreadedServer&) = delete;
  ThreadedServer& operator=(const ThreadedServer&) = delete;

  /// Accepts and serves on this thread until stop() is called from another thread.
  void serve_forever();
  /// Runs serve_forever on a background thread and returns at once.
  void start();
  /// Stops accepting, closes every open connection (their clients see ConnectionClosed) and
  /// joins the threads. Idempotent; callable from any thread but a connection's own.
  void stop();

  /// The bound TCP port (0 for a Unix socket).
  std::uint16_t port() const noexcept;
  /// Connections open right now.
  std::size_t connection_count() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

/// Serves one connection on the calling thread until it closes, then returns: rpyc's
/// OneShotServer shape for tests and inetd-style use.
void serve_connection(Service& service, StreamPtr stream, const ServerConfig& config = {});

}  // namespace netref
