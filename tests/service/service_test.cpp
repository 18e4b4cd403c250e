// The Service root object and netref::local, called directly (no connection).
#include <doctest/doctest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "netref/service/service.hpp"
#include "service/error_of.hpp"

using namespace netref;

namespace {

using netref::test::attribute_error_of;
using netref::test::conversion_error_of;
using netref::test::type_error_of;

struct Counter {
  std::int64_t value = 0;
  std::int64_t add(std::int64_t n) { return value += n; }
};

struct Point {
  std::int64_t x = 0, y = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(x, y);
  }
};


Service make_calc(const Registry& types) {
  Service calc(types);
  calc.def("add", [](std::int64_t a, std::int64_t b) { return a + b; });
  calc.def("make_counter", [](std::int64_t start) { return std::make_shared<Counter>(Counter{start}); });
  calc.def("merge", [](Counter& into, const Counter& from) { into.value += from.value; });
  calc.def("norm2", [](Point p) { return p.x * p.x + p.y * p.y; });
  calc.def("mirror", [](const Point& p) { return Point{p.y, p.x}; });
  calc.def("apply", [](const std::function<std::int64_t(std::int64_t)>& fn, std::int64_t x) { return fn(x); });
  calc.def("describe", [](std::int64_t n) { return "int " + std::to_string(n); });
  calc.def("describe", [](const std::string& s) { return "str " + s; });
  calc.def("describe", [](const std::vector<std::int64_t>& v) { return "list of " + std::to_string(v.size()); });
  calc.def("scale", [](double x, double factor, std::int64_t offset) { return x * factor + static_cast<double>(offset); },
           arg("x"), arg("factor") = 2.0, arg("offset") = 0);
  calc.def("fail", []() -> std::int64_t { throw ValueError("bad value"); });
  calc.attr("version", "1.2");
  return calc;
}

Registry counter_types() {
  Registry types;
  types.expose<Counter>("Counter").def("add", &Counter::add).def_readwrite("value", &Counter::value);
  return types;
}

}  // namespace

TEST_CASE("the root object calls free functions by name, and rpyc's exposed_ prefix is the connection's to strip") {
  Registry types = counter_types();
  Service calc = make_calc(types);
  ObjectPtr root = calc.root_object();
  REQUIRE(root);
  CHECK(root == calc.root_object());
  CHECK(root->type_name() == "netref.Service");
  CHECK(root->callattr("add", {Value(2), Value(3)}, {}) == Value(5));
  CHECK_THROWS_AS(root->callattr("exposed_add", {Value(2), Value(3)}, {}), AttributeError);
  CHECK(call_value(root->getattr("add"), {Value(1), Value(1)}) == Value(2));
  CHECK(root->getattr("version") == Value("1.2"));
  CHECK_THROWS_AS(root->getattr("nothing"), AttributeError);
  CHECK_THROWS_AS(root->setattr("version", Value("2")), AttributeError);
}

TEST_CASE("a result of an exposed type is a netref-able object the next call mutates") {
  Registry types = counter_types();
  Service calc = make_calc(types);
  ObjectPtr root = calc.root_object();
  Value counter = root->callattr("make_counter", {Value(10)}, {});
  auto* obj = counter.get_if<ObjectPtr>();
  REQUIRE(obj);
  CHECK((*obj)->type_name() == "Counter");
  CHECK((*obj)->callattr("add", {Value(5)}, {}) == Value(15));
  CHECK((*obj)->getattr("value") == Value(15));
}

TEST_CASE("T& and const T& parameters accept our own objects passed back, and nothing else") {
  Registry types = counter_types();
  Service calc = make_calc(types);
  ObjectPtr root = calc.root_object();
  auto a = std::make_shared<Counter>(Counter{1});
  auto b = std::make_shared<Counter>(Counter{2});
  CHECK(root->callattr("merge", {Value(types.lend(a)), Value(types.lend(b))}, {}).is_none());
  CHECK(a->value == 3);
  CHECK(b->value == 2);
  const std::string message = type_error_of([&] { root->callattr("merge", {Value(types.lend(a)), Value(5)}, {}); });
  CHECK(message.find("merge(Counter, Counter) -> None") != std::string::npos);
  CHECK(message.find("argument 2: expected Counter, got int") != std::string::npos);
  CHECK(type_error_of([&] { root->callattr("merge", {Value(root), Value(types.lend(b))}, {}); })
            .find("argument 1: expected Counter, got netref.Service") != std::string::npos);
}

