// ThreadedServer: an accept loop and a thread per connection, each running serve_all.
#include <algorithm>
#include <list>
#include <mutex>
#include <thread>

#include "netref/service/server.hpp"
#include "netref/service/service.hpp"
#include "netref/stream/socket_stream.hpp"

namespace netref {

namespace {

ConnectionPtr make_server_connection(Service& service, StreamPtr stream, const ServerConfig& config) {
  ConnectionConfig cfg = config.connection;
  cfg.detect_generation = true;
  auto channel = std::make_unique<Channel>(std::move(stream), config.channel);
  return Connection::create(std::move(channel), service.root_object(), std::move(cfg));
}

void run_connection(Service& service, const ConnectionPtr& conn) {
  Service* svc = &service;
  conn->set_close_handler([svc](Connection& c) { svc->handle_disconnect(c); });
  try {
    service.handle_connect(*conn);
  } catch (...) {
    conn->close();  // on_connect refused the client
    return;
  }
  conn->serve_all();
  conn->close();
}

}  // namespace

void serve_connection(Service& service, StreamPtr stream, const ServerConfig& config) {
  auto conn = make_server_connection(service, std::move(stream), config);
  run_connection(service, conn);
}

struct ThreadedServer::Impl {
  Service& service;
  ServerConfig config;
  std::unique_ptr<Listener> listener;

  struct Worker {
    std::thread thread;
    ConnectionPtr conn;
    bool finished = false;
  };
  mutable std::mutex mutex;
  std::list<Worker> workers;  // guarded by mutex
  bool stopping = false;
  std::thread accept_thread;

  Impl(Service& s, ServerConfig c) : service(s), config(std::move(c)) {
    listener = config.unix_path.empty() ? listen_tcp(config.host, config.port, config.backlog)
                                        : listen_unix(config.unix_path, config.backlog);
  }

  // Joins the threads of connections that ended (called by the accept loop).
  void reap() {
    std::list<Worker> done;
    {
      std::lock_guard lk(mutex);
      for (auto it = workers.begin(); it != workers.end();) {
        auto next = std::next(it);
        if (it->finished) done.splice(done.end(), workers, it);
        it = next;
      }
    }
    for (auto& w : done) w.thread.join();
  }

  void accept_loop() {
    for (;;) {
      StreamPtr stream = listener->accept();
      if (!stream) return;  // closed by stop()
      reap();
      ConnectionPtr conn;
      try {
        conn = make_server_connection(service, std::move(stream), config);
      } catch (...) {
        continue;
      }
      std::lock_guard lk(mutex);
      if (stopping) {
        conn->close();
        return;
      }
      workers.emplace_back();
      auto worker = std::prev(workers.end());
      worker->conn = conn;
      worker->thread = std::thread([this, worker, conn] {
        run_connection(service, conn);
        std::lock_guard done_lk(mutex);
        worker->finished = true;
        worker->conn.reset();
      });
    }
  }

  void stop() {
    std::list<Worker> all;
    {
      std::lock_guard lk(mutex);
      if (stopping) return;
      stopping = true;
    }
    listener->close();
    if (accept_thread.joinable() && accept_thread.get_id() != std::this_thread::get_id()) accept_thread.join();
    std::vector<ConnectionPtr> open;
    {
      std::lock_guard lk(mutex);
      for (auto& w : workers) {
        if (w.conn) open.push_back(w.conn);
      }
    }
    for (auto& c : open) c->close();
    open.clear();
    {
      std::lock_guard lk(mutex);
      all.splice(all.end(), workers);
    }
    for (auto& w : all) {
      if (w.thread.joinable()) w.thread.join();
    }
  }
};

ThreadedServer::ThreadedServer(Service& service, ServerConfig config)
    : impl_(std::make_unique<Impl>(service, std::move(config))) {}

ThreadedServer::~ThreadedServer() { stop(); }

void ThreadedServer::serve_forever() { impl_->accept_loop(); }

void ThreadedServer::start() {
  std::lock_guard lk(impl_->mutex);
  if (impl_->accept_thread.joinable() || impl_->stopping) return;
  impl_->accept_thread = std::thread([this] { impl_->accept_loop(); });
}

void ThreadedServer::stop() { impl_->stop(); }

std::uint16_t ThreadedServer::port() const noexcept { return impl_->listener->port(); }

std::size_t ThreadedServer::connection_count() const {
  std::lock_guard lk(impl_->mutex);
  return static_cast<std::size_t>(
      std::count_if(impl_->workers.begin(), impl_->workers.end(), [](const Impl::Worker& w) { return !w.finished; }));
}

}  // namespace netref
