// Identity: an object that comes home arrives as itself, also when it travelled on through a
// second connection (RPyC over RPyC), and a netref sent on twice keeps one id.
#include <doctest/doctest.h>

#include <mutex>
#include <vector>

#include "harness.hpp"

using namespace netref;
using netref::test::Pair;
using netref::test::Thing;

namespace {

/// The far service: keeps what it is given, and bumps a netref's value through it.
class Keeper : public Object {
 public:
  std::string_view type_name() const noexcept override { return "tests.Keeper"; }
  Value callattr(std::string_view name, Args args, Kwargs kwargs) override {
    if (name == "fee") return std::move(args.at(0));
    if (name == "keep") {
      std::lock_guard lk(mutex);
      kept.push_back(*args.at(0).get_if<RemoteRefPtr>());
      return Value();
    }
    if (name == "drop") {
      std::lock_guard lk(mutex);
      kept.clear();
      return Value();
    }
    if (name == "bump") {  // bump(x): x.value += 1, then x back
      const auto& x = *args.at(0).get_if<RemoteRefPtr>();
      const Value value = x->getattr("value");
      x->setattr("value", Value(*value.get_if<std::int64_t>() + 1));
      return std::move(args.at(0));
    }
    return Object::callattr(name, std::move(args), std::move(kwargs));
  }
  std::mutex mutex;
  std::vector<RemoteRefPtr> kept;
};

/// The middle service: passes its argument on to the far one through a connection of its own
/// and returns what comes back; records whether that was the very netref it passed on.
class Middle : public Object {
 public:
  explicit Middle(std::shared_ptr<Connection> far) : far_(std::move(far)) {}
  std::string_view type_name() const noexcept override { return "tests.Middle"; }
  Value callattr(std::string_view name, Args args, Kwargs kwargs) override {
    if (name == "fee" || name == "bump" || name == "keep" || name == "drop") {
      const Value sent = args.empty() ? Value() : args[0];
      Value back = far_->root()->callattr(name, std::move(args));
      if (auto* ref = back.get_if<RemoteRefPtr>()) came_back_as_sent = *ref == *sent.get_if<RemoteRefPtr>();
      return back;
    }
    return Object::callattr(name, std::move(args), std::move(kwargs));
  }
  bool came_back_as_sent = false;

 private:
  std::shared_ptr<Connection> far_;
};

/// A client, the middle server, and the far server, over two connections.
struct Chain {
  std::shared_ptr<Keeper> keeper = std::make_shared<Keeper>();
  Pair far{keeper};
  std::shared_ptr<Middle> middle = std::make_shared<Middle>(far.client);
  Pair near{middle};
};

}  // namespace

TEST_CASE("an object that comes home through a second connection arrives as itself") {
  Chain chain;
  auto mine = std::make_shared<Thing>(7);
  Value back = chain.near.client->root()->callattr("fee", {Value(ObjectPtr(mine))});
  auto* object = back.get_if<ObjectPtr>();
  REQUIRE(object != nullptr);
  CHECK(object->get() == mine.get());    // the client's own object, not a netref to it
  CHECK(chain.middle->came_back_as_sent);  // the middle got back the netref it sent
}

TEST_CASE("a netref modified on the far side is the caller's own object, changed") {
  Chain chain;
  auto mine = std::make_shared<Thing>(41);
  Value back = chain.near.client->root()->callattr("bump", {Value(ObjectPtr(mine))});
  REQUIRE(back.get_if<ObjectPtr>() != nullptr);
  CHECK(back.get_if<ObjectPtr>()->get() == mine.get());
  CHECK(mine->value == 42);
}

TEST_CASE("a netref of another connection sent twice keeps one id, and is released once unused") {
  Chain chain;
  auto mine = std::make_shared<Thing>();
  auto root = chain.near.client->root();
  root->callattr("keep", {Value(ObjectPtr(mine))});
  root->callattr("keep", {Value(ObjectPtr(mine))});
  {
    std::lock_guard lk(chain.keeper->mutex);
    REQUIRE(chain.keeper->kept.size() == 2);
    CHECK(chain.keeper->kept[0] == chain.keeper->kept[1]);  // one netref on the far side
    CHECK(chain.keeper->kept[0]->received() == 2);
  }
  chain.far.sync();
  CHECK(chain.far.client->stats().lent_objects == 1);  // one forwarder, lent twice

  root->callattr("drop", {});  // the far side lets go: its DEL releases the forwarder
  chain.far.sync();
  CHECK(chain.far.client->stats().lent_objects == 0);
  chain.near.sync();
  CHECK(chain.near.client->lent_count(*mine) == 0);  // nothing holds the client's object
}
