// The timer thread and its timers (netref/protocol/detail/timer_queue.hpp).
//
// Armed timers sit in a std::set ordered by (deadline, arming order). Each timer keeps its set
// node while disarmed (a node handle), so re-arming, which the flush and liveness timers do
// all the time, re-keys that node instead of allocating one.
#include "netref/protocol/detail/timer_queue.hpp"

#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>

namespace netref::detail {

struct TimerQueue::State {
  struct Key {
    Clock::time_point due;
    std::uint64_t order;  // arming order: ties run first armed, first run
    std::uint64_t id;
    bool operator<(const Key& other) const noexcept {
      return due != other.due ? due < other.due : order < other.order;
    }
  };
  using Order = std::set<Key>;

  struct Entry {
    std::function<void()> callback;  // moved out while it runs, moved back after
    Order::iterator position;        // in `order`; valid while armed
    Order::node_type spare;          // this timer's node while it is not in `order`
    bool armed = false;
    bool running = false;            // the thread runs its callback now
    bool released = false;           // its Timer is gone: the thread erases it after the run
  };

  mutable std::mutex mutex;
  std::condition_variable wake;
  std::unordered_map<std::uint64_t, Entry> entries;  // every live Timer, armed or not
  Order order;                                       // armed timers, earliest first
  std::uint64_t next_id = 1;
  std::uint64_t next_order = 0;
  bool stopping = false;

  static void run(const std::shared_ptr<State>& self);
};

void TimerQueue::State::run(const std::shared_ptr<State>& self) {
  State& s = *self;
  std::unique_lock lk(s.mutex);
  while (!s.stopping) {
    if (s.order.empty()) {
      s.wake.wait(lk);
      continue;
    }
    const auto due = s.order.begin()->due;
    if (Clock::now() < due) {
      s.wake.wait_until(lk, due);
      continue;
    }
    auto node = s.order.extract(s.order.begin());
    const auto id = node.value().id;
    Entry& entry = s.entries.at(id);
    entry.spare = std::move(node);
    entry.armed = false;
    entry.running = true;
    std::function<void()> callback = std::move(entry.callback);
    lk.unlock();
    try {
      callback();
    } catch (...) {
      // A callback must not throw; if one does, the other deadlines still have to run.
    }
    lk.lock();
    auto it = s.entries.find(id);
    if (it != s.entries.end() && !it->second.released) {
      it->second.callback = std::move(callback);
      it->second.running = false;
      continue;
    }
    if (it != s.entries.end()) s.entries.erase(it);
    // Its Timer went while it ran. What the callback holds may lead back to a Timer (a
    // connection's last reference): let it go without the lock.
    lk.unlock();
    callback = nullptr;
    lk.lock();
  }
}

namespace {

// The process that made a queue; a child of fork() has no thread behind its parent's queues.
pid_t current_pid() noexcept { return ::getpid(); }

}  // namespace

TimerQueue::TimerQueue() : state_(std::make_shared<State>()), owner_pid_(current_pid()) {}

TimerQueue::~TimerQueue() {
  if (owner_pid_ != current_pid()) {
    // Forked: the thread does not exist here, and its mutex may have been held at the fork.
    // Leave both behind untouched rather than join a thread that is not there.
    new std::thread(std::move(thread_));
    new std::shared_ptr<State>(std::move(state_));
    return;
  }
  std::unordered_map<std::uint64_t, State::Entry> dropped;
  {
    std::lock_guard lk(state_->mutex);
    state_->stopping = true;
    for (auto it = state_->entries.begin(); it != state_->entries.end();) {
      // A running callback's entry stays: the thread looks it up when the callback returns.
      if (it->second.running) {
        ++it;
      } else {
        dropped.insert(state_->entries.extract(it++));
      }
    }
    state_->order.clear();
  }
  state_->wake.notify_all();
  if (thread_.joinable()) {
    if (thread_.get_id() == std::this_thread::get_id()) {
      thread_.detach();  // the last owner let go from a callback: the thread ends after it
    } else {
      thread_.join();
    }
  }
}

std::size_t TimerQueue::armed() const {
  std::lock_guard lk(state_->mutex);
  return state_->order.size();
}

void TimerQueue::start_locked() {
  if (thread_.joinable()) return;
  thread_ = std::thread([state = state_] { State::run(state); });
}

std::shared_ptr<TimerQueue> shared_timer_queue() {
  struct Registry {
    std::mutex mutex;
    std::weak_ptr<TimerQueue> queue;
    pid_t pid = 0;
  };
  // Leaked on purpose: no static destructor can run while a thread still asks for the queue.
  static auto* registry = new Registry;
  std::lock_guard lk(registry->mutex);
  auto queue = registry->queue.lock();
  if (!queue || registry->pid != current_pid()) {
    queue = std::make_shared<TimerQueue>();
    registry->queue = queue;
    registry->pid = current_pid();
  }
  return queue;
}

// --- Timer

Timer::Timer(std::shared_ptr<TimerQueue> queue, std::function<void()> callback) : queue_(std::move(queue)) {
  auto& s = *queue_->state_;
  std::lock_guard lk(s.mutex);
  id_ = s.next_id++;
  s.entries[id_].callback = std::move(callback);
}

Timer::~Timer() { release(); }

Timer::Timer(Timer&& other) noexcept : queue_(std::move(other.queue_)), id_(std::exchange(other.id_, 0)) {}

Timer& Timer::operator=(Timer&& other) noexcept {
  if (this != &other) {
    release();
    queue_ = std::move(other.queue_);
    id_ = std::exchange(other.id_, 0);
  }
  return *this;
}

void Timer::arm(Clock::time_point due) {
  auto& s = *queue_->state_;
  std::lock_guard lk(s.mutex);
  auto& entry = s.entries.at(id_);
  auto node = entry.armed ? s.order.extract(entry.position) : std::move(entry.spare);
  const TimerQueue::State::Key key{due, s.next_order++, id_};
  if (node.empty()) {
    entry.position = s.order.insert(key).first;  // the first arming: the only allocation
  } else {
    node.value() = key;
    entry.position = s.order.insert(std::move(node)).position;
  }
  entry.armed = true;
  queue_->start_locked();
  // Only a new earliest deadline changes how long the thread sleeps. Told under the lock: once
  // it is let go, the callback may already have run and destroyed this timer, and its queue.
  if (entry.position == s.order.begin()) s.wake.notify_one();
}

bool Timer::cancel() noexcept {
  auto& s = *queue_->state_;
  std::lock_guard lk(s.mutex);
  auto& entry = s.entries.at(id_);
  if (!entry.armed) return false;
  entry.spare = s.order.extract(entry.position);
  entry.armed = false;
  return true;
}

void Timer::release() noexcept {
  if (!queue_) return;
  std::function<void()> callback;  // destroyed after the lock is let go
  {
    auto& s = *queue_->state_;
    std::lock_guard lk(s.mutex);
    auto it = s.entries.find(id_);
    if (it != s.entries.end()) {
      if (it->second.armed) s.order.erase(it->second.position);
      it->second.armed = false;
      if (it->second.running) {
        it->second.released = true;
      } else {
        callback = std::move(it->second.callback);
        s.entries.erase(it);
      }
    }
  }
  callback = nullptr;
  queue_.reset();  // may be the queue's last owner: joins its thread
}

}  // namespace netref::detail
