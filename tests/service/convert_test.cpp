// Converter<T>: every built-in conversion, both directions, and the errors that name what
// did not fit.
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "netref/service/convert.hpp"
#include "netref/service/registry.hpp"
#include "service/error_of.hpp"

using namespace netref;

namespace {

using netref::test::attribute_error_of;
using netref::test::conversion_error_of;

const ConvertContext no_ctx{};

template <class T>
T from(const Value& v) {
  return Converter<T>::from_value(v, no_ctx);
}
template <class T>
Value to(T&& x) {
  return detail::to_value_of(std::forward<T>(x), no_ctx);
}
template <class... Ts>
Value tup(Ts&&... xs) {
  return tuple_of(std::forward<Ts>(xs)...);
}


enum class Color : std::int32_t { red = 1, green = 2 };

struct Point {
  std::int32_t x = 0;
  std::int32_t y = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(CEREAL_NVP(x), CEREAL_NVP(y));
  }
  friend bool operator==(const Point&, const Point&) = default;
};

struct Shape {
  std::string name;
  Point origin;
  std::vector<Point> points;
  std::optional<std::int64_t> tag;
  std::map<std::string, double> weights;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(name, cereal::make_nvp("origin", origin), points, tag, weights);
  }
  friend bool operator==(const Shape&, const Shape&) = default;
};

namespace geo {
// A free serialize found by ADL, and a save/load pair.
struct Range {
  double lo = 0, hi = 0;
  friend bool operator==(const Range&, const Range&) = default;
};
template <class Archive>
void serialize(Archive& ar, Range& r) {
  ar(r.lo, r.hi);
}
class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string s) : text_(std::move(s)) {}
  const std::string& text() const { return text_; }

 private:
  friend class cereal::access;
  template <class Archive>
  void save(Archive& ar) const {
    ar(text_, static_cast<std::int64_t>(text_.size()));
  }
  template <class Archive>
  void load(Archive& ar) {
    std::int64_t n = 0;
    ar(text_, n);
  }
  std::string text_;
};
struct Derived : Range {
  std::string label;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(cereal::base_class<Range>(this), label);
  }
};
}  // namespace geo

}  // namespace

TEST_CASE("an int64 that fits converts to every integer type, one that does not names the target") {
  CHECK(from<std::uint8_t>(Value(255)) == 255);
  CHECK(from<std::int8_t>(Value(-128)) == -128);
  CHECK(from<std::int16_t>(Value(-300)) == -300);
  CHECK(from<std::uint32_t>(Value(std::int64_t{4000000000})) == 4000000000u);
  CHECK(from<long long>(Value(std::int64_t{-5})) == -5);
  CHECK(conversion_error_of([] { from<std::uint8_t>(Value(300)); }) == "int 300 does not fit in uint8");
  CHECK(conversion_error_of([] { from<std::uint16_t>(Value(-1)); }) == "int -1 does not fit in uint16");
  CHECK(conversion_error_of([] { from<std::int32_t>(Value(std::int64_t{1} << 40)); }).find("int32") != std::string::npos);
}

TEST_CASE("Python's bool is an int, but an int is not a bool and a float is not an int") {
  CHECK(from<int>(Value(true)) == 1);
  CHECK(from<bool>(Value(true)) == true);
  CHECK(conversion_error_of([] { from<bool>(Value(1)); }) == "expected bool, got int");
  CHECK(conversion_error_of([] { from<int>(Value(1.5)); }) == "expected int, got float");
  CHECK(conversion_error_of([] { from<int>(Value("7")); }) == "expected int, got str");
}

TEST_CASE("integers beyond int64 travel as BigInt and convert back only where they fit") {
  const auto max = std::numeric_limits<std::uint64_t>::max();
  Value big = to(max);
  REQUIRE(big.get_if<BigInt>() != nullptr);
  CHECK(big.get_if<BigInt>()->digits == "18446744073709551615");
  CHECK(from<std::uint64_t>(big) == max);
  CHECK(to(std::uint64_t{5}) == Value(5));
  CHECK(conversion_error_of([&] { from<std::int64_t>(big); }).find("does not fit in int64") != std::string::npos);
  CHECK(conversion_error_of([] { from<std::uint64_t>(Value(BigInt{"18446744073709551616"})); })
            .find("does not fit in uint64") != std::string::npos);
  CHECK(from<double>(Value(BigInt{"100000000000000000000"})) == doctest::Approx(1e20));
}

