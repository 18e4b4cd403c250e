// Exceptions both ways, typed (Registry::register_exception), over a real Connection: what a
// thrown C++ type travels as, what a received class is raised as, the builtins' C++ types,
// and what rpyc's include_local_traceback / include_local_version withhold.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "netref/protocol/connection.hpp"
#include "netref/service/service.hpp"
#include "service/link.hpp"

using namespace netref;
using netref::test::Link;

namespace {

// The shape a user writes: a std::runtime_error constructible from its message.
struct JobStateError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Derived from a registered type, registered after it: travels as its own class.
struct JobGoneError : JobStateError {
  using JobStateError::JobStateError;
};
// Constructible from ExceptionInfo: sees the args and attributes of the remote exception.
struct QuotaError : std::runtime_error {
  explicit QuotaError(const ExceptionInfo& info)
      : std::runtime_error(info.message()), args(info.args.size()), remote_class(info.class_name) {}
  explicit QuotaError(const std::string& message) : std::runtime_error(message) {}
  std::size_t args = 0;
  std::string remote_class;
};
// final: raised as itself (no RemoteInfo beside it).
struct SealedError final : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void register_jobboard(Registry& types) {
  types.register_exception<JobStateError>("jobboard.JobStateError")
      .register_exception<JobGoneError>("jobboard.JobGoneError")
      .register_exception<QuotaError>("jobboard.QuotaError")
      .register_exception<SealedError>("jobboard.SealedError");
}

Service jobboard(Registry types) {
  register_jobboard(types);
  Service svc(types, "jobboard.JobBoardService");
  svc.def("finish", [](std::int64_t job) -> std::int64_t {
    throw JobStateError("job " + std::to_string(job) + " is already finished");
  });
  svc.def("gone", [] { throw JobGoneError("job 7 is gone"); });
  svc.def("quota", [] { throw QuotaError(std::string("over quota")); });
  svc.def("sealed", [] { throw SealedError("sealed"); });
  svc.def("raise_builtin", [](const std::string& which) {
    if (which == "zero") throw ZeroDivisionError("division by zero");
    if (which == "key") throw KeyError("k");
    if (which == "notimpl") throw NotImplementedError("later");
    if (which == "overflow") throw std::overflow_error("too big");
    if (which == "assert") throw AssertionError("assert False");
    throw RemoteError("FileNotFoundError", "no such file");
  });
  svc.def("apply", [](const Value& fn) { return call_value(fn, {}); });
  return svc;
}

ConnectionConfig client_with(const Registry& types) {
  ConnectionConfig cfg;
  cfg.exceptions = types.exceptions();
  return cfg;
}

ConnectionConfig server_with(const Service& svc) {
  ConnectionConfig cfg;
  cfg.exceptions = svc.registry().exceptions();  // what servers do for their Service
  return cfg;
}

/// Runs fn, which must throw an E, and check on what it threw (the object itself, unsliced).
template <class E, class F, class Check>
void expect_thrown(F&& fn, Check&& check) {
  try {
    fn();
  } catch (const E& e) {
    check(e);
    return;
  }
  FAIL("no " << typeid(E).name());
}

}  // namespace

