// HttpEndpoint: cpp-httplib (Debian's libcpp-httplib) serves GET <path>; its parser handles
// whatever a client sends, and answers 400 or 404 for what is not a scrape.
#include "netref/metrics/http_endpoint.hpp"

#include <httplib.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "netref/metrics/prometheus.hpp"

namespace netref::metrics {

struct HttpEndpoint::Impl {
  HttpEndpointConfig config;
  httplib::Server server;
  int port = 0;
  std::mutex mutex;               // start and stop
  std::thread thread;             // guarded by mutex
  bool started = false, stopped = false;  // guarded by mutex
  std::atomic<bool> listen_returned{false};
};

HttpEndpoint::HttpEndpoint(HttpEndpointConfig config) : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
  auto& server = impl_->server;
  // One thread answers scrapes: a scrape is rare and cheap, and a slow client waits its turn.
  server.new_task_queue = [] { return new httplib::ThreadPool(1); };
  server.set_read_timeout(std::chrono::seconds(2));
  server.set_write_timeout(std::chrono::seconds(2));
  server.set_keep_alive_max_count(100);
  server.set_keep_alive_timeout(2);
  server.set_payload_max_length(64 * 1024);
  if (impl_->config.port == 0) {
    impl_->port = server.bind_to_any_port(impl_->config.host);
  } else if (server.bind_to_port(impl_->config.host, impl_->config.port)) {
    impl_->port = impl_->config.port;
  } else {
    impl_->port = -1;
  }
  if (impl_->port <= 0) {
    throw Error("cannot listen for metrics on " + impl_->config.host + ":" + std::to_string(impl_->config.port));
  }
}

HttpEndpoint::~HttpEndpoint() { stop(); }

std::uint16_t HttpEndpoint::port() const noexcept { return static_cast<std::uint16_t>(impl_->port); }

void HttpEndpoint::start(std::function<std::string()> text) {
  std::lock_guard lk(impl_->mutex);
  if (impl_->started || impl_->stopped) return;
  impl_->started = true;
  impl_->server.Get(impl_->config.path, [text = std::move(text)](const httplib::Request&, httplib::Response& res) {
    try {
      res.set_content(text(), "text/plain; version=0.0.4; charset=utf-8");
    } catch (const std::exception& e) {
      res.status = 500;
      res.set_content(std::string("cannot read the metrics: ") + e.what() + "\n", "text/plain");
    }
  });
  impl_->thread = std::thread([impl = impl_.get()] {
    impl->server.listen_after_bind();
    impl->listen_returned.store(true, std::memory_order_release);
  });
  // httplib's stop() does nothing until listening has begun: wait for that here, so a stop
  // right after a start cannot leave the thread listening for ever.
  while (!impl_->server.is_running() && !impl_->listen_returned.load(std::memory_order_acquire)) {
    std::this_thread::yield();
  }
}

void HttpEndpoint::stop() noexcept {
  std::lock_guard lk(impl_->mutex);
  if (impl_->stopped) return;
  impl_->stopped = true;
  if (!impl_->started) return;
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

void HttpEndpoint::server_started(std::function<ServerMetrics()> read) {
  start([read = std::move(read)] { return server_text(read()); });
}

void HttpEndpoint::server_stopping() noexcept { stop(); }

}  // namespace netref::metrics
