// rpyc's conventions against Python peers, 5.3 and 6.0.1: rpyc's own test assertions
// (test_custom_service, test_attr_access, test_remote_exception) run by a Python client
// against C++ servers that implement those tests' services (py_conventions_client.py), and
// exceptions both ways with a registered class, in C++ against a Python server.
#include <doctest/doctest.h>

#include <netref/netref.hpp>

#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "child_process.hpp"
#include "python_server.hpp"

using namespace netref;
using netref::test::ChildProcess;
using netref::test::interop_script;
using netref::test::PythonServer;
using netref::test::rpyc6_or_skip;
using netref::test::python3_with;

namespace {

struct JobStateError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// test_custom_service.py's MyService.MyClass
struct MyClass {
  std::string a, b;
  std::string foo() const { return a + b; }
};
// test_attr_access.py's MyClass: foobar exposed, __add__ a safe attribute (and, without
// operators, what allow_safe_attrs=False leaves of it)
struct AccessClass {};
struct PlainAccessClass {};

// The services of rpyc's tests, in C++: MyService of test_custom_service.py (plus
// remote_assert of test_remote_exception.py and test_attr_access.py's MyClass), and the job
// board's finish / run_job.
Service my_service(Registry& types) {
  types.expose<MyClass>("MyClass").def("foo", &MyClass::foo);
  types.expose<AccessClass>("MyAccessClass")
      .def("foobar", [](const AccessClass&) { return std::string("Fee Fie Foe Foo"); })
      .def("__add__", [](const AccessClass&, const std::string& other) { return "foo" + other; });
  types.expose<PlainAccessClass>("MyAccessClassWithoutOperators").def("foobar", [](const PlainAccessClass&) {
    return std::string("Fee Fie Foe Foo");
  });
  types.register_exception<JobStateError>("jobboard.JobStateError");

  Service svc(types, "MyService");
  using Point = std::tuple<double, double>;
  svc.def("distance", [](Point p1, Point p2) {
    return std::hypot(std::get<0>(p2) - std::get<0>(p1), std::get<1>(p2) - std::get<1>(p1));
  });
  svc.def("getlist", [] { return std::vector<std::int64_t>{1, 2, 3}; });
  svc.def("get_decorated", [] { return std::string("decorated"); });
  svc.def("get_decorated_prefix", [] { return std::string("decorated_prefix"); });
  svc.def("MyClass", [](std::string a, std::string b) { return std::make_shared<MyClass>(MyClass{a, b}); });
  svc.def("MyAccessClass", [] { return std::make_shared<AccessClass>(); });
  svc.def("MyAccessClassWithoutOperators", [] { return std::make_shared<PlainAccessClass>(); });
  svc.def("remote_assert", [](bool value) {
    if (!value) throw AssertionError("");
  });
  svc.def("finish", [](std::int64_t job) -> std::int64_t {
    throw JobStateError("job " + std::to_string(job) + " is already finished");
  });
  svc.def("run_job", [](Proxy job) {
    try {
      job->call();
      return std::string("done");
    } catch (const JobStateError& e) {
      return "caught JobStateError: " + std::string(e.what());
    }
  });
  svc.def("run_job_uncaught", [](Proxy job) { job->call(); });
  return svc;
}

void run_rpyc_tests(const std::vector<std::string>& python) {
  Registry types;
  Service svc = my_service(types);
  ServerConfig plain;
  plain.port = 0;
  ThreadedServer server(svc, plain);
  ServerConfig denied = plain;
  denied.connection.include_local_traceback = false;
  denied.connection.include_local_version = false;
  ThreadedServer denied_server(svc, denied);
  ServerConfig prefixed = plain;
  prefixed.connection.exposed_prefix = "prefix_";
  ThreadPoolServer prefixed_server(svc, prefixed);
  server.start();
  denied_server.start();
  prefixed_server.start();

  std::vector<std::string> argv = python;
  argv.push_back(interop_script("py_conventions_client.py"));
  for (auto port : {server.port(), denied_server.port(), prefixed_server.port()}) argv.push_back(std::to_string(port));
  ChildProcess py(argv);
  const std::string output = py.read_all();
  const int status = py.wait();
  INFO(output);
  CHECK(status == 0);
  CHECK(output.find("ALL OK") != std::string::npos);
  CHECK(output.find("test_allow_safe_attrs") != std::string::npos);  // the cases ran
}

// Our client against a Python server whose exposed_finish raises jobboard.JobStateError.
void check_python_exception_caught_by_type(const PythonServer& py, const char* version) {
  Registry types;
  types.register_exception<JobStateError>("jobboard.JobStateError");
  ClientConfig config;
  config.connection.generation = py.generation;
  config.connection.exceptions = types.exceptions();
  auto conn = netref::connect("127.0.0.1", py.port, config);
  auto root = conn->root();
  bool caught = false;
  try {
    root->attr("finish")->call(7);
  } catch (const JobStateError& e) {
    caught = true;
    CHECK(std::string(e.what()) == "job 7 is already finished");
    const RemoteInfo* remote = remote_info(e);
    REQUIRE(remote != nullptr);
    CHECK(remote->module() == "jobboard");
    CHECK(remote->remote_traceback().find("raise JobStateError") != std::string::npos);  // Python's traceback
    CHECK(remote->remote_version() == version);
    const Value* job = remote->attr("job");  // a public attribute vinegar sends
    REQUIRE(job != nullptr);
    CHECK(*job == Value(7));
  }
  CHECK(caught);
  // Python's builtins arrive as their C++ types, in Python's hierarchy
  CHECK_THROWS_AS(root->attr("fail")->call("broken"), ValueError);
  // get_service_name: every rpyc service answers it, and ours asks like any client
  CHECK(root->attr("get_service_name")->call().as<std::string>() == "TEST");
  conn->close();
}

}  // namespace

TEST_CASE("rpyc 5.3's test assertions (custom service, attribute access, remote exceptions) pass against our server") {
  run_rpyc_tests({"/usr/bin/python3"});
}

TEST_CASE("rpyc 6.0.1's test assertions (custom service, attribute access, remote exceptions) pass against our server") {
  const std::string rpyc6 = rpyc6_or_skip();
  if (rpyc6.empty()) return;
  run_rpyc_tests(python3_with(rpyc6));
}

TEST_CASE("a Python rpyc 5.3 server's exception of a registered class is caught in C++ by type") {
  PythonServer py;
  check_python_exception_caught_by_type(py, "5.3.0");
}

TEST_CASE("a Python rpyc 6.0.1 server's exception of a registered class is caught in C++ by type") {
  const std::string rpyc6 = rpyc6_or_skip();
  if (rpyc6.empty()) return;
  PythonServer py(rpyc6, Generation::v6);
  check_python_exception_caught_by_type(py, "6.0.1");
}
