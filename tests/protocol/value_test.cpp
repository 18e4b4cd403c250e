// Value's type names and debug rendering.
#include "netref/protocol/value.hpp"

#include <doctest/doctest.h>

#include <limits>
#include <string>

using namespace netref;

TEST_CASE("each kind has its Python type name") {
  CHECK(Value().type_name() == "NoneType");
  CHECK(Value(true).type_name() == "bool");
  CHECK(Value(3).type_name() == "int");
  CHECK(Value(BigInt{"18446744073709551616"}).type_name() == "int");
  CHECK(Value(1.5).type_name() == "float");
  CHECK(Value(std::complex<double>(1, 2)).type_name() == "complex");
  CHECK(Value(Bytes{"x"}).type_name() == "bytes");
  CHECK(Value("x").type_name() == "str");
  CHECK(Value(Tuple{}).type_name() == "tuple");
  CHECK(Value(FrozenSet{}).type_name() == "frozenset");
  CHECK(Value(Slice{{Value(), Value(), Value()}}).type_name() == "slice");
  CHECK(Value(Ellipsis{}).type_name() == "ellipsis");
  CHECK(Value(NotImplemented{}).type_name() == "NotImplementedType");
  CHECK(Value(ObjectPtr{}).type_name() == "object");
  CHECK(Value(RemoteRefPtr{}).type_name() == "netref");
}

TEST_CASE("debug_string renders values the way Python's repr would") {
  CHECK(Value().debug_string() == "None");
  CHECK(Value(false).debug_string() == "False");
  CHECK(Value(-42).debug_string() == "-42");
  CHECK(Value(std::numeric_limits<std::int64_t>::min()).debug_string() == "-9223372036854775808");
  CHECK(Value(BigInt{"-18446744073709551616"}).debug_string() == "-18446744073709551616");
  CHECK(Value(1.0).debug_string() == "1.0");
  CHECK(Value(0.1).debug_string() == "0.1");
  CHECK(Value(-std::numeric_limits<double>::infinity()).debug_string() == "-inf");
  CHECK(Value(std::numeric_limits<double>::quiet_NaN()).debug_string() == "nan");
  CHECK(Value(std::complex<double>(1, -2)).debug_string() == "(1.0-2.0j)");
  CHECK(Value(std::complex<double>(1, 2)).debug_string() == "(1.0+2.0j)");
  CHECK(Value("it's").debug_string() == "'it\\'s'");
  CHECK(Value(Bytes{std::string("\x00\xff"
                                "a",
                                3)})
            .debug_string() == "b'\\x00\\xffa'");
  CHECK(tuple_of(1).debug_string() == "(1,)");
  CHECK(tuple_of(1, "a", tuple_of()).debug_string() == "(1, 'a', ())");
  CHECK(Value(FrozenSet{}).debug_string() == "frozenset()");
  CHECK(Value(FrozenSet{{Value(5)}}).debug_string() == "frozenset({5})");
  CHECK(Value(Slice{{Value(), Value(5), Value()}}).debug_string() == "slice(None, 5, None)");
  CHECK(Value(Ellipsis{}).debug_string() == "Ellipsis");
  CHECK(Value(NotImplemented{}).debug_string() == "NotImplemented");
}

TEST_CASE("debug_string never dereferences a reference") {
  // Null pointers: any dereference would crash.
  CHECK(tuple_of(ObjectPtr{}, RemoteRefPtr{}).debug_string() == "(<local object>, <netref>)");
}

TEST_CASE("debug_string escapes control characters and non-ASCII text") {
  CHECK(Value("a\nb\tc\r\x01\x7f\\").debug_string() == "'a\\nb\\tc\\r\\x01\\x7f\\\\'");
  CHECK(Value("h\u00e9\u2603\U0001F600").debug_string() == "'h\\u00e9\\u2603\\U0001f600'");
  // Invalid UTF-8 in a str (a locally built value) shows as raw bytes.
  CHECK(Value(std::string("a\xff\xc3")).debug_string() == "'a\\xff\\xc3'");
  CHECK(Value(std::string("\xed\xa0\x80")).debug_string() == "'\\xed\\xa0\\x80'");
  std::string out = Value(std::string("\x1b[31m\x00", 6)).debug_string();
  for (char c : out) CHECK((c >= 0x20 && c < 0x7f));
}

TEST_CASE("debug_string stays within max_chars however big the value") {
  Tuple big;
  for (int i = 0; i < 100000; ++i) big.items.emplace_back(i);
  Value v(std::move(big));
  std::string s = v.debug_string(50);
  CHECK(s.size() == 50);
  CHECK(s.substr(0, 10) == "(0, 1, 2, ");
  CHECK(s.substr(47) == "...");
  CHECK(v.debug_string(0).empty());
  CHECK(v.debug_string(2) == "(0");
  CHECK(Value("abc").debug_string(5) == "'abc'");  // exactly the limit: not cut
  CHECK(Value("abcd").debug_string(5) == "'a...");
  CHECK(Value(std::string(1 << 20, 'x')).debug_string().size() == 200);
}

TEST_CASE("debug_string of a very deep value is bounded and does not overflow the stack") {
  Value v;
  for (int i = 0; i < 1000; ++i) v = tuple_of(std::move(v));  // deep, yet destructible on a sanitizer stack
  std::string s = v.debug_string(std::numeric_limits<std::size_t>::max());
  CHECK(s.size() < 200);
  CHECK(s.find("(...)") != std::string::npos);
}

TEST_CASE("values compare by content and copies are deep") {
  Value a = tuple_of(1, tuple_of("x"));
  Value b = a;
  CHECK(a == b);
  b.get_if<Tuple>()->items[0] = 2;
  CHECK_FALSE(a == b);
  CHECK_FALSE(Value(1) == Value(true));
  CHECK_FALSE(Value(BigInt{"1"}) == Value(1));
}
