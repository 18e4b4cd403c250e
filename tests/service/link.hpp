#pragma once
// A client and a server Connection over an in-memory stream pair, the server served by its
// own thread: service functions called over a real connection.
#include <memory>
#include <thread>
#include <utility>

#include "netref/channel/channel.hpp"
#include "netref/protocol/connection.hpp"
#include "netref/stream/memory_stream.hpp"

namespace netref::test {

/// The server lends server_root, the client client_root; both close when the Link goes. The
/// configs are each side's (the server's detects the generation).
struct Link {
  ConnectionPtr client;
  ConnectionPtr server;
  std::thread server_thread;

  Link(ObjectPtr server_root, ObjectPtr client_root, ConnectionConfig server_cfg = {},
       ConnectionConfig client_cfg = {}) {
    auto [a, b] = make_memory_pair();
    server_cfg.detect_generation = true;
    client = Connection::create(std::make_unique<Channel>(std::move(a)), std::move(client_root), std::move(client_cfg));
    server = Connection::create(std::make_unique<Channel>(std::move(b)), std::move(server_root), server_cfg);
    server_thread = std::thread([s = server] { s->serve_all(); });
  }
  ~Link() {
    client->close();
    server->close();
    if (server_thread.joinable()) server_thread.join();
  }
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;
};

}  // namespace netref::test
