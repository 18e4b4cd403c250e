// A Service lent over a real Connection (in-memory stream pair, the server served by its own
// thread): calls, netrefs to exposed objects, callbacks, and containers copied from a peer's
// iterable with BUFFITER.
#include <doctest/doctest.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "netref/channel/channel.hpp"
#include "netref/protocol/connection.hpp"
#include "netref/service/service.hpp"
#include "netref/stream/memory_stream.hpp"
#include "service/link.hpp"

using namespace netref;
using netref::test::Link;

namespace {

struct Counter {
  std::int64_t value = 0;
  std::int64_t add(std::int64_t n) { return value += n; }
};

struct Sequence {
  std::vector<std::int64_t> items;
};
struct SequenceIterator {
  std::shared_ptr<const Sequence> seq;
  std::size_t next = 0;
};

Registry server_types() {
  Registry types;
  types.expose<Counter>("Counter")
      .def("add", &Counter::add)
      .def_readwrite("value", &Counter::value)
      .def_readonly("fixed", &Counter::value);
  return types;
}

Service make_calc(const Registry& types) {
  Service calc(types);
  calc.def("add", [](std::int64_t a, std::int64_t b) { return a + b; });
  calc.def("make_counter", [](std::int64_t start) { return std::make_shared<Counter>(Counter{start}); });
  calc.def("merge", [](Counter& into, const Counter& from) { into.value += from.value; });
  calc.def("apply", [](const std::function<std::int64_t(std::int64_t)>& fn, std::int64_t x) { return fn(x); });
  calc.def("sum", [](const std::vector<std::int64_t>& v) {
    std::int64_t s = 0;
    for (auto x : v) s += x;
    return s;
  });
  calc.def("keys", [](const std::map<std::string, std::int64_t>& m) {
    std::string s;
    for (const auto& [k, v] : m) s += k + "=" + std::to_string(v) + ";";
    return s;
  });
  return calc;
}

/// The client side lends these: an iterable the server copies with BUFFITER.
Registry client_types() {
  Registry types;
  types.expose<SequenceIterator>("SequenceIterator").def("__next__", [](SequenceIterator& it) {
    if (it.next >= it.seq->items.size()) throw StopIteration();
    return it.seq->items[it.next++];
  });
  types.expose<Sequence>("Sequence").def("__iter__", [](const std::shared_ptr<Sequence>& s) {
    return std::make_shared<SequenceIterator>(SequenceIterator{s});
  });
  return types;
}

}  // namespace

TEST_CASE("a client calls a service function over a connection") {
  Registry types = server_types();
  Service calc = make_calc(types);
  Link link(calc.root_object(), Service().root_object());
  RemoteRefPtr root = link.client->root();
  REQUIRE(root);
  CHECK(root->callattr("add", {Value(2), Value(3)}) == Value(5));
  CHECK(root->callattr("exposed_add", {Value(40), Value(2)}) == Value(42));
  Value add = root->getattr("add");
  REQUIRE(add.get_if<RemoteRefPtr>());
  CHECK((*add.get_if<RemoteRefPtr>())->call({Value(1), Value(1)}) == Value(2));
}

TEST_CASE("a counter made by the service is a netref whose methods and fields work remotely") {
  Registry types = server_types();
  Service calc = make_calc(types);
  Link link(calc.root_object(), Service().root_object());
  RemoteRefPtr root = link.client->root();
  Value made = root->callattr("make_counter", {Value(10)});
  auto* counter = made.get_if<RemoteRefPtr>();
  REQUIRE(counter);
  CHECK((*counter)->id_pack().type_name == "Counter");
  CHECK((*counter)->callattr("add", {Value(5)}) == Value(15));
  CHECK((*counter)->getattr("value") == Value(15));
  (*counter)->setattr("value", Value(1));
  CHECK((*counter)->getattr("value") == Value(1));
  CHECK_THROWS_AS((*counter)->setattr("fixed", Value(3)), AttributeError);
  CHECK_THROWS_AS((*counter)->getattr("secret"), AttributeError);
}

TEST_CASE("a netref passed back to its owner arrives as the same C++ object") {
  Registry types = server_types();
  Service calc = make_calc(types);
  Link link(calc.root_object(), Service().root_object());
  RemoteRefPtr root = link.client->root();
  Value a = root->callattr("make_counter", {Value(1)});
  Value b = root->callattr("make_counter", {Value(2)});
  CHECK(root->callattr("merge", {a, b}).is_none());
  CHECK((*a.get_if<RemoteRefPtr>())->getattr("value") == Value(3));
}

TEST_CASE("arguments that do not convert come back as a TypeError naming the signature") {
  Registry types = server_types();
  Service calc = make_calc(types);
  Link link(calc.root_object(), Service().root_object());
  RemoteRefPtr root = link.client->root();
  try {
    root->callattr("add", {Value("two"), Value(3)});
    FAIL("no error");
  } catch (const TypeError& e) {
    CHECK(e.message().find("add(int, int) -> int") != std::string::npos);
    CHECK(e.message().find("argument 1: expected int, got str") != std::string::npos);
  }
}

TEST_CASE("a std::function parameter calls back into the client during the sync call") {
  Registry types = server_types();
  Service calc = make_calc(types);
  Link link(calc.root_object(), Service().root_object());
  RemoteRefPtr root = link.client->root();
  const auto caller = std::this_thread::get_id();
  std::thread::id ran_on;
  ObjectPtr doubler = local([&](std::int64_t x) {
    ran_on = std::this_thread::get_id();
    return x * 2;
  });
  CHECK(root->callattr("apply", {Value(doubler), Value(21)}) == Value(42));
  CHECK(ran_on == caller);  // served by the thread waiting for the reply
}

TEST_CASE("a container parameter copies the peer's iterable with BUFFITER") {
  Registry types = server_types();
  Service calc = make_calc(types);
  Registry mine = client_types();
  Link link(calc.root_object(), Service(mine).root_object());
  RemoteRefPtr root = link.client->root();
  std::vector<std::int64_t> many(3000);
  for (std::size_t i = 0; i < many.size(); ++i) many[i] = static_cast<std::int64_t>(i);
  auto seq = std::make_shared<Sequence>(Sequence{many});
  const auto frames_before = link.client->stats().frames_out;
  CHECK(root->callattr("sum", {Value(mine.lend(seq))}) == Value(std::int64_t{3000 * 2999 / 2}));
  // __iter__, then 3000 items in chunks of 1024 plus the empty end: a handful of messages,
  // not one per item.
  CHECK(link.client->stats().frames_out - frames_before < 12);
  CHECK(root->callattr("sum", {tuple_of(1, 2, 3)}) == Value(6));
}

TEST_CASE("a map parameter accepts a tuple of pairs and a peer's iterable of pairs") {
  Registry types = server_types();
  Service calc = make_calc(types);
  Link link(calc.root_object(), Service().root_object());
  RemoteRefPtr root = link.client->root();
  CHECK(root->callattr("keys", {tuple_of(tuple_of("b", 2), tuple_of("a", 1))}) == Value("a=1;b=2;"));
  CHECK_THROWS_AS(root->callattr("keys", {tuple_of(tuple_of("a"))}), TypeError);
}
