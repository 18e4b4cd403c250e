// Python's operators on a Proxy against a C++ peer: items (read, write, delete), len, in,
// str, bool, comparisons, hash, printing and range-for in batches. The same against Python
// peers is in tests/interop/proxy_operators_interop_test.cpp.
#include <doctest/doctest.h>

#include <netref/netref.hpp>

#include <map>
#include <sstream>
#include <unordered_set>

using namespace netref;

namespace {

struct Scores {
  std::map<std::string, std::int64_t> by_name;
};

// Walks a Scores' names; StopIteration at the end, as Python's protocol has it.
struct NameIterator {
  std::vector<std::string> names;
  std::size_t next = 0;
};

struct Version {
  std::int64_t number = 0;
};

// A container whose __len__ answers something that is not a count.
struct Liar {};

struct Fixture {
  Registry types;
  Service svc{types};
  std::unique_ptr<ThreadedServer> server;
  std::shared_ptr<Scores> scores = std::make_shared<Scores>();

  Fixture() {
    types.expose<NameIterator>("NameIterator").def("__next__", [](NameIterator& it) {
      if (it.next == it.names.size()) throw StopIteration();
      return it.names[it.next++];
    });
    types.expose<Scores>("Scores")
        .def("__getitem__", [](const Scores& s, const std::string& name) {
          auto it = s.by_name.find(name);
          if (it == s.by_name.end()) throw KeyError(name);
          return it->second;
        })
        .def("__setitem__", [](Scores& s, const std::string& name, std::int64_t v) { s.by_name[name] = v; })
        .def("__delitem__", [](Scores& s, const std::string& name) { s.by_name.erase(name); })
        .def("__len__", [](const Scores& s) { return static_cast<std::int64_t>(s.by_name.size()); })
        .def("__contains__", [](const Scores& s, const std::string& name) { return s.by_name.count(name) == 1; })
        .def("__iter__", [](const Scores& s) {
          auto it = std::make_shared<NameIterator>();
          for (const auto& [name, score] : s.by_name) it->names.push_back(name);
          return it;
        })
        .def("__str__", [](const Scores& s) { return "Scores(" + std::to_string(s.by_name.size()) + ")"; });
    types.expose<Version>("Version")
        .def("__eq__", [](const Version& a, const Version& b) { return a.number == b.number; })
        .def("__lt__", [](const Version& a, const Version& b) { return a.number < b.number; })
        .def("__hash__", [](const Version& v) { return v.number * 7; });
    types.expose<Liar>("Liar").def("__len__", [](const Liar&) { return std::string("many"); });
    svc.attr("liar", std::make_shared<Liar>());
    svc.attr("scores", scores);
    svc.def("version", [](std::int64_t n) { return std::make_shared<Version>(Version{n}); });
    svc.def("pair", [] { return std::make_tuple(std::int64_t{1}, std::string("two")); });
    svc.def("text", [] { return std::string("héllo"); });
    ServerConfig cfg;
    cfg.port = 0;
    server = std::make_unique<ThreadedServer>(svc, cfg);
    server->start();
  }
};

}  // namespace

TEST_CASE("p[key] reads, writes and deletes items through the peer's __getitem__, __setitem__, __delitem__") {
  Fixture f;
  auto conn = connect("127.0.0.1", f.server->port());
  auto scores = conn->root()->attr("scores");
  scores["alice"] = 3;
  scores["bob"] = std::int64_t{5};
  CHECK(f.scores->by_name.at("alice") == 3);
  CHECK(scores["alice"].as<std::int64_t>() == 3);
  CHECK(scores["bob"]->as<std::int64_t>() == 5);
  scores["carol"] = scores["bob"];  // the item's value, not the accessor
  CHECK(f.scores->by_name.at("carol") == 5);
  scores["alice"].del();
  CHECK(f.scores->by_name.count("alice") == 0);
  CHECK_THROWS_AS(scores["alice"].as<std::int64_t>(), KeyError);
  CHECK(scores["carol"].as<std::int64_t>() == 5);  // the connection carries on
}