TEST_CASE("a registered C++ exception travels as its module and class and is raised on the other side as its type") {
  Service svc = jobboard(Registry());
  Registry mine;
  register_jobboard(mine);
  Link link(svc.root_object(), Service().root_object(), server_with(svc), client_with(mine));
  auto root = link.client->root();

  expect_thrown<JobStateError>([&] { root->callattr("finish", {Value(7)}); }, [](const JobStateError& e) {
    CHECK(std::string(e.what()) == "job 7 is already finished");
    const RemoteInfo* remote = remote_info(e);
    REQUIRE(remote != nullptr);
    CHECK(remote->module() == "jobboard");
    CHECK(remote->class_name() == "JobStateError");
    CHECK(remote->message() == "job 7 is already finished");
    CHECK(remote->info().args == std::vector<Value>{Value("job 7 is already finished")});
    CHECK(remote->remote_traceback().find("JobStateError") != std::string::npos);  // the C++ type, demangled
    CHECK(remote->remote_version() == "6.0.1");  // rpyc's attribute: the wire we speak
  });

  // caught as the base it derives from, and as itself, each with its own class on the wire
  expect_thrown<JobStateError>([&] { root->callattr("gone", {}); }, [](const JobStateError& gone) {
    CHECK(dynamic_cast<const JobGoneError*>(&gone) != nullptr);
    REQUIRE(remote_info(gone) != nullptr);
    CHECK(remote_info(gone)->class_name() == "JobGoneError");
  });
  CHECK_THROWS_AS(root->callattr("gone", {}), JobGoneError);

  // a type constructible from ExceptionInfo is given it
  expect_thrown<QuotaError>([&] { root->callattr("quota", {}); }, [](const QuotaError& quota) {
    CHECK(quota.args == 1);
    CHECK(quota.remote_class == "QuotaError");
    CHECK(remote_info(quota) != nullptr);
  });

  // a final type is raised as itself: catchable by type, with no RemoteInfo
  expect_thrown<SealedError>([&] { root->callattr("sealed", {}); }, [](const SealedError& sealed) {
    CHECK(std::string(sealed.what()) == "sealed");
    CHECK(remote_info(sealed) == nullptr);
  });

  // RemoteInfo catches every remote exception, registered or not
  CHECK_THROWS_AS(root->callattr("finish", {Value(1)}), RemoteInfo);
  CHECK_THROWS_AS(root->callattr("raise_builtin", {Value("zero")}), RemoteInfo);
  CHECK(root->callattr("get_service_name", {}) == Value("JOBBOARD"));  // still serving
}

TEST_CASE("a peer that did not register the class gets RemoteError carrying its module and class") {
  Service svc = jobboard(Registry());
  Link link(svc.root_object(), Service().root_object(), server_with(svc));
  auto root = link.client->root();
  expect_thrown<RemoteError>([&] { root->callattr("finish", {Value(3)}); }, [](const RemoteError& e) {
    CHECK(e.module() == "jobboard");
    CHECK(e.class_name() == "JobStateError");
    CHECK(std::string(e.what()) == "JobStateError: job 3 is already finished");
  });
}

TEST_CASE("a registered exception raised from a reply and let through a handler keeps its class") {
  // The server calls back into the client, whose callback throws JobStateError; the server's
  // handler lets it through (it arrived as the registered type), and the client gets it back.
  Service svc = jobboard(Registry());
  Registry mine;
  register_jobboard(mine);
  Link link(svc.root_object(), Service(mine).root_object(), server_with(svc), client_with(mine));
  auto root = link.client->root();
  Service cb(mine);
  cb.def("boom", [] { throw JobStateError("from the callback"); });
  Value boom = cb.root_object()->getattr("boom");
  expect_thrown<JobStateError>([&] { root->callattr("apply", {boom}); }, [](const JobStateError& e) {
    REQUIRE(remote_info(e) != nullptr);
    CHECK(remote_info(e)->class_name() == "JobStateError");
    CHECK(remote_info(e)->message() == "from the callback");
    // one traceback section per side it went through
    const std::string& tb = remote_info(e)->remote_traceback();
    CHECK(tb.find("Traceback (netref C++ peer)") != tb.rfind("Traceback (netref C++ peer)"));
  });
}

