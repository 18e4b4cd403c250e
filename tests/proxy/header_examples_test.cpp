// The examples in the public headers' comments, compiled and run: each block below is the
// header's text (tests/examples/check_header_examples.py checks that they match), with what
// it needs around it.
#include <doctest/doctest.h>

#include <netref/netref.hpp>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {
struct Counter {
  std::int64_t value = 0;
  std::int64_t add(std::int64_t n) { return value += n; }
};
struct Money {
  std::int64_t cents = 0;
};
}  // namespace

// convert.hpp
template <> struct netref::Converter<Money> {
  static Money from_value(const netref::Value& v, const netref::ConvertContext& ctx);
  static netref::Value to_value(const Money& m, const netref::ConvertContext& ctx);
  static std::string type_name() { return "Money"; }
};

Money netref::Converter<Money>::from_value(const netref::Value& v, const netref::ConvertContext& ctx) {
  return Money{netref::Converter<std::int64_t>::from_value(v, ctx)};
}
netref::Value netref::Converter<Money>::to_value(const Money& m, const netref::ConvertContext&) {
  return netref::Value(m.cents);
}

TEST_CASE("the header examples compile and do what their comments say") {
  // registry.hpp
  netref::Registry types;
  types.expose<Counter>("Counter")
      .def("add", &Counter::add, netref::arg("n") = 1)
      .def_readwrite("value", &Counter::value)
      .def("__len__", [](const Counter& c) { return c.value; });

  // service.hpp
  netref::Service calc(types);
  calc.def("add", [](std::int64_t a, std::int64_t b) { return a + b; });
  calc.def("make_counter", [](std::int64_t start) { return std::make_shared<Counter>(Counter{start}); });
  calc.attr("version", "1.0");

  calc.def("apply", [](const std::function<std::int64_t(std::int64_t)>& f, std::int64_t x) { return f(x); });
  calc.def("pay", [](Money m) { return Money{m.cents * 2}; });
  netref::ServerConfig config;
  config.port = 0;
  netref::ThreadedServer server(calc, config);
  server.start();
  auto conn = netref::connect("127.0.0.1", server.port());
  netref::RemoteRefPtr root = conn->root()->remote();
  REQUIRE(root);

  // local.hpp
  auto applied = root->callattr("apply", {netref::local([](std::int64_t x) { return x * 2; }), 21});  // 42
  CHECK(applied == netref::Value(42));

  CHECK(conn->root()->attr("add")->call(2, 3).as<std::int64_t>() == 5);
  CHECK(conn->root()->attr("make_counter")->call(10)->attr("add")->call(5).as<std::int64_t>() == 15);
  CHECK(conn->root()->attr("version")->get().as<std::string>() == "1.0");
  CHECK(conn->root()->attr("pay")->call(Money{150}).as<Money>().cents == 300);
}

TEST_CASE("the RequestContext example: a handler stops once its caller's deadline passed") {
  netref::Service calc;
  // request_context.hpp
  calc.def("crunch", [](std::int64_t n) {
    auto* request = netref::RequestContext::current();
    std::int64_t sum = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      if (request != nullptr && (request->stop_requested() || request->expired())) {
        throw netref::Cancelled("stopped after " + std::to_string(i) + " steps");
      }
      sum += i;
    }
    return sum;
  });
  netref::ThreadPoolServer server(calc, {.host = "127.0.0.1", .port = 0});
  server.start();
  auto conn = netref::connect("127.0.0.1", server.port());
  CHECK(conn->root()->attr("crunch")->call(10).as<std::int64_t>() == 45);
  CHECK(netref::RequestContext::current() == nullptr);  // outside a handler
  // Its deadline travels with the call: the handler sees it pass and stops long before n.
  auto slow = conn->root()->attr("crunch")->with_timeout(std::chrono::milliseconds(20));
  CHECK_THROWS(slow->call(std::int64_t{1} << 60));
  CHECK(conn->root()->attr("crunch")->call(3).as<std::int64_t>() == 3);  // the server serves on
  server.stop();
}

TEST_CASE("the call metrics and log header examples compile and do what their comments say") {
  netref::Service service;
  service.def("add", [](std::int64_t a, std::int64_t b) { return a + b; });
  netref::ThreadPoolServer server(service, {.host = "127.0.0.1", .port = 0});
  server.start();
  {
    // call_metrics.hpp
    auto calls = std::make_shared<netref::CallMetrics>(std::vector<std::string>{"add", "echo"});
    netref::ClientConfig cfg;
    cfg.connection.call_metrics = calls;  // every sync call of this connection is counted
    auto conn = netref::connect("127.0.0.1", server.port(), cfg);
    conn->root()->attr("add")->call(2, 3);
    const netref::CallMetricsSnapshot snap = calls->snapshot();
    const std::uint64_t adds = snap.find("add")->calls;  // 1
    CHECK(adds == 1);
    conn->close();
  }
  // log.hpp
  netref::set_log_handler([](netref::LogLevel level, std::string_view message, netref::ConnectionId id) {
    std::fprintf(stderr, "[%s] conn %llu: %.*s\n", std::string(netref::to_string(level)).c_str(),
                 static_cast<unsigned long long>(id), static_cast<int>(message.size()), message.data());
  });
  netref::set_log_handler(nullptr);
  server.stop();
}

TEST_CASE("the register_exception example: a thrown type travels as its Python class and comes back as itself") {
  // exceptions.hpp
  struct JobStateError : std::runtime_error {
    using std::runtime_error::runtime_error;   // constructible from the message
  };
  netref::Registry types;
  types.register_exception<JobStateError>("jobboard.JobStateError");

  netref::Service board(types);
  board.def("finish", [](std::int64_t job) -> std::int64_t {
    throw JobStateError("job " + std::to_string(job) + " is already finished");
  });
  netref::ServerConfig config;
  config.port = 0;
  netref::ThreadedServer server(board, config);
  server.start();
  netref::ClientConfig client;
  client.connection.exceptions = types.exceptions();
  auto conn = netref::connect("127.0.0.1", server.port(), client);
  auto root = conn->root();
  std::string what;
  std::string traceback;
  auto report = [&](const char* w, const std::string& tb) {
    what = w;
    traceback = tb;
  };

  try {
    root->attr("finish")->call(7);
  } catch (const JobStateError& e) {
    const netref::RemoteInfo* remote = netref::remote_info(e);  // traceback, args, attributes
    report(e.what(), remote->remote_traceback());
  }
  CHECK(what == "job 7 is already finished");
  CHECK(traceback.find("JobStateError") != std::string::npos);
}
