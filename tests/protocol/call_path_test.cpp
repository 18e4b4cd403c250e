// RemoteRef::call_path encodes CALL, CALLATTR and CALLCHAIN straight from the caller's
// arguments: the peer must receive exactly what the general path (a boxed Args tuple) sends,
// references in positional and keyword arguments included.
#include <doctest/doctest.h>

#include <chrono>
#include <future>
#include <mutex>

#include "harness.hpp"
#include "netref/protocol/remote_ref.hpp"

using namespace netref;
using netref::test::Pair;
using netref::test::Thing;

namespace {

/// Records what each call received; "child" leads to another Recorder (for chains).
class Recorder : public Object {
 public:
  std::string_view type_name() const noexcept override { return "tests.Recorder"; }

  Value getattr(std::string_view name) override {
    if (name == "child") return Value(ObjectPtr(child));
    return Object::getattr(name);
  }
  Value call(Args args, Kwargs kwargs) override { return record("()", std::move(args), std::move(kwargs)); }
  Value callattr(std::string_view name, Args args, Kwargs kwargs) override {
    return record(std::string(name), std::move(args), std::move(kwargs));
  }

  struct Received {
    std::string name;
    Args args;
    Kwargs kwargs;
  };
  Received last() {
    std::lock_guard lk(mutex_);
    return received_;
  }
  /// Lets go of what the last call brought (it may hold this very object: a cycle).
  void forget() {
    std::lock_guard lk(mutex_);
    received_ = Received{};
  }

  std::shared_ptr<Recorder> child;

 private:
  Value record(std::string name, Args args, Kwargs kwargs) {
    std::lock_guard lk(mutex_);
    received_ = Received{std::move(name), std::move(args), std::move(kwargs)};
    return Value(static_cast<std::int64_t>(received_.args.size() + received_.kwargs.size()));
  }
  std::mutex mutex_;
  Received received_;
};

struct RecorderPair {
  std::shared_ptr<Recorder> root = std::make_shared<Recorder>();
  Pair pair;
  RemoteRefPtr remote;
  RecorderPair() : pair(make_root()) { remote = pair.client->root(); }
  ~RecorderPair() {
    root->forget();
    root->child->forget();
  }
  ObjectPtr make_root() {
    root->child = std::make_shared<Recorder>();
    return root;
  }
};

}  // namespace

TEST_CASE("call_path: plain positional and keyword arguments arrive as sent, for CALL and CALLATTR") {
  RecorderPair p;
  const Value args[] = {Value(1), Value("two"), Value(3.5), tuple_of(4, "five")};
  const Kwargs kwargs = {{"a", Value(7)}, {"b", Value(Bytes{"raw"})}, {"c", tuple_of(1, tuple_of(2))}};
  const std::string name[] = {"method"};

  CHECK(p.remote->call_path(name, args, kwargs) == Value(7));
  auto got = p.root->last();
  CHECK(got.name == "method");
  REQUIRE(got.args.size() == 4);
  for (std::size_t i = 0; i < 4; ++i) CHECK(got.args[i] == args[i]);
  REQUIRE(got.kwargs.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(got.kwargs[i].first == kwargs[i].first);
    CHECK(got.kwargs[i].second == kwargs[i].second);
  }

  CHECK(p.remote->call_path({}, args, {}) == Value(4));
  got = p.root->last();
  CHECK(got.name == "()");
  CHECK(got.kwargs.empty());

  // No arguments at all.
  CHECK(p.remote->call_path(name, {}, {}) == Value(0));
  CHECK(p.root->last().args.empty());
}

