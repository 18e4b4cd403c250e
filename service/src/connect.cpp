// Client connections: connect a stream, wrap it in a channel and a connection, offer hello.
#include "netref/service/connect.hpp"

#include "netref/service/service.hpp"
#include "netref/stream/socket_stream.hpp"

namespace netref {

namespace {

// A connection that closed because the peer answered in the other generation says so.
void rethrow_generation_mismatch(const Connection& connection) {
  const auto error = connection.close_error();
  if (!error) return;
  try {
    std::rethrow_exception(error);
  } catch (const GenerationMismatch&) {
    throw;
  } catch (...) {
  }
}

// Connects once more in the generation the peer turned out to speak; an unset generation
// speaks 6.x first (Python 6.x and netref servers answer it; rpyc 5.3 answers in 5.x).
template <typename Connect>
ConnectionPtr open_detecting(const ClientConfig& config, Connect connect) {
  if (config.connection.generation) return open_stream_connection(connect(), config);
  try {
    return open_stream_connection(connect(), config);
  } catch (const GenerationMismatch& mismatch) {
    ClientConfig again = config;
    again.connection.generation = mismatch.peer_generation();
    return open_stream_connection(connect(), again);
  }
}

}  // namespace

ConnectionPtr open_stream_connection(StreamPtr stream, const ClientConfig& config) {
  auto channel = std::make_unique<Channel>(std::move(stream), config.channel);
  ObjectPtr root = config.service ? config.service->root_object() : nullptr;
  ConnectionConfig connection = config.connection;
  if (!connection.exceptions && config.service) connection.exceptions = config.service->registry().exceptions();
  auto conn = Connection::create(std::move(channel), std::move(root), std::move(connection));
  if (config.service) {
    conn->set_close_handler([service = *config.service](Connection& c) { service.handle_disconnect(c); });
    config.service->handle_connect(*conn);
  }
  // The hello's answer comes in the peer's generation: finding it out costs no extra round
  // trip. Without the hello nothing is sent here, and an unset generation speaks 6.x.
  try {
    if (config.negotiate_extensions && config.connection.enable_extensions) conn->negotiate_extensions();
  } catch (const ConnectionClosed&) {
    rethrow_generation_mismatch(*conn);
    throw;
  }
  return conn;
}

ConnectionPtr open_connection(const std::string& host, std::uint16_t port, const ClientConfig& config) {
  return open_detecting(config, [&]() -> StreamPtr {
    if (config.tls) return connect_tls(host, port, *config.tls, config.connect_timeout);
    return connect_tcp(host, port, config.connect_timeout);
  });
}

ConnectionPtr open_unix_connection(const std::string& path, const ClientConfig& config) {
  return open_detecting(config, [&] { return connect_unix(path); });
}

}  // namespace netref
