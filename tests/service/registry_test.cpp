// Exposed classes: what a peer can reach through def, def_readonly, def_readwrite and
// def_property, and what it cannot.
#include <doctest/doctest.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
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
  std::string label = "c";
  const std::int64_t id = 42;
  std::int64_t add(std::int64_t n) { return value += n; }
  std::int64_t get() const { return value; }
  void set(std::int64_t v) { value = v; }
  Counter& self() { return *this; }
};

struct Wrapper {
  Counter inner;
};

struct Sequence {
  std::vector<std::int64_t> items;
};
struct SequenceIterator {
  std::shared_ptr<Sequence> seq;
  std::size_t next = 0;
};


Registry counter_types() {
  Registry types;
  types.expose<Counter>("Counter")
      .def("add", &Counter::add, arg("n") = 1)
      .def("self", &Counter::self)
      .def("clone", [](const Counter& c) { return std::make_shared<Counter>(c); })
      .def("__len__", [](const Counter& c) { return c.value; })
      .def("__repr__", [](const Counter& c) { return "Counter(" + std::to_string(c.value) + ")"; })
      .def_readwrite("value", &Counter::value)
      .def_readwrite("label", &Counter::label)
      .def_readonly("id", &Counter::id)
      .def_property("prop", &Counter::get, &Counter::set)
      .def_property("doubled", [](const Counter& c) { return c.value * 2; });
  types.expose<Wrapper>("Wrapper").def_readonly("inner", &Wrapper::inner);
  return types;
}

}  // namespace

TEST_CASE("a method called by name converts its arguments and its result") {
  Registry types = counter_types();
  auto counter = std::make_shared<Counter>();
  ObjectPtr obj = types.lend(counter);
  REQUIRE(obj);
  CHECK(obj->type_name() == "Counter");
  CHECK(obj->callattr("add", {Value(5)}, {}) == Value(5));
  CHECK(obj->callattr("add", {}, {}) == Value(6));  // default n = 1
  CHECK(counter->value == 6);                       // the same C++ object
  CHECK_THROWS_AS(obj->callattr("exposed_add", {Value(4)}, {}), AttributeError);  // the connection strips it
}

TEST_CASE("getattr of a method returns a callable bound method") {
  Registry types = counter_types();
  auto counter = std::make_shared<Counter>();
  ObjectPtr obj = types.lend(counter);
  Value method = obj->getattr("add");
  auto* fn = method.get_if<ObjectPtr>();
  REQUIRE(fn);
  CHECK((*fn)->type_name() == "builtins.builtin_function_or_method");
  CHECK((*fn)->call({Value(3)}, {}) == Value(3));
  CHECK(call_value(method, {Value(2)}) == Value(5));
  CHECK(counter->value == 5);
  CHECK((*fn)->repr() == "<built-in method add of Counter object>");
  CHECK((*fn)->getattr("__doc__") == Value("add(n: int = 1) -> int"));
}

TEST_CASE("readwrite fields read and assign, readonly fields and getter-only properties refuse") {
  Registry types = counter_types();
  auto counter = std::make_shared<Counter>();
  ObjectPtr obj = types.lend(counter);
  obj->setattr("value", Value(7));
  CHECK(counter->value == 7);
  CHECK(obj->getattr("value") == Value(7));
  obj->setattr("label", Value("x"));
  CHECK(counter->label == "x");
  CHECK(obj->getattr("id") == Value(42));
  CHECK(attribute_error_of([&] { obj->setattr("id", Value(1)); }) == "attribute 'id' of 'Counter' is read-only");
  CHECK(attribute_error_of([&] { obj->setattr("doubled", Value(1)); }) ==
        "attribute 'doubled' of 'Counter' is read-only");
  CHECK(attribute_error_of([&] { obj->setattr("add", Value(1)); }) == "attribute 'add' of 'Counter' is read-only");
  CHECK(conversion_error_of([&] { obj->setattr("value", Value("seven")); }) ==
        "cannot set 'value' of 'Counter': argument 1: expected int, got str");
  CHECK(counter->value == 7);
}