TEST_CASE("Python's builtin exceptions arrive as C++ types in Python's hierarchy") {
  Service svc = jobboard(Registry());
  Link link(svc.root_object(), Service().root_object(), server_with(svc));
  auto root = link.client->root();
  auto raise = [&](const char* which) { root->callattr("raise_builtin", {Value(which)}); };
  CHECK_THROWS_AS(raise("zero"), ZeroDivisionError);
  CHECK_THROWS_AS(raise("zero"), ArithmeticError);
  CHECK_THROWS_AS(raise("overflow"), OverflowError);  // std::overflow_error travels as OverflowError
  CHECK_THROWS_AS(raise("key"), KeyError);
  CHECK_THROWS_AS(raise("key"), LookupError);
  CHECK_THROWS_AS(raise("notimpl"), NotImplementedError);
  CHECK_THROWS_AS(raise("notimpl"), RuntimeError);
  CHECK_THROWS_AS(raise("assert"), AssertionError);
  expect_thrown<RemoteError>([&] { raise("file"); }, [](const RemoteError& other) {
    CHECK(other.class_name() == "FileNotFoundError");
    CHECK(dynamic_cast<const RuntimeError*>(&other) == nullptr);
  });
}

TEST_CASE("include_local_traceback and include_local_version false withhold both, as rpyc's config does") {
  Service svc = jobboard(Registry());
  ConnectionConfig server_cfg = server_with(svc);
  server_cfg.include_local_traceback = false;
  server_cfg.include_local_version = false;
  Link link(svc.root_object(), Service().root_object(), server_cfg);
  auto root = link.client->root();
  expect_thrown<RemoteError>([&] { root->callattr("finish", {Value(1)}); }, [](const RemoteError& e) {
    CHECK(e.remote_traceback() == "<traceback denied>");
    CHECK(e.remote_version() == "<version denied>");
    CHECK(e.message() == "job 1 is already finished");  // the message is not the traceback
  });
}

TEST_CASE("register_exception refuses a name without a module, and a type or a class registered twice") {
  Registry types;
  CHECK_THROWS_AS(types.register_exception<JobStateError>("JobStateError"), std::invalid_argument);
  CHECK_THROWS_AS(types.register_exception<JobStateError>("jobboard."), std::invalid_argument);
  CHECK_THROWS_AS(types.register_exception<JobStateError>(".JobStateError"), std::invalid_argument);
  register_exception<JobStateError>(types, "jobboard.JobStateError");
  CHECK_THROWS_AS(types.register_exception<JobStateError>("jobboard.Other"), std::logic_error);
  CHECK_THROWS_AS(types.register_exception<JobGoneError>("jobboard.JobStateError"), std::logic_error);
}

TEST_CASE("every service answers get_service_name and get_service_aliases as rpyc derives them") {
  Service calc(Registry(), "calc.CalcService");
  CHECK(calc.aliases() == std::vector<std::string>{"CALC"});
  Link link(calc.root_object(), Service().root_object());
  auto root = link.client->root();
  CHECK(root->callattr("get_service_name", {}) == Value("CALC"));
  CHECK(root->callattr("exposed_get_service_name", {}) == Value("CALC"));
  CHECK(root->callattr("get_service_aliases", {}) == Value(tuple_of("CALC")));

  calc.set_aliases({"calculator", "Adder"});
  CHECK(root->callattr("get_service_name", {}) == Value("CALCULATOR"));
  CHECK(root->callattr("get_service_aliases", {}) == Value(tuple_of("CALCULATOR", "ADDER")));
  CHECK(calc.service_name() == "CALCULATOR");
  CHECK_THROWS_AS(calc.set_aliases({}), std::invalid_argument);
  CHECK_THROWS_AS(calc.set_aliases({"ok", ""}), std::invalid_argument);

  CHECK(Service(Registry(), "Plain").aliases() == std::vector<std::string>{"PLAIN"});
  CHECK(Service().service_name() == "SERVICE");  // rpyc would say "": an alias must name something

  Service custom(Registry(), "x.MyService");
  custom.def("get_service_name", [] { return std::string("mine"); });  // a def replaces the built-in
  CHECK(custom.root_object()->callattr("get_service_name", {}, {}) == Value("mine"));
}