TEST_CASE("floats accept ints and bools, and complex accepts any number") {
  CHECK(from<double>(Value(2)) == 2.0);
  CHECK(from<float>(Value(0.5)) == 0.5f);
  CHECK(to(1.25) == Value(1.25));
  CHECK(conversion_error_of([] { from<double>(Value("x")); }) == "expected float, got str");
  CHECK(from<std::complex<double>>(Value(std::complex<double>(1, 2))) == std::complex<double>(1, 2));
  CHECK(from<std::complex<double>>(Value(3)) == std::complex<double>(3, 0));
  CHECK(to(std::complex<float>(1, -1)) == Value(std::complex<double>(1, -1)));
}

TEST_CASE("strings are str only, and bytes are bytes only") {
  CHECK(from<std::string>(Value("héllo")) == "héllo");
  CHECK(from<std::string_view>(Value("abc")) == "abc");
  CHECK(to(std::string("x")) == Value("x"));
  CHECK(to("lit") == Value("lit"));
  CHECK(to(static_cast<const char*>(nullptr)).is_none());
  CHECK(conversion_error_of([] { from<std::string>(Value(Bytes{"b"})); }) == "expected str, got bytes");
  CHECK(from<Bytes>(Value(Bytes{"\x01\x02"})) == Bytes{"\x01\x02"});
  CHECK(from<std::vector<std::uint8_t>>(Value(Bytes{"\x01\xff"})) == std::vector<std::uint8_t>{1, 255});
  CHECK(to(std::vector<std::uint8_t>{65, 66}) == Value(Bytes{"AB"}));
  CHECK(conversion_error_of([] { from<Bytes>(Value("s")); }) == "expected bytes, got str");
  CHECK(from<char>(Value("q")) == 'q');
  CHECK(conversion_error_of([] { from<char>(Value("qq")); }) == "expected str of length 1, got str");
}

TEST_CASE("enums travel as their integer value") {
  CHECK(to(Color::green) == Value(2));
  CHECK(from<Color>(Value(1)) == Color::red);
  CHECK(Converter<Color>::type_name() == "int");
}

TEST_CASE("sequences go out as tuples and come back from tuples and frozensets") {
  CHECK(to(std::vector<int>{1, 2, 3}) == tup(1, 2, 3));
  CHECK(to(std::list<std::string>{"a"}) == tup("a"));
  CHECK(to(std::vector<bool>{true, false}) == tup(true, false));
  CHECK(from<std::vector<std::int64_t>>(tup(1, 2)) == std::vector<std::int64_t>{1, 2});
  CHECK(from<std::set<int>>(Value(FrozenSet{{Value(3), Value(1)}})) == std::set<int>{1, 3});
  CHECK(from<std::deque<double>>(tup(1, 2.5)) == std::deque<double>{1.0, 2.5});
  CHECK(conversion_error_of([] { from<std::vector<int>>(Value("abc")); }) == "expected list[int], got str");
  CHECK(conversion_error_of([] { from<std::vector<int>>(tup(1, "x")); }) == "item 1: expected int, got str");
  CHECK(Converter<std::vector<std::string>>::type_name() == "list[str]");
}

TEST_CASE("maps go out as tuples of pairs and come back from them") {
  std::map<std::string, int> m{{"a", 1}, {"b", 2}};
  CHECK(to(m) == tup(tup("a", 1), tup("b", 2)));
  CHECK(from<std::map<std::string, int>>(tup(tup("a", 1), tup("b", 2))) == m);
  auto u = from<std::unordered_map<int, std::string>>(tup(tup(1, "x")));
  CHECK(u.at(1) == "x");
  CHECK(conversion_error_of([] { from<std::map<std::string, int>>(tup(tup("a", 1, 2))); })
            .find("item 0: expected (key, value) pair") != std::string::npos);
  CHECK(Converter<std::map<std::string, std::vector<int>>>::type_name() == "dict[str, list[int]]");
}

TEST_CASE("nested containers nest") {
  std::map<std::string, std::vector<std::pair<int, std::string>>> m{{"k", {{1, "one"}, {2, "two"}}}};
  Value v = to(m);
  CHECK(v == tup(tup("k", tup(tup(1, "one"), tup(2, "two")))));
  CHECK(from<decltype(m)>(v) == m);
  std::vector<std::vector<int>> vv{{1}, {}, {2, 3}};
  CHECK(from<decltype(vv)>(to(vv)) == vv);
}

