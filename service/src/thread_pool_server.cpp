// ThreadPoolServer: an acceptor thread and a fixed pool of workers that take turns waiting
// on one epoll set holding every connection (leader/followers: the worker that sees a
// connection ready serves it itself, so a request costs no hand-off between threads).
//
// A session is either armed in epoll (one-shot: one readiness event hands it to one worker
// and disarms it), queued or held by a worker, or parked while another thread reads its
// connection (that reader's release schedules it again). Never two workers on one session,
// so a connection's requests run one at a time, in order. Work that does not come from
// epoll (a session to look at again) goes through a queue, and an eventfd in the epoll set
// wakes a worker for it.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "netref/protocol/detail/connection_access.hpp"
#include "netref/protocol/detail/timer_queue.hpp"
#include "netref/protocol/detail/wait_observer.hpp"
#include "server_base.hpp"

namespace netref {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kNever = Clock::time_point::max();

// Frames one worker serves for a session before giving others a turn.
constexpr std::size_t kFramesPerTurn = 16;

// One worker per core, at least two. Workers never wait on a peer (a handler that does
// gives its place to a new thread), so more would only take turns on the cores: a worker
// preempted in the middle of a request delays its client by a time slice. 64 clients on 2
// cores: p99 0.8-1.3x a thread-per-client raw server with 2 workers, 1.2-2.3x with 4.
std::size_t default_workers() {
  const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
  return std::max<std::size_t>(2, cores);
}

std::string ms_text(std::chrono::milliseconds ms) { return std::to_string(ms.count()) + " ms"; }

}  // namespace

struct ThreadPoolServer::Impl : std::enable_shared_from_this<ThreadPoolServer::Impl>, detail::WaitObserver {
  struct Session : std::enable_shared_from_this<Session> {
    // refused: the handshake failed; the socket lingers, dropping what the client still sends.
    enum class Stage { handshake, refused, open, serving };
    Stage stage = Stage::open;
    int fd = -1;
    std::unique_ptr<TlsStream> tls;  // during the handshake
    StreamPtr stream;                // between handshake and open
    ConnectionPtr conn;              // once serving
    // Guarded by Impl::mutex.
    bool queued = false;             // in the work queue or held by a worker
    bool rerun = false;              // something happened while held: look again
    bool retired = false;
    Clock::time_point deadline = kNever;  // the earliest of the two below, or the handshake's end
    Clock::time_point frame_deadline = kNever;  // a partial frame must be whole by then
    Clock::time_point write_deadline = kNever;  // queued output must have drained by then
    detail::Timer deadline_timer;    // armed for deadline; made with the first deadline
    std::uint64_t frames_at_partial = 0;
    std::string abort_reason;        // close on a worker, for this reason...
    CloseReason abort_category = CloseReason::aborted;  // ...filed under this close reason
    // Set (under Impl::mutex) with abort_reason: the holder's look at it takes no lock
    // while it is false, which is every turn but the last.
    std::atomic<bool> aborting{false};
  };
  using SessionPtr = std::shared_ptr<Session>;
  enum class Next { arm_read, arm_write, arm_read_write, requeue, park, retire };

  detail::ServerBase base;
  const std::size_t worker_count;
  const std::chrono::milliseconds retry;  // a deadline reached while a worker holds the session
  // The process's timer thread, held for as long as any session may have a timer on it (so
  // no session's end, under mutex, is ever the end of the queue).
  const std::shared_ptr<detail::TimerQueue> timers = detail::shared_timer_queue();
  int epoll_fd = -1;
  int wake_fd = -1;

  mutable std::mutex mutex;
  std::condition_variable stopped;
  std::unordered_map<const Session*, SessionPtr> sessions;  // guarded by mutex
  std::deque<SessionPtr> work;                              // guarded by mutex
  bool started = false, stopping = false, workers_done = false;
  bool fully_stopped = false;