TEST_CASE("size, contains, str, bool and operator<< ask the peer") {
  Fixture f;
  f.scores->by_name = {{"a", 1}, {"b", 2}};
  auto conn = connect("127.0.0.1", f.server->port());
  auto scores = conn->root()->attr("scores")->get();
  CHECK(scores.size() == 2);
  CHECK(scores.contains("a"));
  CHECK_FALSE(scores.contains("z"));
  CHECK(scores.str() == "Scores(2)");
  std::ostringstream out;
  out << scores;
  CHECK(out.str() == "Scores(2)");
  CHECK(static_cast<bool>(scores));  // no __bool__: __len__ decides
  auto liar = conn->root()->attr("liar");
  CHECK_THROWS_WITH_AS(liar.size(), "TypeError: __len__ returned str, not a count", TypeError);
  CHECK(scores.size() == 2);  // the connection carries on
  f.scores->by_name.clear();
  CHECK_FALSE(static_cast<bool>(scores));
}

TEST_CASE("range-for fetches a remote iterable in batches, not one round trip per item") {
  Fixture f;
  const std::size_t n = 3 * ProxyIterator::batch + 5;
  for (std::size_t i = 0; i < n; ++i) f.scores->by_name["k" + std::to_string(100000 + i)] = 1;
  auto conn = connect("127.0.0.1", f.server->port());
  auto scores = conn->root()->attr("scores")->get();
  // __iter__, then ceil(n / batch) batches (the short last one ends it: no empty batch is
  // asked for), then the DEL that releases the peer's iterator when the walk ends.
  const auto before = conn->connection().stats().frames_out;
  std::size_t walked = 0;
  for (auto it = scores.begin(); it != scores.end(); ++it) ++walked;
  CHECK(walked == n);
  CHECK(conn->connection().stats().frames_out - before == 1 + (n + ProxyIterator::batch - 1) / ProxyIterator::batch + 1);

  std::vector<std::string> seen;
  for (const Proxy& name : scores) seen.push_back(name.as<std::string>());
  REQUIRE(seen.size() == n);
  CHECK(seen.front() == "k100000");
  CHECK(seen.back() == "k" + std::to_string(100000 + n - 1));

  f.scores->by_name.clear();
  int items = 0;
  for (const Proxy& name : scores) items += name.as<std::string>().empty() ? 0 : 1;
  CHECK(items == 0);
}

TEST_CASE("comparisons and hash are the peer's, and plain values compare locally") {
  Fixture f;
  auto conn = connect("127.0.0.1", f.server->port());
  auto root = conn->root();
  auto v1 = root->attr("version")->call(1);
  auto v1b = root->attr("version")->call(1);
  auto v2 = root->attr("version")->call(2);
  CHECK(v1 == v1b);
  CHECK_FALSE(v1 == v2);
  CHECK(v1 != v2);
  CHECK(v1 < v2);
  CHECK_FALSE(v2 < v1);
  CHECK(v1.hash() == 7);
  CHECK(std::hash<Proxy>()(v1) == std::hash<Proxy>()(v1b));
  std::unordered_set<Proxy> distinct{v1, v1b, v2};
  CHECK(distinct.size() == 2);
  // No __gt__ on Version: as in Python, the reflected v1 < v2 answers. Neither __le__ nor
  // __ge__: both owners answer NotImplemented and the ordering is refused.
  CHECK(v2 > v1);
  CHECK_THROWS_AS((void)(v1 <= v2), TypeError);

  CHECK(Proxy(Value(1)) < Proxy(Value(2.5)));
  CHECK(Proxy(Value("a")) == Proxy(Value("a")));
  CHECK_THROWS_AS((void)(Proxy(Value("a")) < Proxy(Value(1))), TypeError);
}

TEST_CASE("plain values a call returns index, measure and iterate locally") {
  Fixture f;
  auto conn = connect("127.0.0.1", f.server->port());
  auto root = conn->root();
  auto pair = root->attr("pair")->call();
  const auto before = conn->connection().stats().frames_out;
  CHECK(pair.size() == 2);
  CHECK(pair[0].as<std::int64_t>() == 1);
  CHECK(pair[-1].as<std::string>() == "two");
  CHECK_THROWS_AS(pair[2].get(), IndexError);
  CHECK_THROWS_AS(pair["first"].get(), TypeError);  // tuple indices are ints
  CHECK(pair.contains("two"));
  std::vector<std::string> rendered;
  for (const Proxy& item : pair) rendered.push_back(item.str());
  CHECK(rendered == std::vector<std::string>{"1", "two"});
  CHECK(conn->connection().stats().frames_out == before);  // no round trip for any of it
  auto text = root->attr("text")->call();
  CHECK(text.size() == 5);  // code points, as Python's len(str)
  CHECK_FALSE(static_cast<bool>(Proxy(Value(""))));
  CHECK_THROWS_AS(Proxy(Value(3)).size(), TypeError);
  CHECK_THROWS_AS(pair["x"] = 1, TypeError);
}