TEST_CASE("properties run their getter and setter, member functions or lambdas") {
  Registry types = counter_types();
  auto counter = std::make_shared<Counter>();
  ObjectPtr obj = types.lend(counter);
  obj->setattr("prop", Value(21));
  CHECK(counter->value == 21);
  CHECK(obj->getattr("prop") == Value(21));
  CHECK(obj->getattr("doubled") == Value(42));
}

TEST_CASE("names nobody exposed are denied, and nothing can be deleted") {
  Registry types = counter_types();
  ObjectPtr obj = types.lend(std::make_shared<Counter>());
  CHECK(attribute_error_of([&] { obj->getattr("foo"); }) == "'Counter' object has no exposed attribute 'foo'");
  CHECK(attribute_error_of([&] { obj->callattr("get", {}, {}); }) ==
        "'Counter' object has no exposed attribute 'get'");
  for (const std::string& name : std::vector<std::string>{"__dict__", "_private", "", "exposed_", "a.b", std::string("ad\0d", 4)}) {
    CAPTURE(name);
    CHECK_THROWS_AS(obj->getattr(name), AttributeError);
    CHECK_THROWS_AS(obj->setattr(name, Value(1)), AttributeError);
    CHECK_THROWS_AS(obj->callattr(name, {}, {}), AttributeError);
  }
  CHECK(attribute_error_of([&] { obj->getattr(std::string("\xff\x00", 2)); }) ==
        "'Counter' object has no exposed attribute '\\xff\\x00'");
  const std::string huge(1 << 20, 'x');
  CHECK(attribute_error_of([&] { obj->getattr(huge); }).size() < 200);
  CHECK(attribute_error_of([&] { obj->delattr("value"); }) == "attribute 'value' of 'Counter' cannot be deleted");
  CHECK_THROWS_AS(obj->delattr("nope"), AttributeError);
}

TEST_CASE("dir lists every exposed name, and inspect lists methods with their signatures") {
  Registry types = counter_types();
  ObjectPtr obj = types.lend(std::make_shared<Counter>());
  auto names = obj->dir();
  CHECK(names == std::vector<std::string>{"add", "self", "clone", "__len__", "__repr__", "value", "label", "id",
                                          "prop", "doubled"});
  auto methods = obj->inspect();
  REQUIRE(methods.size() == 5 + 14);  // and the binary operators Counter lacks, refused when asked
  CHECK(methods[0] == MethodInfo{"add", "add(n: int = 1) -> int"});
  CHECK(methods[1] == MethodInfo{"self", "self() -> Counter"});
  CHECK(methods[3].first == "__len__");
}

TEST_CASE("dunders defined with def drive repr, len and friends, and undefined ones keep defaults") {
  Registry types = counter_types();
  auto counter = std::make_shared<Counter>();
  counter->value = 3;
  ObjectPtr obj = types.lend(counter);
  CHECK(obj->repr() == "Counter(3)");
  CHECK(obj->str() == "Counter(3)");
  CHECK(obj->callattr("__len__", {}, {}) == Value(3));
  CHECK(type_error_of([&] { obj->call({}, {}); }) == "'Counter' object is not callable");
  CHECK(type_error_of([&] { obj->next_items(1); }) == "'Counter' object is not an iterator");

  types.expose<Wrapper>("Wrapper");
  ObjectPtr w = types.lend(std::make_shared<Wrapper>());
  CHECK(w->repr() == "<Wrapper object>");
}

TEST_CASE("a shared_ptr result is lent as an object wrapping the same C++ instance") {
  Registry types = counter_types();
  auto counter = std::make_shared<Counter>();
  ObjectPtr obj = types.lend(counter);
  Value clone = obj->callattr("clone", {}, {});
  REQUIRE(clone.get_if<ObjectPtr>());
  const ConvertContext ctx{&types, nullptr};
  auto clone_ptr = Converter<std::shared_ptr<Counter>>::from_value(clone, ctx);
  REQUIRE(clone_ptr);
  CHECK(clone_ptr != counter);
  (*clone.get_if<ObjectPtr>())->callattr("add", {Value(9)}, {});
  CHECK(clone_ptr->value == 9);  // mutations through the object land in the instance
  CHECK(counter->value == 0);
}

