// Copying a peer's iterable into a container argument stops at DrainLimits: a never-ending
// iterable served by the peer fails the call with an error naming the cap, instead of
// growing the server's memory without limit.
#include <doctest/doctest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "netref/service/service.hpp"
#include "service/error_of.hpp"
#include "service/link.hpp"

using namespace netref;
using netref::test::Link;

namespace {

/// Client side: an iterable whose iterator never ends (item, item, item...).
struct Endless {
  std::string item;
};
struct EndlessIterator {
  std::string item;
};

Registry client_types() {
  Registry types;
  types.expose<EndlessIterator>("EndlessIterator").def("__next__", [](EndlessIterator& it) { return it.item; });
  types.expose<Endless>("Endless").def("__iter__", [](const Endless& e) {
    return std::make_shared<EndlessIterator>(EndlessIterator{e.item});
  });
  return types;
}

Service counting(const Registry& types) {
  Service svc(types);
  svc.def("count", [](const std::vector<std::string>& v) { return v.size(); });
  return svc;
}

template <class F>
std::string value_error_of(F&& fn) {
  return netref::test::error_of<ValueError>(std::forward<F>(fn));
}

}  // namespace

TEST_CASE("the drain limits default to a million items and 64 MiB") {
  CHECK(DrainLimits{}.max_items == 1'000'000);
  CHECK(DrainLimits{}.max_bytes == 64u << 20);
  CHECK(Registry().drain_limits().max_items == 1'000'000);
}

TEST_CASE("a never-ending iterable from the peer fails the call at the item cap, naming it") {
  Registry types;
  types.set_drain_limits({.max_items = 5000, .max_bytes = DrainLimits{}.max_bytes});
  Service svc = counting(types);
  Registry mine = client_types();
  Link link(svc.root_object(), Service(mine).root_object());
  auto endless = std::make_shared<Endless>(Endless{"x"});
  const std::string message = value_error_of([&] { link.client->root()->callattr("count", {Value(mine.lend(endless))}); });
  CHECK(message.find("more than 5000 items") != std::string::npos);
  CHECK(message.find("DrainLimits::max_items") != std::string::npos);
  // The connection is kept: the next call works.
  CHECK(link.client->root()->callattr("count", {tuple_of("a", "b")}) == Value(2));
}

TEST_CASE("a never-ending iterable of large items fails the call at the byte cap, naming it") {
  Registry types;
  types.set_drain_limits({.max_items = DrainLimits{}.max_items, .max_bytes = 1 << 20});
  Service svc = counting(types);
  Registry mine = client_types();
  Link link(svc.root_object(), Service(mine).root_object());
  auto endless = std::make_shared<Endless>(Endless{std::string(1000, 'y')});
  const std::string message = value_error_of([&] { link.client->root()->callattr("count", {Value(mine.lend(endless))}); });
  CHECK(message.find("more than 1048576 bytes") != std::string::npos);
  CHECK(message.find("DrainLimits::max_bytes") != std::string::npos);
}

TEST_CASE("an iterable within the caps converts whole") {
  Registry types;
  types.set_drain_limits({.max_items = 3, .max_bytes = DrainLimits{}.max_bytes});
  Service svc = counting(types);
  Link link(svc.root_object(), Service().root_object());
  // A local object (netref::local) is drained by the same code as a peer's netref.
  CHECK(svc.root_object()->callattr("count", {tuple_of("a", "b", "c")}, {}) == Value(3));
}
