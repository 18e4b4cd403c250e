// The timer thread every deadline runs on: deadline order, cancel, re-arm, a callback that
// cancels, re-arms or destroys timers (its own included), and timers or queues destroyed with
// deadlines pending. Order is made deterministic with a gate: a first timer holds the thread
// inside its callback while the case arms the others, so they are all armed before any runs.
#include "netref/protocol/detail/timer_queue.hpp"

#include <doctest/doctest.h>

#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

using netref::detail::shared_timer_queue;
using netref::detail::Timer;
using netref::detail::TimerQueue;
using Clock = TimerQueue::Clock;
using namespace std::chrono_literals;

namespace {

// What the timer thread did, handed to the case's thread (doctest asserts only there).
class Record {
 public:
  void add(int event) {
    std::lock_guard lk(mutex_);  // notified under the lock: the case may end once it is let go
    events_.push_back(event);
    changed_.notify_all();
  }

  // The events once there are n of them; empty if they do not come within 10 s (a hang).
  std::optional<std::vector<int>> wait_for(std::size_t n) {
    std::unique_lock lk(mutex_);
    if (!changed_.wait_for(lk, 10s, [&] { return events_.size() >= n; })) return std::nullopt;
    return events_;
  }

  std::vector<int> now() {
    std::lock_guard lk(mutex_);
    return events_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<int> events_;
};

// Holds the timer thread in a callback until opened.
class Gate {
 public:
  explicit Gate(const std::shared_ptr<TimerQueue>& queue)
      : opened_(open_.get_future().share()),
        timer_(queue, [entered = entered_, opened = opened_] {
          entered->set_value();
          opened.wait();
        }) {
    timer_.arm(Clock::now());
    entered_future_.wait();
  }
  ~Gate() { open(); }

  void open() {
    if (!was_opened_) open_.set_value();
    was_opened_ = true;
  }