TEST_CASE("a reference result is lent as the same instance, kept alive by its owner") {
  Registry types = counter_types();
  auto counter = std::make_shared<Counter>();
  ObjectPtr obj = types.lend(counter);
  Value same = obj->callattr("self", {}, {});
  CHECK(obj->compare("__eq__", same) == Value(true));
  CHECK(obj->compare("__ne__", same) == Value(false));
  CHECK(obj->compare("__eq__", obj->callattr("clone", {}, {})) == Value(false));
  CHECK(obj->compare("__lt__", same) == Value(NotImplemented{}));

  auto wrapper = std::make_shared<Wrapper>();
  Value inner = types.lend(wrapper)->getattr("inner");
  std::weak_ptr<Wrapper> weak = wrapper;
  wrapper.reset();
  CHECK_FALSE(weak.expired());  // the lent member keeps its parent alive
  (*inner.get_if<ObjectPtr>())->setattr("value", Value(8));
  CHECK(weak.lock()->inner.value == 8);
  inner = Value();
  CHECK(weak.expired());
}

TEST_CASE("an iterator type defined with __next__ serves next_items until StopIteration") {
  Registry types;
  types.expose<SequenceIterator>("SequenceIterator")
      .def("__next__", [](SequenceIterator& it) {
        if (it.next >= it.seq->items.size()) throw StopIteration();
        return it.seq->items[it.next++];
      });
  types.expose<Sequence>("Sequence")
      .def("__iter__", [](const std::shared_ptr<Sequence>& s) { return std::make_shared<SequenceIterator>(SequenceIterator{s}); });
  auto seq = std::make_shared<Sequence>(Sequence{{1, 2, 3}});
  ObjectPtr it = std::get<ObjectPtr>(types.lend(seq)->callattr("__iter__", {}, {}).storage());
  auto first = it->next_items(2);
  CHECK(first == std::vector<Value>{Value(1), Value(2)});
  CHECK(it->next_items(5) == std::vector<Value>{Value(3)});
  CHECK(it->next_items(5).empty());

  // A container parameter accepts such an iterable local object.
  const ConvertContext ctx{&types, nullptr};
  CHECK(Converter<std::vector<int>>::from_value(Value(types.lend(seq)), ctx) == std::vector<int>{1, 2, 3});
}

TEST_CASE("exposing a type twice under another name, or two types under one name, is refused") {
  Registry types = counter_types();
  CHECK_NOTHROW(types.expose<Counter>("Counter").def("get", &Counter::get));
  CHECK_THROWS_AS(types.expose<Counter>("Other"), std::logic_error);
  struct Another {};
  CHECK_THROWS_AS(types.expose<Another>("Counter"), std::logic_error);
  CHECK(types.exposes<Counter>());
  CHECK_FALSE(types.exposes<Another>());
  CHECK(types.exposed_name(typeid(Counter)) == "Counter");
  CHECK_THROWS_AS(types.expose<Counter>("Counter").def("add2", &Counter::add, arg("a"), arg("b")), std::invalid_argument);
  CHECK_THROWS_AS(types.expose<Counter>("Counter").def_readonly("add", &Counter::value), std::logic_error);
}

TEST_CASE("copies of a Registry share bindings, and lent objects outlive the Registry") {
  ObjectPtr obj;
  {
    Registry types;
    Registry copy = types;
    copy.expose<Counter>("Counter").def("add", &Counter::add);
    CHECK(types.exposes<Counter>());
    obj = types.lend(std::make_shared<Counter>());
  }
  CHECK(obj->callattr("add", {Value(2)}, {}) == Value(2));
}
