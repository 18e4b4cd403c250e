// The connection's tables and its state, each on its own: seqs and pending calls, lent
// objects, imported netrefs, requests in service, and Open | Closing | Closed.
#include <doctest/doctest.h>

#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "netref/protocol/close_reason.hpp"
#include "netref/protocol/errors.hpp"
#include "netref/protocol/request_context.hpp"
#include "tables/connection_state.hpp"
#include "tables/import_table.hpp"
#include "tables/lent_table.hpp"
#include "tables/pending_calls.hpp"
#include "tables/serving_requests.hpp"

using namespace netref;
using namespace netref::detail;
using netref::test::Thing;

namespace {
std::shared_ptr<PendingCall> new_call() { return std::make_shared<PendingCall>(); }

// A destructor that says when it ran: objects leave the lent table through return values,
// so that user destructors run outside the connection's locks.
struct Watched : Thing {
  explicit Watched(bool& gone) : gone_(gone) {}
  ~Watched() override { gone_ = true; }
  bool& gone_;
};

constexpr LentTable::Caps kRoomy{100, 1u << 30};
}  // namespace

TEST_CASE("pending calls: seqs count up from the first, and a reply takes its call out once") {
  PendingCalls calls(7);
  auto a = new_call();
  auto b = new_call();
  CHECK(calls.add(a) == 7);
  CHECK(calls.add(b) == 8);
  CHECK(a->seq == 7);
  CHECK(calls.size() == 2);
  CHECK(calls.take(8) == b);
  CHECK(calls.take(8) == nullptr);  // a second reply to the same seq finds nothing
  CHECK(calls.size() == 1);
  CHECK(calls.issued_earlier(8));   // ...and counts as late, not forged
  CHECK_FALSE(calls.issued_earlier(7));  // still awaited: not late
  CHECK_FALSE(calls.issued_earlier(9));  // never issued: forged
}

TEST_CASE("pending calls: seqs wrap at 2^32 and skip one still in flight") {
  PendingCalls calls(0xFFFFFFFEu);
  auto old = new_call();
  CHECK(calls.add(old) == 0xFFFFFFFEu);
  CHECK(calls.add(new_call()) == 0xFFFFFFFFu);
  CHECK(calls.add(new_call()) == 0u);  // wrapped
  calls.forget(0xFFFFFFFFu);
  calls.forget(0u);
  // Run the counter all the way round to the seq still in flight: it is skipped.
  PendingCalls wrapping(0xFFFFFFFEu);
  wrapping.add(old);                                   // 0xFFFFFFFE stays in flight
  for (std::uint64_t i = 0; i < 3; ++i) wrapping.issue_unanswered();  // FFFFFFFF, 0, 1
  CHECK(wrapping.issued_earlier(0u));
  CHECK(wrapping.issued_earlier(0xFFFFFFFFu));  // across the wrap
  CHECK_FALSE(wrapping.issued_earlier(2u));
}

TEST_CASE("pending calls: an unanswered message's seq never collides with a call in flight") {
  PendingCalls calls(0);
  auto call = new_call();
  calls.add(call);                 // seq 0
  CHECK(calls.issue_unanswered() == 1);
  CHECK(calls.size() == 1);        // DEL and CLOSE wait for no reply: not filed
  auto all = calls.take_all();
  CHECK(all.size() == 1);
  CHECK(all.at(0) == call);
  CHECK(calls.size() == 0);
  CHECK(calls.take(0) == nullptr);
}

TEST_CASE("pending calls: a taken call leaves nothing behind in its slot") {
  PendingCalls calls(0);
  auto first = new_call();
  calls.add(first);
  CHECK(calls.take(0) == first);
  auto second = new_call();
  CHECK(calls.add(second) == 1);
  CHECK(calls.take(1) == second);
  CHECK(first.use_count() == 1);   // the table holds no earlier call
  CHECK(second.use_count() == 1);
}

