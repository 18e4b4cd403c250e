// Python's operators on a Proxy against stock Python rpyc servers, 5.3 (Debian's) and 6.0.1:
// a dict's items, len, in, str, bool, the peer's ==, < and hash, range-for over a list in
// batches. (Against a C++ peer: tests/proxy/operators_test.cpp.)
#include <doctest/doctest.h>

#include <netref/netref.hpp>

#include <sstream>

#include "python_server.hpp"

using namespace netref;
using netref::test::PythonServer;
using netref::test::rpyc6_or_skip;

namespace {

void check_operators(const PythonServer& py) {
  auto conn = py.connect();
  auto root = conn->root();

  auto scores = root->attr("scores")->get();  // a dict, by reference
  CHECK(scores["alice"].as<std::int64_t>() == 3);
  scores["bob"] = 5;
  CHECK(scores["bob"].as<std::int64_t>() == 5);
  CHECK(scores.size() == 2);
  CHECK(scores.contains("bob"));
  scores["bob"].del();
  CHECK_FALSE(scores.contains("bob"));
  CHECK_THROWS_AS(scores["bob"].get(), KeyError);
  CHECK(static_cast<bool>(scores));
  CHECK(scores.str() == "{'alice': 3}");

  auto numbers = root->attr("numbers")->call(300);  // a list, by reference
  CHECK(numbers.size() == 300);
  const auto before = conn->connection().stats().frames_out;
  std::int64_t total = 0, count = 0;
  for (auto it = numbers.begin(); it != numbers.end(); ++it, ++count) total += it->as<std::int64_t>();
  CHECK(count == 300);
  CHECK(total == 299 * 300 / 2);
  // __iter__, three batches (the third short), the iterator's DEL: never a round trip per item.
  CHECK(conn->connection().stats().frames_out - before == 1 + 3 + 1);
  CHECK_FALSE(static_cast<bool>(root->attr("numbers")->call(0)));

  auto v1 = root->attr("version")->call(1);
  auto v1b = root->attr("version")->call(1);
  auto v2 = root->attr("version")->call(2);
  CHECK(v1 == v1b);
  CHECK(v1 != v2);
  CHECK(v1 < v2);
  CHECK(v2 > v1);  // Python's own reflection: Version has __lt__ only
  CHECK(v1.hash() == 7);
  std::ostringstream out;
  out << v2;
  CHECK(out.str() == "v2");
  conn->close();
}

}  // namespace

TEST_CASE("proxy operators against a Python rpyc 5.3 server") {
  PythonServer py;
  check_operators(py);
}

TEST_CASE("proxy operators against a Python rpyc 6.0.1 server") {
  const std::string rpyc6 = rpyc6_or_skip();
  if (rpyc6.empty()) return;
  PythonServer py(rpyc6, Generation::v6);
  check_operators(py);
}