TEST_CASE("a cereal struct parameter is built from a tuple, and a struct result is a tuple") {
  Registry types;
  Service calc = make_calc(types);
  ObjectPtr root = calc.root_object();
  CHECK(root->callattr("norm2", {tuple_of(3, 4)}, {}) == Value(25));
  CHECK(root->callattr("mirror", {tuple_of(1, 2)}, {}) == tuple_of(2, 1));
  CHECK(type_error_of([&] { root->callattr("norm2", {tuple_of(3)}, {}); }).find("norm2(Point) -> int") !=
        std::string::npos);
}

TEST_CASE("overloads are tried in order and the first whose arguments convert wins") {
  Registry types;
  Service calc = make_calc(types);
  ObjectPtr root = calc.root_object();
  CHECK(root->callattr("describe", {Value(4)}, {}) == Value("int 4"));
  CHECK(root->callattr("describe", {Value("x")}, {}) == Value("str x"));
  CHECK(root->callattr("describe", {tuple_of(1, 2)}, {}) == Value("list of 2"));
  const std::string message = type_error_of([&] { root->callattr("describe", {Value(1.5)}, {}); });
  CHECK(message ==
        "describe(): incompatible arguments (float); expected one of: "
        "describe(int) -> str [argument 1: expected int, got float] | "
        "describe(str) -> str [argument 1: expected str, got float] | "
        "describe(list[int]) -> str [argument 1: expected list[int], got float]");
}

TEST_CASE("an overload that took a str or bytes argument and then failed leaves it whole for the next") {
  // The last candidate may take (move) its string arguments; earlier ones must copy them.
  Service svc;
  svc.def("tag", [](std::string s, Bytes b, std::int64_t n) { return s + b.data + std::to_string(n); });
  svc.def("tag", [](std::string s, Bytes b, std::string t) { return s + b.data + t; });
  svc.def("tag", [](std::string s, Bytes b, double d) { return s + b.data + std::to_string(static_cast<int>(d)); });
  ObjectPtr root = svc.root_object();
  const std::string long_text(100, 'x');  // past any small-string buffer: a move empties it
  CHECK(root->callattr("tag", {Value(long_text), Value(Bytes{long_text}), Value("!")}, {}) ==
        Value(long_text + long_text + "!"));
  CHECK(root->callattr("tag", {Value(long_text), Value(Bytes{long_text}), Value(2.0)}, {}) ==
        Value(long_text + long_text + "2"));
  // A default is never taken: the second call sees it as the first did.
  svc.def("greet", [](std::string name) { return name; }, arg("name") = long_text);
  CHECK(root->callattr("greet", {}, {}) == Value(long_text));
  CHECK(root->callattr("greet", {}, {}) == Value(long_text));
}

TEST_CASE("keyword arguments match netref::arg names, and defaults fill the rest") {
  Registry types;
  Service calc = make_calc(types);
  ObjectPtr root = calc.root_object();
  CHECK(root->callattr("scale", {Value(1.5)}, {}) == Value(3.0));
  CHECK(root->callattr("scale", {Value(1.0)}, {{"offset", Value(1)}}) == Value(3.0));
  CHECK(root->callattr("scale", {}, {{"factor", Value(3)}, {"x", Value(2)}}) == Value(6.0));
  const std::string sig = "scale(x: float, factor: float = 2.0, offset: int = 0) -> float";
  CHECK(type_error_of([&] { root->callattr("scale", {Value(1.0)}, {{"nope", Value(1)}}); }) ==
        "scale(): incompatible arguments (float, nope=int); expected one of: " + sig +
            " [unexpected keyword argument 'nope']");
  CHECK(type_error_of([&] { root->callattr("scale", {Value(1.0)}, {{"x", Value(1)}}); }).find(
            "got multiple values for argument 'x'") != std::string::npos);
  CHECK(type_error_of([&] { root->callattr("scale", {}, {}); }).find("missing argument 1 ('x')") !=
        std::string::npos);
  CHECK(type_error_of([&] { root->callattr("scale", {Value(1), Value(2), Value(3), Value(4)}, {}); })
            .find("takes 3 positional arguments but 4 were given") != std::string::npos);
  // Without netref::arg names, no keyword matches.
  CHECK(type_error_of([&] { root->callattr("add", {Value(1)}, {{"b", Value(2)}}); })
            .find("unexpected keyword argument 'b'") != std::string::npos);
}

