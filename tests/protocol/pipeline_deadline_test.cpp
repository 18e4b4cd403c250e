// Pipelining with deadlines (features `pipeline` and `deadline` together): a kept call and a
// call on a pending result both travel wrapped in DEADLINE, and a call waiting behind its
// target past its deadline is not run.
#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <string>
#include <thread>

#include "harness.hpp"
#include "netref/protocol/pipeline.hpp"
#include "netref/protocol/request_context.hpp"

using namespace netref;
using namespace std::chrono_literals;
using netref::test::Pair;

namespace {

/// make() gives a new Maker, slow_make() one once the test opens the gate, remaining() what
/// is left of the request's deadline (-1: none), add(x) counts and answers x + 1.
class Maker : public Object {
 public:
  struct Shared {
    std::promise<void> started;
    std::shared_future<void> gate;
    std::atomic<int> adds{0};
  };
  explicit Maker(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}
  std::string_view type_name() const noexcept override { return "tests.Maker"; }
  Value callattr(std::string_view name, Args args, Kwargs kwargs) override {
    if (name == "make") return Value(ObjectPtr(std::make_shared<Maker>(shared_)));
    if (name == "slow_make") {
      shared_->started.set_value();
      shared_->gate.wait();
      return Value(ObjectPtr(std::make_shared<Maker>(shared_)));
    }
    if (name == "remaining") {
      auto* request = RequestContext::current();
      auto left = request != nullptr ? request->remaining() : std::nullopt;
      return Value(left ? static_cast<std::int64_t>(left->count()) : std::int64_t{-1});
    }
    if (name == "add") {
      ++shared_->adds;
      return Value(*args.at(0).get_if<std::int64_t>() + 1);
    }
    return Object::callattr(name, std::move(args), std::move(kwargs));
  }

 private:
  std::shared_ptr<Shared> shared_;
};

/// Both sides listed pipeline and deadline; the server is served by a second thread too, so
/// it reads while a handler blocks (as a ThreadPoolServer does).
struct Served {
  std::shared_ptr<Maker::Shared> shared = std::make_shared<Maker::Shared>();
  Pair pair{std::make_shared<Maker>(shared)};
  std::thread second;
  RemoteRefPtr root;
  Served() {
    REQUIRE(pair.client->negotiate_extensions());
    REQUIRE(pair.client->peer_has(Feature::pipeline));
    REQUIRE(pair.client->peer_has(Feature::deadline));
    second = std::thread([s = pair.server] { s->serve_all(); });
    root = pair.client->root();
  }
  ~Served() {
    pair.client->close();
    pair.server->close();
    second.join();
  }
};

const std::string kMake[] = {"make"};
const std::string kSlowMake[] = {"slow_make"};
const std::string kRemaining[] = {"remaining"};
const std::string kAdd[] = {"add"};

}  // namespace

TEST_CASE("a kept call and a call on its pending result each carry their deadline, and still pipeline") {
  Served s;
  const auto before = s.pair.client->traffic();
  auto target = s.root->async_call_path(kMake, {}, {}, 5s);  // kept, inside DEADLINE
  REQUIRE(pipelinable(target));
  auto left = pipelined_async_call(target, kRemaining, {}, {}, 4s);  // names the promise inside DEADLINE
  auto plain = pipelined_async_call(target, kRemaining, {});
  CHECK(s.pair.client->traffic().frames_in == before.frames_in);  // all three left before any reply
  const Value left_value = left.value();
  const auto* ms = left_value.get_if<std::int64_t>();
  REQUIRE(ms != nullptr);
  CHECK(*ms > 0);
  CHECK(*ms <= 4000);
  CHECK(plain.value() == Value(std::int64_t{-1}));  // sent without one: none
  CHECK(target.value().kind() == Value::Kind::remote_ref);
  // The sync form too, and a kept result reached through it.
  Value args[] = {Value(std::int64_t{41})};
  CHECK(pipelined_call(target, kAdd, args, {}, 3s) == Value(std::int64_t{42}));
  CHECK(s.pair.server->stats().pipelined_results >= 1);
}

TEST_CASE("a pipelined call waiting behind its target past its deadline is not run and is answered TimeoutError") {
  Served s;
  std::promise<void> open_gate;
  s.shared->gate = open_gate.get_future().share();
  auto target = s.root->async_call_path(kSlowMake, {});
  s.shared->started.get_future().wait();  // the target runs: what names it waits behind it
  const Value one[] = {Value(std::int64_t{1})};
  auto dependent = pipelined_async_call(target, kAdd, one, {}, 30ms);
  // The server read it (it waits on the target): its deadline, counted from its arrival, is
  // at most 30 ms from now.
  const auto give_up = std::chrono::steady_clock::now() + 10s;  // a safety bound, not a timing
  while (s.pair.server->stats().pipelined_waiting == 0 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::yield();
  }
  const auto server_deadline_by = std::chrono::steady_clock::now() + 30ms;
  // The caller's expiry settles it with Timeout (on the timer thread; a CANCEL leaves too).
  while (!dependent.ready() && std::chrono::steady_clock::now() < give_up) std::this_thread::yield();
  REQUIRE(dependent.ready());
  CHECK_THROWS_AS(dependent.value(), Timeout);
  while (std::chrono::steady_clock::now() < server_deadline_by) std::this_thread::yield();
  const auto late_before = s.pair.client->stats().late_replies;
  open_gate.set_value();
  CHECK(target.value().kind() == Value::Kind::remote_ref);
  // The dependent's answer arrives after its expiry: dropped as late, and it never ran.
  while (s.pair.client->stats().late_replies == late_before && std::chrono::steady_clock::now() < give_up) {
    s.root->call_path(kRemaining, {});
  }
  CHECK(s.pair.client->stats().late_replies > late_before);
  CHECK(s.shared->adds == 0);
  Value two[] = {Value(std::int64_t{2})};
  CHECK(pipelined_call(target, kAdd, two, {}, 3s) == Value(std::int64_t{3}));  // the target itself serves on
  CHECK(s.shared->adds == 1);
}
