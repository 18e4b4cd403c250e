// Client connections: connect a stream, wrap it in a channel and a connection, offer hello.
#include "netref/service/connect.hpp"

#include "netref/service/service.hpp"
#include "netref/stream/socket_stream.hpp"

namespace netref {

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
  if (config.negotiate_extensions && config.connection.enable_extensions) conn->negotiate_extensions();
  return conn;
}

ConnectionPtr open_connection(const std::string& host, std::uint16_t port, const ClientConfig& config) {
  if (config.tls) return open_stream_connection(connect_tls(host, port, *config.tls, config.connect_timeout), config);
  return open_stream_connection(connect_tcp(host, port, config.connect_timeout), config);
}

ConnectionPtr open_unix_connection(const std::string& path, const ClientConfig& config) {
  return open_stream_connection(connect_unix(path), config);
}

}  // namespace netref