  std::thread acceptor;
  std::unordered_map<std::thread::id, std::thread> workers;  // guarded by mutex
  std::vector<std::thread> finished;  // workers that left; joined by the next start or stop
  std::atomic<std::size_t> threads{0};  // workers running (mirrors workers.size())
  std::size_t waiting = 0;              // handlers waiting on peers (guarded by mutex)
  std::unordered_map<const Connection*, std::size_t> waiting_by_connection;  // guarded by mutex
  std::atomic<std::uint64_t> refused_waits{0};

  Impl(Service service, ServerConfig config)
      : base(std::move(service), std::move(config)),
        worker_count(base.config().worker_threads != 0 ? base.config().worker_threads : default_workers()),
        retry(retry_delay(base.config())) {
    epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
    wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (epoll_fd < 0 || wake_fd < 0) {
      cleanup_fds();
      throw Error("cannot start a ThreadPoolServer: " + std::string(std::strerror(errno)));
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;  // the wake-up descriptor
    ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &ev);
  }

  ~Impl() { cleanup_fds(); }

  void cleanup_fds() noexcept {
    if (epoll_fd >= 0) ::close(epoll_fd);
    if (wake_fd >= 0) ::close(wake_fd);
    epoll_fd = wake_fd = -1;
  }

  // A deadline that passes while a worker holds the session is looked at again this much
  // later: a quarter of the shorter of the handshake and frame timeouts.
  static std::chrono::milliseconds retry_delay(const ServerConfig& c) {
    std::chrono::milliseconds shortest(1000);
    for (auto t : {c.handshake_timeout, c.channel.frame_timeout}) {
      if (t.count() > 0) shortest = std::min(shortest, t);
    }
    return std::clamp(shortest / 4, std::chrono::milliseconds(5), std::chrono::milliseconds(250));
  }

  // --- threads

  void start() {
    std::lock_guard lk(mutex);
    if (started || stopping) return;
    started = true;
    // Not read under mutex: the exporter reads from a thread of its own.
    base.announce_started([weak = weak_from_this()] {
      auto impl = weak.lock();
      return impl ? impl->metrics() : ServerMetrics{};
    });
    acceptor = std::thread([this] { accept_loop(); });
    for (std::size_t i = 0; i < worker_count; ++i) start_worker_locked();
  }

  void start_worker_locked() {
    std::thread worker([this] { worker_loop(); });
    const auto id = worker.get_id();
    workers.emplace(id, std::move(worker));
    threads.store(workers.size(), std::memory_order_relaxed);
  }

  std::size_t max_waiting() const {
    const std::size_t max_threads = std::max(base.config().max_threads, worker_count);
    return max_threads - worker_count;
  }

  // detail::WaitObserver: a handler on one of our workers is about to wait on a peer.
  void before_wait(const Connection& connection) override {
    std::lock_guard lk(mutex);
    auto& of_connection = waiting_by_connection[&connection];
    const std::size_t per_connection = base.config().max_waiting_handlers_per_connection;
    if (waiting >= max_waiting() || of_connection >= per_connection) {
      if (of_connection == 0) waiting_by_connection.erase(&connection);
      refused_waits.fetch_add(1, std::memory_order_relaxed);
      throw Error(waiting >= max_waiting()
                      ? "cannot wait for a peer: " + std::to_string(waiting) +
                            " handlers of this server already do (ServerConfig::max_threads = " +
                            std::to_string(base.config().max_threads) + ")"
                      : "cannot wait for a peer: " + std::to_string(of_connection) + " handlers of " +
                            connection.name() + " already do (ServerConfig::max_waiting_handlers_per_connection)");
    }
    ++of_connection;
    ++waiting;
    // Keep worker_count threads free to serve the others.
    join_finished_locked();
    if (!workers_done && workers.size() - waiting < worker_count) start_worker_locked();
  }

  void after_wait(const Connection& connection) noexcept override {
    std::lock_guard lk(mutex);
    --waiting;
    auto it = waiting_by_connection.find(&connection);
    if (it != waiting_by_connection.end() && --it->second == 0) waiting_by_connection.erase(it);
  }

