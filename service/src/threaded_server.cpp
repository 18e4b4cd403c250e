// ThreadedServer and OneShotServer: an accept loop and a thread per connection (or the
// caller's own thread), each running serve_all.
#include <algorithm>
#include <list>
#include <mutex>
#include <thread>

#include "server_base.hpp"

namespace netref {
namespace detail {

struct ServerCore : ServerBase {
  using ServerBase::ServerBase;

  struct Worker {
    std::thread thread;
    ConnectionPtr conn;  // set once the connection is open
    bool finished = false;
  };
  mutable std::mutex mutex;
  std::list<Worker> workers;  // guarded by mutex
  bool stopping = false;      // guarded by mutex
  std::thread accept_thread;

  // Secures, authenticates and serves one accepted stream on the calling thread.
  void serve_stream(StreamPtr stream, Worker* worker) {
    ConnectionPtr conn;
    try {
      conn = open(secure(std::move(stream)));
    } catch (...) {
      return;  // logged and counted by secure()
    }
    if (!conn) return;
    {
      std::lock_guard lk(mutex);
      if (stopping) {
        conn->abort("the server is stopping", CloseReason::server_stop);
        return;
      }
      if (worker != nullptr) worker->conn = conn;
    }
    conn->serve_all();
    conn->close();
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

  std::size_t open_count() const {
    std::lock_guard lk(mutex);
    return static_cast<std::size_t>(
        std::count_if(workers.begin(), workers.end(), [](const Worker& w) { return !w.finished; }));
  }

  void accept_loop() {
    for (;;) {
      StreamPtr stream = listener().accept();
      if (!stream) return;  // closed by stop()
      reap();
      if (!admit(open_count(), *stream)) continue;  // closes the stream
      std::lock_guard lk(mutex);
      if (stopping) return;
      workers.emplace_back();
      auto worker = std::prev(workers.end());
      worker->thread = std::thread([this, worker, s = std::move(stream)]() mutable {
        serve_stream(std::move(s), &*worker);
        std::lock_guard done_lk(mutex);
        worker->finished = true;
        if (worker->conn) retire_traffic(*worker->conn);
        worker->conn.reset();
      });
    }
  }

  std::vector<ConnectionPtr> open_connections() const {
    std::vector<ConnectionPtr> open;
    std::lock_guard lk(mutex);
    for (auto& w : workers) {
      if (w.conn) open.push_back(w.conn);
    }
    return open;
  }

  void stop(std::chrono::milliseconds grace) {
    {
      std::lock_guard lk(mutex);
      if (stopping) return;
      stopping = true;
    }
    announce_stopping();  // unregister before the listener closes, as rpyc's close() does
    listener().close();
    if (accept_thread.joinable() && accept_thread.get_id() != std::this_thread::get_id()) accept_thread.join();
    refuse_requests();
    drain(grace, [this] {
      std::size_t running = 0;
      for (auto& c : open_connections()) running += c->stats().running_handlers;
      return running;
    });
    for (auto& c : open_connections()) c->abort("the server stopped", CloseReason::server_stop);
    std::list<Worker> all;
    {
      std::lock_guard lk(mutex);
      all.splice(all.end(), workers);
    }
    for (auto& w : all) {
      if (w.thread.joinable()) w.thread.join();
    }
  }

  ServerStats stats() const {
    ServerStats s;
    fill(s);
    std::vector<ConnectionPtr> open;
    {
      std::lock_guard lk(mutex);  // the traffic of each connection once: open or retired
      add_traffic(s);
      for (auto& w : workers) {
        if (!w.conn) continue;
        add_traffic(s, *w.conn);
        open.push_back(w.conn);
      }
    }
    for (auto& c : open) {
      const auto cs = c->stats();
      ++s.open_connections;
      s.running_handlers += cs.running_handlers;
      s.lent_objects += cs.lent_objects;
      s.netrefs_held += cs.netrefs_held;
      s.queued_bytes += cs.queued_bytes;
    }
    return s;
  }

  ServerMetrics metrics() const {
    ServerMetrics m{stats(), {}};
    if (served_metrics()) m.calls = served_metrics()->snapshot();
    return m;
  }
};

}  // namespace detail

void serve_connection(const Service& service, StreamPtr stream, const ServerConfig& config) {
  ConnectionConfig cfg = config.connection;
  cfg.detect_generation = true;
  if (!cfg.exceptions) cfg.exceptions = service.registry().exceptions();
  auto channel = std::make_unique<Channel>(std::move(stream), config.channel);
  auto conn = Connection::create(std::move(channel), service.root_object(), std::move(cfg));
  conn->set_close_handler([service](Connection& c) { service.handle_disconnect(c); });
  try {
    service.handle_connect(*conn);
  } catch (...) {
    conn->close();  // on_connect refused the client
    return;
  }
  conn->serve_all();
  conn->close();
}

// --- ThreadedServer

ThreadedServer::ThreadedServer(Service service, ServerConfig config)
    : core_(std::make_unique<detail::ServerCore>(std::move(service), std::move(config))) {}

ThreadedServer::~ThreadedServer() { stop(); }

void ThreadedServer::serve_forever() {
  core_->announce_started([core = core_.get()] { return core->metrics(); });
  core_->accept_loop();
}

void ThreadedServer::start() {
  std::lock_guard lk(core_->mutex);
  if (core_->accept_thread.joinable() || core_->stopping) return;
  core_->announce_started([core = core_.get()] { return core->metrics(); });  // before start() returns: the registrar knows the server serves
  core_->accept_thread = std::thread([this] { core_->accept_loop(); });
}

void ThreadedServer::stop(std::chrono::milliseconds grace) { core_->stop(grace); }

std::uint16_t ThreadedServer::port() const noexcept { return core_->listener().port(); }

std::size_t ThreadedServer::connection_count() const { return core_->open_count(); }

ServerStats ThreadedServer::stats() const { return core_->stats(); }

ServerMetrics ThreadedServer::metrics() const { return core_->metrics(); }

// --- OneShotServer

OneShotServer::OneShotServer(Service service, ServerConfig config)
    : core_(std::make_unique<detail::ServerCore>(std::move(service), std::move(config))) {}

OneShotServer::~OneShotServer() { stop(); }

void OneShotServer::serve() {
  StreamPtr stream = core_->listener().accept();
  core_->listener().close();  // one connection only
  if (!stream) return;
  core_->admit(0, *stream);
  detail::ServerCore::Worker* record;
  {
    std::lock_guard lk(core_->mutex);
    if (core_->stopping) return;
    record = &core_->workers.emplace_back();  // no thread: this one serves
  }
  core_->serve_stream(std::move(stream), record);
}

void OneShotServer::stop() {
  core_->listener().close();
  std::vector<ConnectionPtr> open;
  {
    std::lock_guard lk(core_->mutex);
    core_->stopping = true;
    for (auto& w : core_->workers) {
      if (w.conn) open.push_back(w.conn);
    }
  }
  for (auto& c : open) c->abort("the server stopped", CloseReason::server_stop);
}

std::uint16_t OneShotServer::port() const noexcept { return core_->listener().port(); }

}  // namespace netref
