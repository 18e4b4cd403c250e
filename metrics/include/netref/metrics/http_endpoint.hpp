#pragma once
/// HttpEndpoint: serves metrics over HTTP for a Prometheus server to scrape, GET /metrics in
/// Prometheus's text format (cpp-httplib underneath; every other path is 404).
/// With a server (tests/metrics/http_endpoint_test.cpp does this):
///     auto endpoint = std::make_shared<netref::metrics::HttpEndpoint>();  // 127.0.0.1:9464
///     netref::ServerConfig cfg;
///     cfg.metrics_exporter = endpoint;  // turns the server's metrics on
///     netref::ThreadPoolServer server(service, cfg);
///     server.start();                   // now http://127.0.0.1:9464/metrics
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "netref/export.hpp"
#include "netref/service/server.hpp"

namespace netref::metrics {

struct HttpEndpointConfig {
  std::string host = "127.0.0.1";  ///< loopback by default: metrics are not for everyone
  std::uint16_t port = 9464;       ///< 0 picks a free port; ask port()
  std::string path = "/metrics";
};

/// One HTTP listener, bound by the constructor (so port() is known at once), serving on one
/// thread of its own from start (or a server's start) to stop (or the server's stop).
class NETREF_API HttpEndpoint : public MetricsExporter {
 public:
  /// Binds the port; throws netref::Error when it cannot.
  explicit HttpEndpoint(HttpEndpointConfig config = {});
  /// stop().
  ~HttpEndpoint() override;
  HttpEndpoint(const HttpEndpoint&) = delete;
  HttpEndpoint& operator=(const HttpEndpoint&) = delete;

  /// The bound TCP port.
  std::uint16_t port() const noexcept;
  /// Serves what text() returns on each scrape (a client's metrics, several servers'...).
  /// Once; returns when the endpoint accepts requests.
  void start(std::function<std::string()> text);
  /// Stops serving and joins the thread. Idempotent; any thread but the endpoint's.
  void stop() noexcept;

  /// MetricsExporter: start(server_text(read())) and stop(), called by the server.
  void server_started(std::function<ServerMetrics()> read) override;
  void server_stopping() noexcept override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace netref::metrics