TEST_CASE("the exposed prefix is configurable, and an empty one takes names as they come") {
  Service svc{Registry()};
  svc.def("add", [](std::int64_t a, std::int64_t b) { return a + b; });
  SUBCASE("prefix_") {
    ConnectionConfig cfg;
    cfg.exposed_prefix = "prefix_";
    Link link(svc.root_object(), Service().root_object(), cfg);
    auto root = link.client->root();
    CHECK(root->callattr("prefix_add", {Value(1), Value(2)}) == Value(3));
    CHECK(root->callattr("add", {Value(1), Value(2)}) == Value(3));
    CHECK_THROWS_AS(root->callattr("exposed_add", {Value(1), Value(2)}), AttributeError);
  }
  SUBCASE("none") {
    ConnectionConfig cfg;
    cfg.exposed_prefix = "";
    Link link(svc.root_object(), Service().root_object(), cfg);
    auto root = link.client->root();
    CHECK(root->callattr("add", {Value(1), Value(2)}) == Value(3));
    CHECK_THROWS_AS(root->callattr("exposed_add", {Value(1), Value(2)}), AttributeError);
  }
}

TEST_CASE("__class__ of an exposed object is a stand-in that names the type and reaches nothing else") {
  struct Counter {
    std::int64_t value = 0;
  };
  Registry types;
  types.expose<Counter>("Counter").def_readwrite("value", &Counter::value);
  Service svc(types);
  svc.def("make", [] { return std::make_shared<Counter>(); });
  Link link(svc.root_object(), Service().root_object());
  auto root = link.client->root();
  Value counter = root->callattr("make", {});
  REQUIRE(counter.get_if<RemoteRefPtr>());
  Value cls = (*counter.get_if<RemoteRefPtr>())->getattr("__class__");
  REQUIRE(cls.get_if<RemoteRefPtr>());
  const auto& c = *cls.get_if<RemoteRefPtr>();
  CHECK(c->id_pack().type_name == "builtins.type");
  CHECK(c->getattr("__name__") == Value("Counter"));
  CHECK(c->getattr("__module__") == Value("netref"));
  CHECK(c->repr() == "<class 'netref.Counter'>");
  for (const char* name : {"__dict__", "__init__", "__call__", "__subclasses__", "value", "mro"}) {
    CAPTURE(name);
    CHECK_THROWS_AS(c->getattr(name), AttributeError);
  }
  CHECK_THROWS_AS(c->call({}), TypeError);  // not a way to make one
  const Value service_class = root->getattr("__class__");  // the service's too
  REQUIRE(service_class.get_if<RemoteRefPtr>() != nullptr);
  CHECK((*service_class.get_if<RemoteRefPtr>())->getattr("__name__") == Value("Service"));
}

TEST_CASE("an operator the binding lacks is listed for Python and refused with AttributeError, as rpyc refuses it") {
  struct Vec {
    std::int64_t x = 0;
  };
  Registry types;
  types.expose<Vec>("Vec").def("__add__", [](const Vec& a, std::int64_t n) { return a.x + n; });
  ObjectPtr obj = types.lend(std::make_shared<Vec>(Vec{2}));
  bool add_bound = false;
  bool sub_withheld = false;
  bool radd_listed = false;
  bool len_listed = false;
  for (const auto& [name, doc] : obj->inspect()) {
    if (name == "__add__") add_bound = doc != "not exposed";
    if (name == "__sub__") sub_withheld = doc == "not exposed";
    radd_listed |= name == "__radd__";
    len_listed |= name == "__len__";
  }
  CHECK(add_bound);
  CHECK(sub_withheld);
  CHECK_FALSE(radd_listed);  // Python falls back from reflected forms; 1 + obj stays a TypeError
  CHECK_FALSE(len_listed);   // probed protocols stay off: bool(obj) must not ask
  CHECK(obj->callattr("__add__", {Value(3)}, {}) == Value(5));
  CHECK_THROWS_AS(obj->callattr("__sub__", {Value(3)}, {}), AttributeError);
  const auto names = obj->dir();
  CHECK(std::find(names.begin(), names.end(), "__sub__") == names.end());
}