 private:
  std::shared_ptr<std::promise<void>> entered_ = std::make_shared<std::promise<void>>();
  std::future<void> entered_future_ = entered_->get_future();
  std::promise<void> open_;
  std::shared_future<void> opened_;
  bool was_opened_ = false;
  Timer timer_;
};

}  // namespace

TEST_CASE("timers run in deadline order, and timers due at the same time in the order they were armed") {
  Record record;  // outlives the queue, whose end joins the thread that records
  auto queue = std::make_shared<TimerQueue>();
  std::vector<Timer> timers;
  for (int i = 0; i < 5; ++i) timers.emplace_back(queue, [&record, i] { record.add(i); });
  const auto t = Clock::now() - 1s;  // all due already: only their order is left to decide
  Gate gate(queue);
  timers[3].arm(t + 3ms);
  timers[1].arm(t + 1ms);
  timers[4].arm(t + 3ms);  // ties with 3, armed after it
  timers[0].arm(t);
  timers[2].arm(t + 2ms);
  CHECK(queue->armed() == 5);
  gate.open();
  const auto events = record.wait_for(5);
  REQUIRE(events);
  CHECK(*events == std::vector<int>{0, 1, 2, 3, 4});
  CHECK(queue->armed() == 0);
}

TEST_CASE("a cancelled timer does not run, and cancelling it again says it was not armed") {
  Record record;  // outlives the queue, whose end joins the thread that records
  auto queue = std::make_shared<TimerQueue>();
  Timer cancelled(queue, [&record] { record.add(1); });
  Timer later(queue, [&record] { record.add(2); });
  const auto t = Clock::now() - 1s;
  Gate gate(queue);
  cancelled.arm(t);
  later.arm(t + 1ms);
  CHECK(cancelled.cancel());
  CHECK_FALSE(cancelled.cancel());
  gate.open();
  const auto events = record.wait_for(1);
  REQUIRE(events);
  CHECK(*events == std::vector<int>{2});  // the cancelled one was due first: it would be here
}

TEST_CASE("re-arming an armed timer moves it, and a cancelled timer can be armed again") {
  Record record;  // outlives the queue, whose end joins the thread that records
  auto queue = std::make_shared<TimerQueue>();
  Timer moved(queue, [&record] { record.add(1); });
  Timer other(queue, [&record] { record.add(2); });
  Timer rearmed(queue, [&record] { record.add(3); });
  const auto t = Clock::now() - 1s;
  Gate gate(queue);
  moved.arm(t);
  other.arm(t + 1ms);
  moved.arm(t + 2ms);  // now after other
  rearmed.arm(t);
  CHECK(rearmed.cancel());
  rearmed.arm(t + 3ms);
  CHECK(queue->armed() == 3);  // moving a timer does not add one
  gate.open();
  const auto events = record.wait_for(3);
  REQUIRE(events);
  CHECK(*events == std::vector<int>{2, 1, 3});
}

TEST_CASE("a timer that arms itself from its callback runs again, once per arming") {
  Record record;  // outlives the queue, whose end joins the thread that records
  auto queue = std::make_shared<TimerQueue>();
  int runs = 0;  // only the timer thread touches it
  auto self = std::make_unique<Timer>();
  *self = Timer(queue, [&record, &runs, timer = self.get()] {
    record.add(++runs);
    if (runs < 3) timer->arm(Clock::now());
  });
  self->arm(Clock::now());
  const auto events = record.wait_for(3);
  REQUIRE(events);
  CHECK(*events == std::vector<int>{1, 2, 3});
  // It stopped arming itself: a fourth run never comes, and the queue holds nothing.
  Timer last(queue, [&record] { record.add(0); });
  last.arm(Clock::now());
  const auto after = record.wait_for(4);
  REQUIRE(after);
  CHECK(*after == std::vector<int>{1, 2, 3, 0});
  CHECK(queue->armed() == 0);
}

TEST_CASE("a callback may cancel another timer, and cancelling itself while it runs says false") {
  Record record;  // outlives the queue, whose end joins the thread that records
  auto queue = std::make_shared<TimerQueue>();
  Timer victim(queue, [&record] { record.add(99); });
  std::promise<bool> self_cancel;
  auto self_cancel_result = self_cancel.get_future();
  auto killer = std::make_unique<Timer>();
  *killer = Timer(queue, [&, timer = killer.get()] {
    record.add(victim.cancel() ? 1 : -1);
    self_cancel.set_value(timer->cancel());
  });
  Timer last(queue, [&record] { record.add(2); });
  const auto t = Clock::now() - 1s;
  Gate gate(queue);
  killer->arm(t);
  victim.arm(t + 1ms);
  last.arm(t + 2ms);
  gate.open();
  const auto events = record.wait_for(2);
  REQUIRE(events);
  CHECK(*events == std::vector<int>{1, 2});
  CHECK_FALSE(self_cancel_result.get());
}

TEST_CASE("a timer destroyed from its own callback is gone, and the others still run") {
  Record record;  // outlives the queue, whose end joins the thread that records
  auto queue = std::make_shared<TimerQueue>();
  auto doomed = std::make_unique<Timer>();
  auto witness = std::make_shared<int>(0);
  std::weak_ptr<int> watched = witness;
  *doomed = Timer(queue, [&record, &doomed, witness = std::move(witness)] {
    record.add(1);
    doomed.reset();  // destroys this very callback's Timer, with witness inside it
  });
  Timer after(queue, [&record] { record.add(2); });
  const auto t = Clock::now() - 1s;
  Gate gate(queue);
  doomed->arm(t);
  after.arm(t + 1ms);
  gate.open();
  const auto events = record.wait_for(2);
  REQUIRE(events);
  CHECK(*events == std::vector<int>{1, 2});
  CHECK(watched.expired());  // the callback went once it returned
}

TEST_CASE("a timer destroyed while armed drops its callback without running it") {
  Record record;  // outlives the queue, whose end joins the thread that records
  auto queue = std::make_shared<TimerQueue>();
  auto witness = std::make_shared<int>(0);
  std::weak_ptr<int> watched = witness;
  auto pending = std::make_unique<Timer>(queue, [&record, witness = std::move(witness)] { record.add(1); });
  pending->arm(Clock::now() + 1h);
  CHECK(queue->armed() == 1);
  pending.reset();
  CHECK(queue->armed() == 0);
  CHECK(watched.expired());
  Timer last(queue, [&record] { record.add(2); });
  last.arm(Clock::now());
  const auto events = record.wait_for(1);
  REQUIRE(events);
  CHECK(*events == std::vector<int>{2});
}

TEST_CASE("the queue's last owner letting go joins its thread, from any thread or its own") {
  Record record;
  SUBCASE("a timer armed an hour ahead does not hold up the queue's end") {
    auto queue = std::make_shared<TimerQueue>();
    std::weak_ptr<TimerQueue> watched = queue;
    auto timer = std::make_unique<Timer>(queue, [&record] { record.add(1); });
    timer->arm(Clock::now() + 1h);
    queue.reset();  // the timer holds it now
    CHECK_FALSE(watched.expired());
    timer.reset();  // joins a thread asleep until the deadline
    CHECK(watched.expired());
    CHECK(record.now().empty());  // dropped, not run early
  }
  SUBCASE("the last owner is a timer destroyed by its own callback, on the queue's thread") {
    auto queue = std::make_shared<TimerQueue>();
    std::weak_ptr<TimerQueue> watched = queue;
    auto timer = std::make_unique<Timer>();
    auto done = std::make_shared<std::promise<void>>();  // shared: set on a thread nobody joins
    auto finished = done->get_future();
    *timer = Timer(queue, [&record, &timer, done] {
      timer.reset();  // the queue's last owner: its thread cannot join itself
      record.add(1);
      done->set_value();
    });
    queue.reset();
    timer->arm(Clock::now());
    finished.wait();
    CHECK(watched.expired());
    CHECK(record.now() == std::vector<int>{1});  // the callback ran on past its queue's end
  }
}

TEST_CASE("the shared queue is one for the process while anyone holds it") {
  auto first = shared_timer_queue();
  auto second = shared_timer_queue();
  CHECK(first == second);
  // Held only by a timer, it is still the one handed out.
  Timer timer(first, [] {});
  const TimerQueue* raw = first.get();
  first.reset();
  second.reset();
  CHECK(shared_timer_queue().get() == raw);
}