TEST_CASE("call_path: references in keyword arguments, alone, inside tuples and next to plain values") {
  RecorderPair p;
  auto mine = std::make_shared<Thing>(40);  // lent to the server by this call
  Value theirs(p.remote);                    // the server's own object, going home
  const Kwargs kwargs = {{"plain", Value(1)},
                         {"lent", Value(ObjectPtr(mine))},
                         {"nested", tuple_of(2, tuple_of(Value(ObjectPtr(mine))))},
                         {"home", theirs}};
  const std::string name[] = {"method"};
  CHECK(p.remote->call_path(name, {}, kwargs) == Value(4));

  auto got = p.root->last();
  REQUIRE(got.kwargs.size() == 4);
  CHECK(got.kwargs[0].first == "plain");
  CHECK(got.kwargs[0].second == Value(1));
  CHECK(got.kwargs[1].first == "lent");
  CHECK(got.kwargs[1].second.kind() == Value::Kind::remote_ref);
  CHECK(got.kwargs[2].first == "nested");
  auto* nested = got.kwargs[2].second.get_if<Tuple>();
  REQUIRE(nested != nullptr);
  REQUIRE(nested->items.size() == 2);
  CHECK(nested->items[0] == Value(2));
  auto* inner = nested->items[1].get_if<Tuple>();
  REQUIRE(inner != nullptr);
  REQUIRE(inner->items.size() == 1);
  // One object lent twice in one message is one netref on the other side.
  CHECK(inner->items[0] == got.kwargs[1].second);
  CHECK(got.kwargs[3].first == "home");
  auto* home = got.kwargs[3].second.get_if<ObjectPtr>();
  REQUIRE(home != nullptr);
  CHECK(home->get() == p.root.get());

  // The server's netref really reaches our object: calling it adds to it. (The client has no
  // serving thread: this one serves it until the server's call returns.)
  auto lent = *got.kwargs[1].second.get_if<RemoteRefPtr>();
  auto call_back = std::async(std::launch::async, [lent] { return lent->call(values_of(Value(2))); });
  while (call_back.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    p.pair.client->serve(std::chrono::milliseconds(50));
  }
  CHECK(call_back.get() == Value(42));
  CHECK(mine->value == 42);
  CHECK(p.pair.client->lent_count(*mine) == 2);
}

TEST_CASE("call_path: references among positional arguments box the same way") {
  RecorderPair p;
  auto mine = std::make_shared<Thing>(1);
  const Value args[] = {Value(ObjectPtr(mine)), tuple_of(Value(p.remote), 3)};
  const std::string name[] = {"method"};
  CHECK(p.remote->call_path(name, args, {}) == Value(2));
  auto got = p.root->last();
  REQUIRE(got.args.size() == 2);
  CHECK(got.args[0].kind() == Value::Kind::remote_ref);
  auto* t = got.args[1].get_if<Tuple>();
  REQUIRE(t != nullptr);
  REQUIRE(t->items.size() == 2);
  auto* home = t->items[0].get_if<ObjectPtr>();
  REQUIRE(home != nullptr);
  CHECK(home->get() == p.root.get());
  CHECK(t->items[1] == Value(3));
}

TEST_CASE("call_path: two names or more are one CALLCHAIN round trip to a netref peer, async too") {
  RecorderPair p;
  REQUIRE(p.pair.client->negotiate_extensions());
  const std::string names[] = {"child", "method"};
  const Value args[] = {Value(5)};
  const Kwargs kwargs = {{"k", Value("v")}};

  const auto before = p.pair.client->stats().frames_out;
  CHECK(p.remote->call_path(names, args, kwargs) == Value(2));
  CHECK(p.pair.client->stats().frames_out - before == 1);
  auto got = p.root->child->last();
  CHECK(got.name == "method");
  REQUIRE(got.args.size() == 1);
  CHECK(got.args[0] == Value(5));
  REQUIRE(got.kwargs.size() == 1);
  CHECK(got.kwargs[0].second == Value("v"));

  auto pending = p.remote->async_call_path(names, args, {});
  CHECK(pending.value() == Value(1));
}

TEST_CASE("call_path: an argument that cannot be encoded fails the call alone and lends nothing") {
  RecorderPair p;
  auto mine = std::make_shared<Thing>(1);
  const Value args[] = {Value(ObjectPtr(mine)), Value(std::string("\xff\xfe"))};  // not UTF-8
  const std::string name[] = {"method"};
  CHECK_THROWS(p.remote->call_path(name, args, {}));
  CHECK(p.pair.client->lent_count(*mine) == 0);
  const Kwargs bad_name = {{std::string("\xff"), Value(1)}};
  CHECK_THROWS(p.remote->call_path(name, {}, bad_name));
  // The connection carries on.
  CHECK(p.remote->call_path(name, {}, {}) == Value(0));
}

TEST_CASE("call_path_releasing: the arguments arrive whole and are released once sent, and call_path keeps them") {
  RecorderPair p;
  const std::string name[] = {"method"};
  const Bytes big{std::string(3u << 20, 'x')};  // sent gathered, straight from the argument
  Value args[] = {Value(big), Value("small")};
  CHECK(p.remote->call_path_releasing(name, args, {}) == Value(2));
  auto got = p.root->last();
  REQUIRE(got.args.size() == 2);
  CHECK(got.args[0] == Value(big));
  CHECK(got.args[1] == Value("small"));
  CHECK(args[0].is_none());
  CHECK(args[1].is_none());
  p.root->forget();

  Value kept[] = {Value(big)};
  CHECK(p.remote->call_path(name, kept, {}) == Value(1));
  CHECK(kept[0] == Value(big));
}
