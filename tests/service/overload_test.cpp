// Choosing among overloads: kind checks first, with no round trip; a netref argument's items
// fetched at most once per call, however many overloads and variant alternatives look at
// them; and the error listing every signature tried stays small however large the
// arguments.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "netref/service/service.hpp"
#include "service/error_of.hpp"
#include "service/link.hpp"

using namespace netref;
using netref::test::Link;
using netref::test::type_error_of;

namespace {

/// A client-side list of strings that counts how often the server starts iterating it.
struct Words {
  std::vector<std::string> items;
  std::shared_ptr<std::atomic<int>> iterations = std::make_shared<std::atomic<int>>(0);
};
struct WordsIterator {
  std::shared_ptr<const Words> words;
  std::size_t next = 0;
};

Registry client_types() {
  Registry types;
  types.expose<WordsIterator>("WordsIterator").def("__next__", [](WordsIterator& it) {
    if (it.next >= it.words->items.size()) throw StopIteration();
    return it.words->items[it.next++];
  });
  types.expose<Words>("Words").def("__iter__", [](const std::shared_ptr<Words>& w) {
    ++*w->iterations;
    return std::make_shared<WordsIterator>(WordsIterator{w});
  });
  return types;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x;
  return s;
}

Service overloaded() {
  Service svc;
  svc.def("kind", [](const std::vector<std::int64_t>& v) { return "ints " + std::to_string(v.size()); });
  svc.def("kind", [](const std::vector<std::string>& v) { return "strs " + joined(v); });
  using Either = std::variant<std::vector<std::int64_t>, std::vector<std::string>>;
  svc.def("either", [](const Either& v) {
    if (const auto* s = std::get_if<std::vector<std::string>>(&v)) return "strs " + joined(*s);
    return std::string("ints");
  });
  // The first overload's list parameter would need the netref's items, but its second
  // argument already rules it out.
  svc.def("tagged", [](const std::vector<std::int64_t>&, std::int64_t) { return std::string("ints"); });
  svc.def("tagged", [](const Value&, const std::string& tag) { return "any " + tag; });
  return svc;
}

/// True when text is well-formed UTF-8 (what Python will decode the message as).
bool valid_utf8(const std::string& text) {
  for (std::size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const std::size_t n = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xE ? 3 : (lead >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > text.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

/// Requests the client served for the server (its __iter__ and BUFFITER calls) during fn.
template <class F>
std::uint64_t requests_served_during(const Link& link, F&& fn) {
  const auto before = link.client->stats().requests_served;
  fn();
  return link.client->stats().requests_served - before;
}

}  // namespace

TEST_CASE("overloads taking list[int] and list[str] fetch a peer's list of strings once and take list[str]") {
  Service svc = overloaded();
  Registry mine = client_types();
  Link link(svc.root_object(), Service(mine).root_object());
  auto words = std::make_shared<Words>(Words{{"a", "b", "c"}});
  Value result;
  const auto served = requests_served_during(link, [&] {
    result = link.client->root()->callattr("kind", {Value(mine.lend(words))});
  });
  CHECK(result == Value("strs abc"));
  CHECK(*words->iterations == 1);
  CHECK(served == 3);  // __iter__, one BUFFITER with the items, one that finds the end
}

TEST_CASE("a variant of list[int] and list[str] fetches a peer's list of strings once and holds list[str]") {
  Service svc = overloaded();
  Registry mine = client_types();
  Link link(svc.root_object(), Service(mine).root_object());
  auto words = std::make_shared<Words>(Words{{"x", "y"}});
  Value result;
  const auto served = requests_served_during(link, [&] {
    result = link.client->root()->callattr("either", {Value(mine.lend(words))});
  });
  CHECK(result == Value("strs xy"));
  CHECK(*words->iterations == 1);
  CHECK(served == 3);
}

TEST_CASE("arguments that are not netrefs choose an overload without a single round trip") {
  Service svc = overloaded();
  Registry mine = client_types();
  Link link(svc.root_object(), Service(mine).root_object());
  RemoteRefPtr root = link.client->root();
  const auto served = requests_served_during(link, [&] {
    CHECK(root->callattr("kind", {tuple_of("p", "q")}) == Value("strs pq"));
    CHECK(root->callattr("kind", {tuple_of(1, 2)}) == Value("ints 2"));
    CHECK(root->callattr("either", {tuple_of("p")}) == Value("strs p"));
    CHECK_THROWS_AS(root->callattr("kind", {Value(1.5)}), TypeError);
  });
  CHECK(served == 0);  // the server asked the client for nothing (no __iter__, no BUFFITER)
}

TEST_CASE("an overload that another argument rules out never fetches the netref's items") {
  Service svc = overloaded();
  Registry mine = client_types();
  Link link(svc.root_object(), Service(mine).root_object());
  auto words = std::make_shared<Words>(Words{{"a"}});
  Value result;
  const auto served = requests_served_during(link, [&] {
    result = link.client->root()->callattr("tagged", {Value(mine.lend(words)), Value("t")});
  });
  CHECK(result == Value("any t"));
  CHECK(*words->iterations == 0);
  CHECK(served == 0);
}

TEST_CASE("a peer's list that fits no overload is fetched once and every signature is named") {
  Service svc = overloaded();
  Registry mine = client_types();
  Link link(svc.root_object(), Service(mine).root_object());
  Service strict;
  strict.def("f", [](const std::vector<std::int64_t>& v) { return v.size(); });
  strict.def("f", [](const std::vector<double>& v) { return v.size(); });
  Link strict_link(strict.root_object(), Service(mine).root_object());
  auto words = std::make_shared<Words>(Words{{"a", "b"}});
  const std::string message =
      type_error_of([&] { strict_link.client->root()->callattr("f", {Value(mine.lend(words))}); });
  CHECK(*words->iterations == 1);
  CHECK(message.find("f(list[int]) -> int [argument 1: item 0: expected int, got str]") != std::string::npos);
  CHECK(message.find("f(list[float]) -> int [argument 1: item 0: expected float, got str]") != std::string::npos);
}

TEST_CASE("a 10 MB string argument that fits no overload gets a short TypeError naming the signatures") {
  Service svc = overloaded();
  ObjectPtr root = svc.root_object();
  const std::string huge(10 << 20, 'x');
  const std::string message = type_error_of([&] { root->callattr("kind", {Value(huge)}, {}); });
  CHECK(message.size() <= 4096);
  CHECK(message.find("kind(list[int]) -> str") != std::string::npos);
  CHECK(message.find("kind(list[str]) -> str") != std::string::npos);
}

TEST_CASE("a keyword argument with a 10 MB name gets a TypeError capped at 4 KiB") {
  Service svc = overloaded();
  ObjectPtr root = svc.root_object();
  Kwargs kwargs;
  kwargs.emplace_back(std::string(10 << 20, 'k'), Value(1));
  const std::string message = type_error_of([&] { root->callattr("kind", {}, kwargs); });
  CHECK(message.size() <= 4096);
  CHECK(message.find("kind(): incompatible arguments (kkkk") == 0);
}

TEST_CASE("the error of a function with many overloads stops at 4 KiB and stays valid UTF-8") {
  Service svc;
  for (int i = 0; i < 200; ++i) {
    // Two-byte characters throughout, so the cut lands inside one half the time.
    svc.def("many", [](const std::vector<std::string>& v) { return v.size(); },
            arg(i % 2 ? "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9" : "a\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"));
  }
  const std::string message = type_error_of([&] { svc.root_object()->callattr("many", {Value(1)}, {}); });
  CHECK(message.size() <= 4096);
  CHECK(message.size() > 4000);
  CHECK(message.ends_with("..."));
  CHECK(valid_utf8(message));
}

TEST_CASE("a keyword name cut in the error never splits a character") {
  Service svc = overloaded();
  Kwargs kwargs;
  std::string name = "a";
  for (int i = 0; i < 1000; ++i) name += "\xC3\xA9";  // the cut at 64 bytes falls inside one
  kwargs.emplace_back(name, Value(1));
  const std::string message = type_error_of([&] { svc.root_object()->callattr("kind", {}, kwargs); });
  CHECK(message.find("unexpected keyword argument 'a\xC3\xA9") != std::string::npos);
  CHECK(valid_utf8(message));
}