TEST_CASE("pending calls: a call whose ring slot an older call holds overflows, and every call is found") {
  PendingCalls calls(0);
  auto stuck = new_call();
  calls.add(stuck);  // seq 0 stays in flight (a callback that never answers)
  std::vector<std::shared_ptr<PendingCall>> later;
  // Three times round the ring: seqs 128, 256 and 384 land on seq 0's slot.
  for (std::size_t i = 1; i <= 3 * PendingCalls::kRingSlots; ++i) {
    later.push_back(new_call());
    CHECK(calls.add(later.back()) == i);
  }
  CHECK(calls.size() == 1 + 3 * PendingCalls::kRingSlots);
  CHECK_FALSE(calls.issued_earlier(PendingCalls::kRingSlots));  // awaited, from the overflow
  // Take them out of order: the overflowing ones, then the rest, then the stuck one.
  CHECK(calls.take(2 * PendingCalls::kRingSlots) == later[2 * PendingCalls::kRingSlots - 1]);
  for (std::size_t i = 1; i <= 3 * PendingCalls::kRingSlots; ++i) {
    if (i == 2 * PendingCalls::kRingSlots) continue;
    CHECK(calls.take(static_cast<std::uint32_t>(i)) == later[i - 1]);
  }
  CHECK(calls.take(2 * PendingCalls::kRingSlots) == nullptr);  // taken once
  CHECK(calls.size() == 1);
  CHECK(calls.issued_earlier(PendingCalls::kRingSlots));        // answered: a reply now is late
  CHECK(calls.take(0) == stuck);
  CHECK(calls.size() == 0);
  for (const auto& call : later) CHECK(call.use_count() == 1);
}

TEST_CASE("pending calls: take_all returns the ring's and the overflow's calls") {
  PendingCalls calls(5);
  auto a = new_call();
  auto b = new_call();
  calls.add(a);                                        // seq 5
  for (std::size_t i = 0; i < PendingCalls::kRingSlots - 1; ++i) calls.issue_unanswered();
  calls.add(b);                                        // seq 5 + kRingSlots: a's slot
  auto all = calls.take_all();
  CHECK(all.size() == 2);
  CHECK(all.at(5) == a);
  CHECK(all.at(static_cast<std::uint32_t>(5 + PendingCalls::kRingSlots)) == b);
  CHECK(calls.size() == 0);
  CHECK(calls.take(5) == nullptr);
}

TEST_CASE("lent table: an object has one id however often it is lent, and goes at its last release") {
  LentTable table;
  bool gone = false;
  auto object = std::make_shared<Watched>(gone);
  const auto id = table.lend(object, kRoomy);
  CHECK(id >= 1);
  CHECK(table.lend(object, kRoomy) == id);
  CHECK(table.count_of(*object) == 2);
  CHECK(table.find(id, object->type_name()) == object);
  CHECK(table.find(id, "other.Type") == nullptr);   // the id with another type: no such object
  CHECK(table.find(id + 1, object->type_name()) == nullptr);
  CHECK(table.release(id, 1) == nullptr);  // one reference left
  auto dropped = table.release(id, 1);
  CHECK(dropped == object);
  CHECK(table.size() == 0);
  object.reset();
  CHECK_FALSE(gone);  // the table handed it back: its destructor runs where the caller says
  dropped.reset();
  CHECK(gone);
}

TEST_CASE("lent table: a release of an id never lent, or of more than was lent, is a protocol error") {
  LentTable table;
  auto object = std::make_shared<Thing>();
  const auto id = table.lend(object, kRoomy);
  CHECK_THROWS_AS(table.release(id + 1, 1), ProtocolError);
  CHECK_THROWS_AS(table.release(id, 2), ProtocolError);
  CHECK(table.count_of(*object) == 1);  // a refused release changes nothing
}

