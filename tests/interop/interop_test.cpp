// Interop with stock Python rpyc 5.3 (/usr/bin/python3): a Python client against our server,
// and our client against a Python server.
#include <doctest/doctest.h>

#include <netref/netref.hpp>

#include <stdexcept>

#include "child_process.hpp"
#include "python_server.hpp"

using namespace netref;
using netref::test::ChildProcess;
using netref::test::interop_script;
using netref::test::PythonServer;

namespace {

struct Counter {
  std::int64_t value = 0;
  std::string secret = "hidden";
  std::int64_t add(std::int64_t n) { return value += n; }
};

struct Point {
  double x = 0;
  double y = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(x, y);
  }
};

Service make_test_service(Registry& types) {
  types.expose<Counter>("Counter").def("add", &Counter::add).def_readwrite("value", &Counter::value);
  Service svc(types);
  svc.def("add", [](std::int64_t a, std::int64_t b) { return a + b; });
  svc.def("scale", [](std::int64_t x, std::int64_t factor) { return x * factor; }, arg("x"), arg("factor") = 2);
  svc.def("echo_text", [](std::string s) { return s; });
  svc.def("pair", [](std::int64_t a, std::string b) { return std::make_tuple(a, b); });
  svc.def("make_point", [](double x, double y) { return Point{x, y}; });
  svc.def("sum_all", [](std::vector<std::int64_t> values) {
    std::int64_t total = 0;
    for (auto v : values) total += v;
    return total;
  });
  svc.def("make_counter", [](std::int64_t start) { return std::make_shared<Counter>(Counter{start}); });
  svc.def("read_counter", [](const Counter& c) { return c.value; });
  svc.def("divide", [](std::int64_t a, std::int64_t b) {
    if (b == 0) throw std::invalid_argument("division by zero");
    return a / b;
  });
  svc.def("apply", [](Proxy fn, std::int64_t x) { return fn->call(x); });
  return svc;
}

}  // namespace

TEST_CASE("a Python rpyc 5.3 client uses our server: calls, kwargs, netrefs, exceptions, callbacks, async") {
  Registry types;
  Service svc = make_test_service(types);
  ServerConfig cfg;
  cfg.port = 0;
  ThreadedServer server(svc, cfg);
  server.start();

  ChildProcess py({"/usr/bin/python3", interop_script("py_client.py"), std::to_string(server.port())});
  const std::string output = py.read_all();
  const int status = py.wait();
  INFO(output);
  CHECK(status == 0);
  CHECK(output.find("ALL OK") != std::string::npos);
  server.stop();
}

TEST_CASE("our client uses a Python rpyc 5.3 server: calls, kwargs, netrefs, exceptions, callbacks, async") {
  PythonServer py;
  auto conn = py.connect();
  CHECK_FALSE(conn->connection().peer_is_netref());  // rpyc declined the hello
  auto root = conn->root();

  CHECK(root->attr("add")->call(2, 3).as<std::int64_t>() == 5);
  CHECK(root->attr("greet")->call("c++").as<std::string>() == "hello, c++!");
  CHECK(root->attr("greet")->call("c++", kw("punctuation", "?")).as<std::string>() == "hello, c++?");
  CHECK(root->attr("echo")->call(std::vector<std::int64_t>{1, 2}).as<std::vector<std::int64_t>>() ==
        std::vector<std::int64_t>{1, 2});

  auto box = root->attr("make_box")->call(7);
  CHECK(box.is_netref());
  CHECK(box->attr("get")->call().as<std::int64_t>() == 7);
  box->attr("put")->call(9);
  CHECK(box->attr("value")->get().as<std::int64_t>() == 9);
  CHECK(root->attr("echo")->call(box).remote() == box.remote());  // our netref comes back as itself

  // a Python list arrives as a netref; copying it into a vector iterates it with BUFFITER
  CHECK(root->attr("items")->call().as<std::vector<std::int64_t>>() == std::vector<std::int64_t>{1, 2, 3});

  try {
    root->attr("fail")->call("broken");
    FAIL("no exception");
  } catch (const ValueError& e) {
    CHECK(e.module() == "builtins");
    CHECK(e.message() == "broken");
    CHECK(e.remote_traceback().find("Traceback") != std::string::npos);
    CHECK(e.remote_traceback().find("ValueError") != std::string::npos);
  }

  // Python calls our C++ lambda while we wait for apply's reply
  CHECK(root->attr("apply")->call(local([](std::int64_t x) { return x * 3; }), 14).as<std::int64_t>() == 42);
  // a C++ exception in our callback reaches Python and comes back to us
  CHECK_THROWS_AS(root->attr("apply")->call(local([](std::int64_t) -> std::int64_t { throw std::out_of_range("nope"); }), 1),
                  IndexError);

  auto pending = root->attr("add")->async_call(40, 2);
  CHECK(pending.value().as<std::int64_t>() == 42);

  CHECK_THROWS_AS(root->attr("no_such_thing")->call(), AttributeError);
  CHECK(root->attr("add")->call(1, 1).as<std::int64_t>() == 2);  // still fine
  conn->close();
}