  // A worker leaves when more threads are free than the pool needs (it grew for waiting
  // handlers that are done). Called by the worker between sessions.
  bool leave_if_surplus() {
    // The pool at its size has no surplus: the common case, without the lock.
    if (threads.load(std::memory_order_relaxed) <= worker_count) return false;
    std::lock_guard lk(mutex);
    if (workers_done || workers.size() - waiting <= worker_count) return false;
    auto it = workers.find(std::this_thread::get_id());
    if (it == workers.end()) return false;
    finished.push_back(std::move(it->second));
    workers.erase(it);
    threads.store(workers.size(), std::memory_order_relaxed);
    return true;
  }

  void join_finished_locked() {
    // A finished worker has returned from worker_loop or is about to: joining is quick.
    for (auto& t : finished) {
      if (t.joinable()) t.join();
    }
    finished.clear();
  }

  void accept_loop() {
    for (;;) {
      StreamPtr stream = base.listener().accept();
      if (!stream) return;
      std::size_t open_now;
      {
        std::lock_guard lk(mutex);
        open_now = sessions.size();
      }
      if (!base.admit(open_now, *stream)) continue;
      add_session(std::move(stream));
    }
  }

  void add_session(StreamPtr stream) {
    auto session = std::make_shared<Session>();
    session->fd = stream->native_handle();
    const auto& tls = base.config().tls;
    if (tls) {
      try {
        session->tls = accept_tls(std::move(stream), *tls);
      } catch (const std::exception& e) {
        base.count_handshake_failure();
        base.log(e.what());
        return;
      }
      session->stage = Session::Stage::handshake;
    } else {
      session->stream = std::move(stream);
    }
    std::lock_guard lk(mutex);
    if (stopping) return;
    epoll_event ev{};
    ev.events = (tls ? EPOLLIN : 0u) | EPOLLONESHOT;
    ev.data.ptr = session.get();
    if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, session->fd, &ev) != 0) {
      base.log("cannot watch a new connection: " + std::string(std::strerror(errno)));
      return;
    }
    sessions.emplace(session.get(), session);
    if (tls && base.config().handshake_timeout.count() > 0) {
      set_deadline_locked(*session, Clock::now() + base.config().handshake_timeout);
    }
    if (!tls) schedule_locked(session);  // authenticate and open it on a worker
  }

  // Arms s's timer for its deadline (the handshake's end, or the earlier of its partial
  // frame's and its queued output's); kNever disarms it. Idle connections have no timer armed.
  void set_deadline_locked(Session& s, Clock::time_point deadline) {
    if (s.deadline == deadline) return;  // the common case: idle before, idle after
    s.deadline = deadline;
    if (deadline == kNever) {
      if (s.deadline_timer) s.deadline_timer.cancel();
      return;
    }
    if (!s.deadline_timer) {
      s.deadline_timer = detail::Timer(timers, [weak_impl = weak_from_this(), weak_session = s.weak_from_this()] {
        deadline_reached(weak_impl, weak_session);
      });
    }
    s.deadline_timer.arm(deadline);
  }

  // On the timer thread: s's deadline may have passed.
  static void deadline_reached(const std::weak_ptr<Impl>& weak_impl, const std::weak_ptr<Session>& weak_session) {
    auto impl = weak_impl.lock();
    auto session = weak_session.lock();
    if (!impl || !session) return;
    std::lock_guard lk(impl->mutex);
    impl->expire_locked(session, Clock::now());
  }

  // Closes s on a worker if its handshake or partial frame ran out of time, or its output
  // stalled.
  void expire_locked(const SessionPtr& s, Clock::time_point now) {
    if (s->retired || s->deadline > now || !s->abort_reason.empty()) return;  // moved, or done
    if (s->queued) {
      // A worker holds it and may be finishing that frame now: look again a little later.
      s->deadline_timer.arm(now + retry);
      return;
    }
    if (s->stage == Session::Stage::refused) {
      s->abort_reason = "refused; lingered";  // not logged: the refusal was
    } else if (s->stage == Session::Stage::handshake) {
      s->abort_reason = "TLS handshake not complete within " + ms_text(base.config().handshake_timeout);
    } else if (s->write_deadline <= now) {
      s->abort_category = CloseReason::write_stall;
      s->abort_reason = "write stalled: what was queued for the peer " + ms_text(base.config().channel.write_timeout) +
                        " ago is still not written (write_timeout): the peer is not reading";
    } else {
      s->abort_category = CloseReason::frame_timeout;
      s->abort_reason = "frame not complete after " + ms_text(base.config().channel.frame_timeout) +
                        " (frame_timeout)";
    }
    s->aborting.store(true, std::memory_order_release);
    schedule_locked(s);
  }

  void schedule_locked(const SessionPtr& s) {
    if (s->retired) return;
    if (s->queued) {
      s->rerun = true;
      return;
    }
    s->queued = true;
    push_work_locked(s);
  }

  // Queues s and wakes a worker through the eventfd (one write per empty-to-busy change).
  void push_work_locked(const SessionPtr& s) {
    const bool was_empty = work.empty();
    work.push_back(s);
    if (was_empty) {
      const std::uint64_t one = 1;
      [[maybe_unused]] auto ignored = ::write(wake_fd, &one, sizeof one);
    }
  }

  // A thread other than our worker stopped reading s's connection: frames may be buffered.
  static void reader_released(const std::weak_ptr<Impl>& weak_impl, const std::weak_ptr<Session>& weak_session) {
    auto impl = weak_impl.lock();
    auto session = weak_session.lock();
    if (!impl || !session) return;
    std::lock_guard lk(impl->mutex);
    impl->schedule_locked(session);
  }

  // Takes queued work first; otherwise waits in epoll for a ready connection, which this
  // worker then serves itself.
  void worker_loop() {
    detail::exchange_wait_observer(this);
    for (;;) {
      SessionPtr s = next_session();
      if (!s) return;
      run(s);
      if (leave_if_surplus()) return;
    }
  }

  SessionPtr next_session() {
    for (;;) {
      {
        std::lock_guard lk(mutex);
        if (workers_done) return nullptr;
        if (!work.empty()) {
          auto s = std::move(work.front());
          work.pop_front();
          if (work.empty()) drain_wake_locked();
          return s;
        }
      }
      // Deadlines are the timer thread's: a worker waits for readiness or work only.
      epoll_event event;
      const int n = ::epoll_wait(epoll_fd, &event, 1, -1);
      std::lock_guard lk(mutex);
      if (workers_done) return nullptr;
      if (n != 1 || event.data.ptr == nullptr) continue;  // interrupted, or work was queued
      auto it = sessions.find(static_cast<const Session*>(event.data.ptr));
      if (it == sessions.end()) continue;
      auto s = it->second;
      if (s->retired) continue;
      if (s->queued) {
        s->rerun = true;  // its holder looks again before arming it
        continue;
      }
      s->queued = true;
      return s;
    }
  }

  // The eventfd stays readable (waking workers) while work waits; empty queue: quiet it.
  void drain_wake_locked() {
    std::uint64_t drained;
    [[maybe_unused]] auto ignored = ::read(wake_fd, &drained, sizeof drained);
  }

  // Advances s until it waits for something, then arms, requeues, parks or retires it.
  // Arming happens before the lock, while s is still ours (queued), so no system call is
  // made under the pool's mutex: a worker preempted there would stall every other. An event
  // that comes between the arming and the lock finds s queued and marks it to be looked at
  // again, which the check below does.
  void run(const SessionPtr& s) {
    for (;;) {
      const Next next = advance(*s);
      const bool arm = next == Next::arm_read || next == Next::arm_write || next == Next::arm_read_write;
      const int arm_error = arm ? arm_for(*s, next) : 0;
      std::lock_guard lk(mutex);
      if (next != Next::retire && next != Next::requeue && s->rerun) {
        s->rerun = false;
        continue;
      }
      s->rerun = false;
      if (arm_error != 0) {
        // Cannot wait on it any more: close it on a worker (never under this lock, where
        // the connection's close handler would run user code).
        s->abort_reason = std::string("cannot watch the connection: ") + std::strerror(arm_error);
        s->aborting.store(true, std::memory_order_release);
        push_work_locked(s);
        return;
      }
      apply_locked(s, next);
      return;
    }
  }

  // Arms s's one-shot readiness for what next waits on; 0, or the error.
  int arm_for(Session& s, Next next) const {
    epoll_event ev{};
    ev.events = EPOLLONESHOT | (next != Next::arm_write ? EPOLLIN : 0u) | (next != Next::arm_read ? EPOLLOUT : 0u);
    ev.data.ptr = &s;
    return ::epoll_ctl(epoll_fd, EPOLL_CTL_MOD, s.fd, &ev) == 0 ? 0 : errno;
  }

  void apply_locked(const SessionPtr& s, Next next) {
    switch (next) {
      case Next::arm_read:
      case Next::arm_write:
      case Next::arm_read_write:
        s->queued = false;  // armed by run(): epoll hands it to the next worker
        return;
      case Next::requeue:
        push_work_locked(s);
        return;
      case Next::park:
        s->queued = false;  // the reading thread's release schedules it again
        return;
      case Next::retire:
        retire_locked(s);
        return;
    }
  }

  void retire_locked(const SessionPtr& s) {
    if (s->retired) return;
    s->retired = true;
    s->queued = false;
    if (s->deadline_timer) s->deadline_timer.cancel();
    ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, s->fd, nullptr);  // before the descriptor can close
    if (s->conn) base.retire_traffic(*s->conn);
    sessions.erase(s.get());
  }

  // One step of a session's life, on a worker; says what the session waits for next.
  Next advance(Session& s) {
    std::string reason;
    CloseReason category = CloseReason::aborted;
    if (s.aborting.load(std::memory_order_acquire)) {
      std::lock_guard lk(mutex);
      reason = s.abort_reason;
      category = s.abort_category;
    }
    if (!reason.empty()) {
      if (s.stage == Session::Stage::refused) return Next::retire;
      if (s.conn) {
        s.conn->abort(reason, category);
      } else {
        if (s.stage == Session::Stage::handshake) base.count_handshake_failure();
        base.log((s.tls ? s.tls->peer_name() : std::string("a client")) + ": " + reason);
      }
      return Next::retire;
    }
    switch (s.stage) {
      case Session::Stage::refused:  // until the client closes, or the linger's deadline
        return detail::ServerBase::drop_from_refused(s.fd) ? Next::arm_read : Next::retire;
      case Session::Stage::handshake: {
        HandshakeStep step;
        try {
          step = s.tls->handshake_step();
        } catch (const std::exception& e) {
          base.count_handshake_failure();
          base.log(e.what());
          // The client may still send (see ServerBase::refusal_linger): drop it until it
          // closes, the socket armed for reading, or the deadline.
          s.stage = Session::Stage::refused;
          {
            std::lock_guard lk(mutex);
            set_deadline_locked(s, Clock::now() + base.refusal_linger());
          }
          return detail::ServerBase::drop_from_refused(s.fd) ? Next::arm_read : Next::retire;
        }
        if (step == HandshakeStep::want_read) return Next::arm_read;
        if (step == HandshakeStep::want_write) return Next::arm_write;
        s.stream = std::move(s.tls);
        s.stage = Session::Stage::open;
        [[fallthrough]];
      }
      case Session::Stage::open: {
        auto conn = base.open(std::move(s.stream));
        if (!conn) return Next::retire;
        detail::ConnectionAccess::set_reader_released_handler(*conn, 
            [weak_impl = weak_from_this(), weak_session = std::weak_ptr<Session>(sessions_ptr(s))] {
              reader_released(weak_impl, weak_session);
            });
        // Another thread (a handler of another connection) left bytes queued for this one:
        // look at it again, which arms it for room.
        detail::ConnectionAccess::set_writer_wanted_handler(*conn, 
            [weak_impl = weak_from_this(), weak_session = std::weak_ptr<Session>(sessions_ptr(s))] {
              reader_released(weak_impl, weak_session);
            });
        std::lock_guard lk(mutex);
        s.conn = std::move(conn);
        s.stage = Session::Stage::serving;
        set_deadline_locked(s, kNever);
        if (stopping) {
          s.conn->abort("the server stopped", CloseReason::server_stop);
          return Next::retire;
        }
        return Next::requeue;  // serve whatever came with the handshake
      }
      case Session::Stage::serving:
        return serve(s);
    }
    return Next::retire;
  }

  SessionPtr sessions_ptr(const Session& s) {
    std::lock_guard lk(mutex);
    auto it = sessions.find(&s);
    return it == sessions.end() ? nullptr : it->second;
  }

  Next serve(Session& s) {
    const ServeStatus status = detail::ConnectionAccess::serve_available(*s.conn, kFramesPerTurn);
    // Closed elsewhere (the timer thread on a liveness timeout, a handler): close() returns
    // once that thread has run the close handler, so stop() cannot return while it runs.
    if (status == ServeStatus::closed) s.conn->close();
    Channel& channel = detail::ConnectionAccess::channel(*s.conn);
    const bool output_waits = status != ServeStatus::closed && channel.queued_bytes() != 0;
    const auto write_deadline = output_waits ? channel.write_deadline() : kNever;
    // The common end of a turn: every frame whole, nothing owed, no clock running, so there
    // is nothing to record. (Only the holder writes these fields, so it may read them.)
    if ((status == ServeStatus::idle || status == ServeStatus::more) && !output_waits && s.deadline == kNever &&
        s.frame_deadline == kNever && s.write_deadline == kNever) {
      return status == ServeStatus::more ? Next::requeue : Next::arm_read;
    }
    std::lock_guard lk(mutex);
    s.write_deadline = write_deadline;
    switch (status) {
      case ServeStatus::idle:
        s.frame_deadline = kNever;
        break;
      case ServeStatus::partial: {
        // The frame timeout runs from the first byte of this frame.
        const auto frames = s.conn->frames_received();
        if (s.frame_deadline == kNever || frames != s.frames_at_partial) {
          s.frames_at_partial = frames;
          const auto limit = base.config().channel.frame_timeout;
          s.frame_deadline = limit.count() > 0 ? Clock::now() + limit : kNever;
        }
        break;
      }
      case ServeStatus::more:
        s.frame_deadline = kNever;
        break;
      case ServeStatus::blocked:
        break;  // the partial frame's clock, if any, keeps running
      case ServeStatus::busy:
        // Another thread reads and will serve what arrives; output still queued is ours to
        // carry when the socket has room (that reader may sit in a plain read).
        if (output_waits) {
          set_deadline_locked(s, s.write_deadline);
          return Next::arm_write;
        }
        return Next::park;
      case ServeStatus::closed:
        return Next::retire;
    }
    set_deadline_locked(s, std::min(s.frame_deadline, s.write_deadline));
    if (status == ServeStatus::blocked) return Next::arm_write;  // backpressure: room first
    if (status == ServeStatus::more) return Next::requeue;
    return output_waits ? Next::arm_read_write : Next::arm_read;
  }

  // --- stopping

  std::vector<SessionPtr> all_sessions() const {
    std::lock_guard lk(mutex);
    std::vector<SessionPtr> all;
    all.reserve(sessions.size());
    for (auto& [key, s] : sessions) all.push_back(s);
    return all;
  }

  void stop(std::chrono::milliseconds grace) {
    {
      std::lock_guard lk(mutex);
      if (stopping) return;
      stopping = true;
    }
    base.announce_stopping();  // unregister before the listener closes, as rpyc's close() does
    base.listener().close();
    if (acceptor.joinable()) acceptor.join();
    base.refuse_requests();
    detail::ServerBase::drain(grace, [this] {
      std::size_t running = 0;
      for (auto& conn : open_connections()) running += conn->stats().running_handlers;
      return running;
    });
    // Close every connection: clients see ConnectionClosed now, whatever still runs.
    for (auto& s : all_sessions()) close_session(*s);
    {
      std::lock_guard lk(mutex);
      workers_done = true;
    }
    // Left unread, the eventfd wakes every worker in epoll_wait, each to find workers_done.
    const std::uint64_t one = 1;
    [[maybe_unused]] auto ignored = ::write(wake_fd, &one, sizeof one);
    // Handlers still waiting on peers end now (their connections are closed), and no
    // worker starts once workers_done is set: the set of workers is final.
    std::vector<std::thread> all;
    {
      std::lock_guard lk(mutex);
      for (auto& [id, w] : workers) all.push_back(std::move(w));
      workers.clear();
      for (auto& w : finished) all.push_back(std::move(w));
      finished.clear();
    }
    for (auto& w : all) {
      if (w.joinable()) w.join();
    }
    {
      std::lock_guard lk(mutex);
      for (auto& s : all_sessions_locked()) retire_locked(s);
      work.clear();
      fully_stopped = true;
    }
    stopped.notify_all();
  }

  std::vector<ConnectionPtr> open_connections() const {
    std::lock_guard lk(mutex);  // a worker sets a session's conn under it
    std::vector<ConnectionPtr> all;
    for (auto& [key, s] : sessions) {
      if (s->conn) all.push_back(s->conn);
    }
    return all;
  }

  std::vector<SessionPtr> all_sessions_locked() const {
    std::vector<SessionPtr> all;
    for (auto& [key, s] : sessions) all.push_back(s);
    return all;
  }

  static void close_session(Session& s) {
    // Only the stream is shut here (never blocks); a worker holding the session finds the
    // connection closed, and the last owner frees it.
    if (s.conn) {
      s.conn->abort("the server stopped", CloseReason::server_stop);
    } else if (s.tls) {
      s.tls->close();
    } else if (s.stream) {
      s.stream->close();
    }
  }

  ServerStats stats() const {
    ServerStats st;
    base.fill(st);
    {
      std::lock_guard lk(mutex);
      st.waiting_handlers = waiting;
    }
    st.refused_waits = refused_waits.load(std::memory_order_relaxed);
    std::vector<ConnectionPtr> connections;
    {
      std::lock_guard lk(mutex);  // a worker sets a session's conn under it
      st.open_connections = sessions.size();
      base.add_traffic(st);  // each connection's traffic once: open here, or retired
      for (auto& [key, s] : sessions) {
        if (!s->conn) continue;
        base.add_traffic(st, *s->conn);
        connections.push_back(s->conn);
      }
    }
    for (auto& conn : connections) {
      const auto cs = conn->stats();
      st.running_handlers += cs.running_handlers;
      st.lent_objects += cs.lent_objects;
      st.netrefs_held += cs.netrefs_held;
      st.queued_bytes += cs.queued_bytes;
    }
    return st;
  }

  ServerMetrics metrics() const {
    ServerMetrics m{stats(), {}};
    if (base.served_metrics()) m.calls = base.served_metrics()->snapshot();
    return m;
  }
};

ThreadPoolServer::ThreadPoolServer(Service service, ServerConfig config)
    : impl_(std::make_shared<Impl>(std::move(service), std::move(config))) {}

ThreadPoolServer::~ThreadPoolServer() { stop(); }

void ThreadPoolServer::serve_forever() {
  impl_->start();
  std::unique_lock lk(impl_->mutex);
  impl_->stopped.wait(lk, [&] { return impl_->fully_stopped; });
}

void ThreadPoolServer::start() { impl_->start(); }

void ThreadPoolServer::stop(std::chrono::milliseconds grace) { impl_->stop(grace); }

std::uint16_t ThreadPoolServer::port() const noexcept { return impl_->base.listener().port(); }

std::size_t ThreadPoolServer::connection_count() const {
  std::lock_guard lk(impl_->mutex);
  return impl_->sessions.size();
}

ServerStats ThreadPoolServer::stats() const { return impl_->stats(); }

ServerMetrics ThreadPoolServer::metrics() const { return impl_->metrics(); }

std::size_t ThreadPoolServer::thread_count() const noexcept {
  return impl_->threads.load(std::memory_order_relaxed) + 1;
}

}  // namespace netref