TEST_CASE("an exception thrown by a bound function propagates as it is") {
  Registry types;
  Service calc = make_calc(types);
  CHECK_THROWS_AS(calc.root_object()->callattr("fail", {}, {}), ValueError);
}

TEST_CASE("a std::function parameter calls back into a local object made with netref::local") {
  Registry types;
  Service calc = make_calc(types);
  ObjectPtr root = calc.root_object();
  std::int64_t seen = 0;
  ObjectPtr doubler = local([&seen](std::int64_t x) {
    seen = x;
    return x * 2;
  });
  CHECK(doubler->type_name() == "builtins.builtin_function_or_method");
  CHECK(root->callattr("apply", {Value(doubler), Value(21)}, {}) == Value(42));
  CHECK(seen == 21);
  // The callback's result converts back to the std::function's result type.
  ObjectPtr wrong = local([](std::int64_t) { return std::string("no"); });
  CHECK(conversion_error_of([&] { root->callattr("apply", {Value(wrong), Value(1)}, {}); }) == "expected int, got str");
  CHECK(type_error_of([&] { root->callattr("apply", {Value(3), Value(1)}, {}); })
            .find("argument 1: expected Callable[[int], int], got int") != std::string::npos);
}

TEST_CASE("netref::local wraps lambdas with conversions, and exposed objects with their registry") {
  ObjectPtr concat = local([](const std::string& a, std::string_view b) { return a + std::string(b); });
  CHECK(concat->call({Value("ab"), Value("cd")}, {}) == Value("abcd"));
  CHECK(concat->repr() == "<built-in function <lambda>>");
  CHECK(type_error_of([&] { concat->call({Value(1), Value("cd")}, {}); })
            .find("<lambda>(str, str) -> str") != std::string::npos);

  Registry types = counter_types();
  auto counter = std::make_shared<Counter>();
  ObjectPtr obj = local(counter, types);
  obj->callattr("add", {Value(2)}, {});
  CHECK(counter->value == 2);
  ObjectPtr maker = local([] { return std::make_shared<Counter>(Counter{7}); }, types);
  Value made = maker->call({}, {});
  REQUIRE(made.get_if<ObjectPtr>());
  CHECK((*made.get_if<ObjectPtr>())->getattr("value") == Value(7));
  CHECK_THROWS_AS(local([] { return std::make_shared<Counter>(); })->call({}, {}), ConversionError);
}

TEST_CASE("a std::function result is lent as a callable") {
  Service svc;
  svc.def("adder", [](std::int64_t n) { return std::function<std::int64_t(std::int64_t)>([n](std::int64_t x) { return x + n; }); });
  Value fn = svc.root_object()->callattr("adder", {Value(10)}, {});
  CHECK(call_value(fn, {Value(5)}) == Value(15));
}

TEST_CASE("a default Service exposes nothing but rpyc's service name and aliases, and lends a root all the same") {
  Service void_service;
  ObjectPtr root = void_service.root_object();
  REQUIRE(root);
  CHECK(root->dir() == std::vector<std::string>{"get_service_name", "get_service_aliases"});
  CHECK(root->callattr("get_service_name", {}, {}) == Value("SERVICE"));
  CHECK_THROWS_AS(root->getattr("anything"), AttributeError);
  CHECK(root->repr() == "<netref.Service object>");
}

TEST_CASE("the root object outlives the Service handle it came from") {
  ObjectPtr root;
  {
    Service svc(Registry(), "Calc");
    svc.def("one", [] { return 1; });
    root = svc.root_object();
  }
  CHECK(root->type_name() == "Calc");
  CHECK(root->callattr("one", {}, {}) == Value(1));
}

TEST_CASE("inspect of the root lists each function once with all its overloads") {
  Registry types;
  Service calc = make_calc(types);
  auto methods = calc.root_object()->inspect();
  bool found = false;
  for (const auto& [name, doc] : methods) {
    if (name == "describe") {
      found = true;
      CHECK(doc == "describe(int) -> str\ndescribe(str) -> str\ndescribe(list[int]) -> str");
    }
    CHECK(name != "version");  // attributes are not methods
  }
  CHECK(found);
}