TEST_CASE("tuples, pairs and arrays need exactly their number of items") {
  CHECK(to(std::tuple<int, std::string, double>{1, "a", 0.5}) == tup(1, "a", 0.5));
  CHECK(from<std::pair<int, std::string>>(tup(1, "a")) == std::pair<int, std::string>{1, "a"});
  CHECK(from<std::array<int, 2>>(tup(4, 5)) == std::array<int, 2>{4, 5});
  CHECK(conversion_error_of([] { from<std::array<int, 2>>(tup(4)); }).find("of 2 items, got 1") != std::string::npos);
  CHECK(conversion_error_of([] { from<std::tuple<int, int>>(tup(1, 2, 3)); }).find("tuple of 3") != std::string::npos);
}

TEST_CASE("optional maps None to nullopt, variant takes the first alternative that fits") {
  CHECK(from<std::optional<int>>(Value()) == std::nullopt);
  CHECK(from<std::optional<int>>(Value(4)) == 4);
  CHECK(to(std::optional<std::string>()).is_none());
  CHECK(to(std::optional<std::string>("s")) == Value("s"));
  using V = std::variant<std::int64_t, std::string>;
  CHECK(std::get<std::string>(from<V>(Value("s"))) == "s");
  CHECK(std::get<std::int64_t>(from<V>(Value(3))) == 3);
  CHECK(to(V{std::string("z")}) == Value("z"));
  CHECK(conversion_error_of([] { from<V>(Value(1.5)); }) == "expected Union[int, str], got float");
}

TEST_CASE("Value passes through, and ObjectPtr and RemoteRefPtr accept only their own kind or None") {
  Value v = tup(1, "a");
  CHECK(from<Value>(v) == v);
  CHECK(from<ObjectPtr>(Value()) == nullptr);
  CHECK(from<RemoteRefPtr>(Value()) == nullptr);
  CHECK(conversion_error_of([] { from<ObjectPtr>(Value(1)); }) == "expected local object, got int");
  CHECK(conversion_error_of([] { from<RemoteRefPtr>(Value("x")); }) == "expected netref, got str");
}

TEST_CASE("a cereal struct with a nested struct and a vector member is a tuple of its fields") {
  Shape s{"tri", {1, 2}, {{0, 0}, {3, 4}}, std::nullopt, {{"w", 0.5}}};
  Value v = to(s);
  CHECK(v == tup("tri", tup(1, 2), tup(tup(0, 0), tup(3, 4)), Value(), tup(tup("w", 0.5))));
  CHECK(from<Shape>(v) == s);
  s.tag = 7;
  CHECK(from<Shape>(to(s)) == s);
  CHECK(Converter<Point>::lends_by_reference == false);
}

TEST_CASE("a cereal struct that does not fit names the field that failed") {
  CHECK(conversion_error_of([] { from<Point>(tup(1, "two")); }) == "Point: field 1: expected int, got str");
  CHECK(conversion_error_of([] { from<Point>(tup(1)); }).find("expected more than 1 fields") != std::string::npos);
  CHECK(conversion_error_of([] { from<Point>(tup(1, 2, 3)); }) == "Point: expected 2 fields, got 3");
  CHECK(conversion_error_of([] { from<Shape>(tup("n", tup(1, "y"), tup(), Value(), tup())); }) ==
        "Shape: field 1: Point: field 1: expected int, got str");
  CHECK(conversion_error_of([] { from<Point>(Value(5)); }) == "expected Point, got int");
}

TEST_CASE("free serialize, private save/load and base classes work like member serialize") {
  CHECK(to(geo::Range{1, 2}) == tup(1.0, 2.0));
  CHECK(from<geo::Range>(tup(0.5, 1)) == geo::Range{0.5, 1.0});
  CHECK(to(geo::Secret("abc")) == tup("abc", 3));
  CHECK(from<geo::Secret>(tup("xy", 2)).text() == "xy");
  geo::Derived d;
  d.lo = 1;
  d.hi = 2;
  d.label = "L";
  CHECK(to(d) == tup(1.0, 2.0, "L"));
  auto back = from<geo::Derived>(tup(3.0, 4.0, "M"));
  CHECK(back.lo == 3.0);
  CHECK(back.hi == 4.0);
  CHECK(back.label == "M");
}

TEST_CASE("an exposed type does not convert without a registry or without being exposed") {
  struct Opaque {
    int x = 0;
  };
  CHECK(Converter<Opaque>::lends_by_reference);
  CHECK(conversion_error_of([] { to(std::make_shared<Opaque>()); }).find("no Registry") != std::string::npos);
  Registry types;
  const ConvertContext ctx{&types, nullptr};
  CHECK(conversion_error_of([&] { Converter<std::shared_ptr<Opaque>>::to_value(std::make_shared<Opaque>(), ctx); })
            .find("not exposed") != std::string::npos);
  CHECK(Converter<std::shared_ptr<Opaque>>::to_value(nullptr, ctx).is_none());
}
