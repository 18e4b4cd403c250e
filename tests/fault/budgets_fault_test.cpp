// Bounds that hold over the whole process, not one connection: the lent-object cap, and the
// hash a peer sees for an object (never its address).
#include <doctest/doctest.h>

#include "fault/fault.hpp"
#include "netref/protocol/detail/identity_hash.hpp"

using namespace netref;
using namespace netref::test;

TEST_CASE("the process-wide lent cap refuses the object past it, on any connection, and frees up as objects return") {
  const std::size_t base = Connection::lent_objects_in_process();  // other cases of this program
  Served<> s([&](ServerConfig& c) { c.connection.max_lent_objects_in_process = base + 5; }, /*with_canary=*/false);
  Client a = connect("127.0.0.1", s.port());
  Client b = connect("127.0.0.1", s.port());
  const Proxy make_a = a->root()->attr("make_counter");  // two roots lent
  const Proxy make_b = b->root()->attr("make_counter");
  std::optional<Proxy> a1 = make_a->call(1);
  const Proxy b1 = make_b->call(2);
  const Proxy a2 = make_a->call(3);  // five in the process: the cap
  CHECK(Connection::lent_objects_in_process() == base + 5);
  try {
    make_b->call(4);
    FAIL("a sixth lent object was allowed");
  } catch (const RemoteError& e) {
    CHECK(std::string(e.what()).find("max_lent_objects_in_process") != std::string::npos);
  }
  CHECK(b1->attr("add")->call(1).as<std::int64_t>() == 3);  // the connection stays
  a1.reset();  // its DEL gives one back
  CHECK(eventually([&] {
    a->connection().poll();
    return Connection::lent_objects_in_process() == base + 4;
  }));
  CHECK(make_b->call(5)->attr("add")->call(1).as<std::int64_t>() == 6);
}

TEST_CASE("an object's HASH is stable and distinct, and is not its address") {
  const ObjectPtr one = local(std::function<std::int64_t()>([] { return std::int64_t{1}; }));
  const ObjectPtr two = local(std::function<std::int64_t()>([] { return std::int64_t{2}; }));
  const auto address = static_cast<std::int64_t>(reinterpret_cast<std::uintptr_t>(one.get()));
  CHECK(one->hash() == one->hash());
  CHECK(one->hash() != two->hash());
  CHECK(one->hash() >= 0);
  CHECK(one->hash() != address);
  CHECK(one->hash() != (address >> 4));
  CHECK(one->hash() != static_cast<std::int64_t>(std::hash<const void*>{}(one.get())));
  // Neighbouring addresses give unrelated hashes (no order or difference leaks through).
  const auto h1 = detail::identity_hash(reinterpret_cast<const void*>(0x1000));
  const auto h2 = detail::identity_hash(reinterpret_cast<const void*>(0x1010));
  CHECK(h1 != h2);
  CHECK(std::abs(h1 - h2) > 0x10000);
}