TEST_CASE("lent table: the caps refuse new objects only, and ids are never reused") {
  LentTable table;
  auto a = std::make_shared<Thing>();
  auto b = std::make_shared<Thing>();
  const LentTable::Caps one{1, 1u << 30};
  const auto id = table.lend(a, one);
  CHECK_THROWS_AS(table.lend(b, one), Error);
  CHECK(table.lend(a, one) == id);  // lending one already lent needs no room
  table.release(id, 2);
  CHECK(table.lend(b, one) > id);
  const std::size_t process_now = ProcessLentShare::total().load();
  CHECK_THROWS_AS(table.lend(a, LentTable::Caps{100, process_now}), Error);
}

TEST_CASE("lent table: a rollback undoes one lend of each object, and take_all empties it") {
  LentTable table;
  auto a = std::make_shared<Thing>();
  auto b = std::make_shared<Thing>();
  const std::size_t process_before = ProcessLentShare::total().load();
  table.lend(a, kRoomy);
  table.lend(a, kRoomy);
  table.lend(b, kRoomy);
  CHECK(ProcessLentShare::total().load() == process_before + 2);
  std::vector<ObjectPtr> dropped;
  const Object* lent_now[] = {a.get(), b.get()};
  table.rollback(lent_now, dropped);
  CHECK(table.count_of(*a) == 1);
  CHECK(table.count_of(*b) == 0);
  REQUIRE(dropped.size() == 1);
  CHECK(dropped[0] == b);
  auto all = table.take_all();
  CHECK(all.size() == 1);
  CHECK(table.size() == 0);
  CHECK(table.count_of(*a) == 0);
  all.clear();
  CHECK(ProcessLentShare::total().load() == process_before);  // every share given back
}

TEST_CASE("import table: one live netref per object, forgotten only when its slot expired") {
  ImportTable table;
  const IdPack id{"tests.Thing", 11, 5};
  netref::test::Pair pair;
  pair.client->close();  // the netrefs made here belong to no table of it, and send no DEL
  int made = 0;
  auto make = [&] {
    ++made;
    return std::make_shared<RemoteRef>(pair.client, id);
  };
  auto [first, existed] = table.find_or_add(id, make);
  CHECK_FALSE(existed);
  auto [again, existed_again] = table.find_or_add(id, make);
  CHECK(existed_again);
  CHECK(again == first);
  CHECK(made == 1);
  CHECK(table.live() == 1);
  table.forget_expired(id);  // still alive: kept
  CHECK(table.size() == 1);
  first.reset();
  again.reset();
  CHECK(table.live() == 0);
  auto [newer, existed_newer] = table.find_or_add(id, make);  // a newer netref takes the slot
  CHECK_FALSE(existed_newer);
  table.forget_expired(id);  // the old one's destructor: leaves the newer alone
  CHECK(table.live() == 1);
  newer.reset();
  table.forget_expired(id);
  CHECK(table.size() == 0);
}

TEST_CASE("serving requests: a seq in service cannot be taken again until its reply") {
  ServingRequests serving;
  serving.begin(3);
  serving.begin(4);
  CHECK_THROWS_AS(serving.begin(3), ProtocolError);
  CHECK(serving.size() == 2);
  serving.end(3);
  serving.begin(3);
  serving.end(9);  // not in service: nothing happens
  CHECK(serving.size() == 2);
}

TEST_CASE("serving requests: past the lock-free slots, seqs spill over and end under the lock, seq 0 included") {
  ServingRequests serving;
  for (std::uint32_t seq = 0; seq < ServingRequests::kSlots + 3; ++seq) serving.begin(seq);
  CHECK(serving.size() == ServingRequests::kSlots + 3);
  CHECK_THROWS_AS(serving.begin(0), ProtocolError);                        // in a slot
  CHECK_THROWS_AS(serving.begin(ServingRequests::kSlots + 1), ProtocolError);  // spilled
  CHECK(serving.end_unlocked(0));
  CHECK_FALSE(serving.end_unlocked(ServingRequests::kSlots + 1));  // not in a slot: the caller locks
  serving.end_locked(ServingRequests::kSlots + 1);
  CHECK(serving.size() == ServingRequests::kSlots + 1);
  serving.begin(ServingRequests::kSlots + 1);  // back, into the slot seq 0 left
  CHECK(serving.end_unlocked(ServingRequests::kSlots + 1));
  serving.begin(0);
  CHECK(serving.size() == ServingRequests::kSlots + 2);
}

TEST_CASE("serving requests: CANCEL reaches a request's context by seq while it is in service, and nothing after") {
  ServingRequests serving;
  netref::RequestContext five(5, std::chrono::steady_clock::time_point::max());
  serving.begin(5, &five);
  serving.begin(6);
  const auto context_of = [&](std::uint32_t seq) {
    netref::RequestContext* seen = nullptr;
    serving.with_context(seq, [&](netref::RequestContext& c) { seen = &c; });
    return seen;
  };
  CHECK(context_of(5) == &five);
  CHECK(context_of(6) == nullptr);  // in service without a context
  CHECK(context_of(7) == nullptr);  // unknown
  serving.end(5);
  CHECK(context_of(5) == nullptr);  // finished
  CHECK_FALSE(five.stop_requested());
  five.request_stop();
  CHECK(five.stop_requested());
  CHECK(five.stop_token().stop_requested());  // a cancel before the token is made is seen
  // Spilled past the slots, and detached (a reply that comes after the handler's frame).
  std::vector<std::unique_ptr<netref::RequestContext>> more;
  for (std::uint32_t seq = 10; seq < 10 + ServingRequests::kSlots + 2; ++seq) {
    more.push_back(std::make_unique<netref::RequestContext>(seq, std::chrono::steady_clock::time_point::max()));
    serving.begin(seq, more.back().get());
  }
  CHECK(context_of(10 + ServingRequests::kSlots + 1) == more.back().get());
  serving.detach(10 + ServingRequests::kSlots + 1);
  serving.detach(10);
  CHECK(context_of(10 + ServingRequests::kSlots + 1) == nullptr);
  CHECK(context_of(10) == nullptr);
  CHECK(context_of(11) == more[1].get());
  CHECK_THROWS_AS(serving.begin(10), ProtocolError);  // detached, still in service
}

TEST_CASE("serving requests: a lock-free end waits while CANCEL reads the request's context") {
  ServingRequests serving;
  netref::RequestContext three(3, std::chrono::steady_clock::time_point::max());
  serving.begin(3, &three);
  std::atomic<bool> ended{false};
  std::thread ender;
  const bool found = serving.with_context(3, [&](netref::RequestContext& c) {
    ender = std::thread([&] {
      CHECK(serving.end_unlocked(3));
      ended = true;
    });
    for (int i = 0; i < 1000; ++i) {
      std::this_thread::yield();
      CHECK_FALSE(ended.load());  // the context is still being read: its request cannot end
    }
    CHECK(&c == &three);
  });
  ender.join();
  CHECK(found);
  CHECK(ended);
  CHECK(serving.size() == 0);

}

TEST_CASE("connection state: Open, then Closing on one thread, then Closed, and the first close wins") {
  ConnectionState state;
  CHECK(state.open());
  CHECK_FALSE(state.reason());
  const auto error = std::make_exception_ptr(std::runtime_error("gone"));
  REQUIRE(state.begin_close(CloseReason::write_stall, error));
  CHECK_FALSE(state.open());
  CHECK(state.reason() == CloseReason::write_stall);
  CHECK(state.error() == error);
  CHECK(state.settled_for_this_thread());  // the closing thread must not wait for itself
  bool other_thread_settled = true;
  std::thread([&] { other_thread_settled = state.settled_for_this_thread(); }).join();
  CHECK_FALSE(other_thread_settled);       // others wait until the close finished
  CHECK_FALSE(state.begin_close(CloseReason::peer, nullptr));
  CHECK(state.reason() == CloseReason::write_stall);
  state.finish_close();
  std::thread([&] { other_thread_settled = state.settled_for_this_thread(); }).join();
  CHECK(other_thread_settled);
  CHECK(state.reason() == CloseReason::write_stall);
  CHECK(state.error() == error);
  CHECK(to_string(CloseReason::write_stall) == "write_stall");
}
