// How `netref call` prints results: Python's repr() and JSON, escaping included.
#include <doctest/doctest.h>

#include <complex>
#include <cstdint>
#include <limits>
#include <string>

#include "value_text.hpp"

using namespace netref;
using namespace netref::cli;

TEST_CASE("scalars print as Python's repr") {
  CHECK(python_repr(Value()) == "None");
  CHECK(python_repr(Value(true)) == "True");
  CHECK(python_repr(Value(false)) == "False");
  CHECK(python_repr(Value(15)) == "15");
  CHECK(python_repr(Value(std::numeric_limits<std::int64_t>::min())) == "-9223372036854775808");
  CHECK(python_repr(Value(BigInt{"-123456789012345678901234567890"})) == "-123456789012345678901234567890");
  CHECK(python_repr(Value(netref::Ellipsis{})) == "Ellipsis");
}

TEST_CASE("floats print as Python's repr: shortest digits, .0, exponent outside 1e-4..1e16") {
  CHECK(python_float(2.5) == "2.5");
  CHECK(python_float(15.0) == "15.0");
  CHECK(python_float(-0.0) == "-0.0");
  CHECK(python_float(0.1) == "0.1");
  CHECK(python_float(0.0001) == "0.0001");
  CHECK(python_float(0.00001) == "1e-05");
  CHECK(python_float(1e15) == "1000000000000000.0");
  CHECK(python_float(1e16) == "1e+16");
  CHECK(python_float(1.5e300) == "1.5e+300");
  CHECK(python_float(123456.789) == "123456.789");
  CHECK(python_float(std::numeric_limits<double>::infinity()) == "inf");
  CHECK(python_float(-std::numeric_limits<double>::infinity()) == "-inf");
  CHECK(python_float(std::numeric_limits<double>::quiet_NaN()) == "nan");
}

TEST_CASE("complex numbers print as Python's repr") {
  CHECK(python_repr(Value(std::complex<double>(0, 2))) == "2j");
  CHECK(python_repr(Value(std::complex<double>(1, 2))) == "(1+2j)");
  CHECK(python_repr(Value(std::complex<double>(1.5, -0.5))) == "(1.5-0.5j)");
}

TEST_CASE("str repr picks its quote and escapes what Python escapes") {
  CHECK(python_repr(Value("hello")) == "'hello'");
  CHECK(python_repr(Value("it's")) == "\"it's\"");
  CHECK(python_repr(Value("it's \"x\"")) == "'it\\'s \"x\"'");
  CHECK(python_repr(Value("a\\b\n\t\r\x01\x7f")) == "'a\\\\b\\n\\t\\r\\x01\\x7f'");
  CHECK(python_repr(Value("caf\xc3\xa9")) == "'caf\xc3\xa9'");
  CHECK(python_repr(Value("\xc2\x85")) == "'\\x85'");       // U+0085 is not printable
  CHECK(python_repr(Value("bad\xff")) == "'bad\\xff'");     // not UTF-8: the byte is shown
}

TEST_CASE("bytes repr shows printable ASCII and escapes the rest") {
  CHECK(python_repr(Value(Bytes{std::string("\x00\xff" "ab'", 5)})) == "b\"\\x00\\xffab'\"");
  CHECK(python_repr(Value(Bytes{"\n"})) == "b'\\n'");
}

TEST_CASE("containers print as Python's repr, one-tuples with their comma") {
  CHECK(python_repr(tuple_of()) == "()");
  CHECK(python_repr(tuple_of(1)) == "(1,)");
  CHECK(python_repr(tuple_of(1, "a", tuple_of(2.5, Value()))) == "(1, 'a', (2.5, None))");
  CHECK(python_repr(Value(FrozenSet{})) == "frozenset()");
  CHECK(python_repr(Value(FrozenSet{{Value(1), Value(2)}})) == "frozenset({1, 2})");
  CHECK(python_repr(Value(Slice{{Value(1), Value(), Value(2)}})) == "slice(1, None, 2)");
}

TEST_CASE("JSON strings escape quotes, backslashes and control characters and keep UTF-8") {
  CHECK(json_string("plain") == "\"plain\"");
  CHECK(json_string("q\"b\\") == "\"q\\\"b\\\\\"");
  CHECK(json_string("\n\r\t\b\f") == "\"\\n\\r\\t\\b\\f\"");
  CHECK(json_string(std::string("\x00\x1f", 2)) == "\"\\u0000\\u001f\"");
  CHECK(json_string("caf\xc3\xa9 \xf0\x9f\x98\x80") == "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"");
  CHECK(json_string("bad\xff\xc3") == "\"bad\\ufffd\\ufffd\"");
  CHECK(json_string("\xed\xa0\x80") == "\"\\ufffd\\ufffd\\ufffd\"");  // an encoded surrogate is not UTF-8
}

TEST_CASE("values as JSON") {
  CHECK(to_json(Value()) == "null");
  CHECK(to_json(Value(true)) == "true");
  CHECK(to_json(Value(15)) == "15");
  CHECK(to_json(Value(BigInt{"123456789012345678901234567890"})) == "123456789012345678901234567890");
  CHECK(to_json(Value(2.5)) == "2.5");
  CHECK(to_json(Value(1e20)) == "1e+20");
  CHECK(to_json(Value(std::numeric_limits<double>::quiet_NaN())) == "null");
  CHECK(to_json(Value(std::complex<double>(1, -2))) == "{\"real\": 1.0, \"imag\": -2.0}");
  CHECK(to_json(tuple_of(1, "a", tuple_of())) == "[1, \"a\", []]");
}

TEST_CASE("bytes as JSON are base64, padded") {
  CHECK(to_json(Value(Bytes{""})) == "\"\"");
  CHECK(to_json(Value(Bytes{"f"})) == "\"Zg==\"");
  CHECK(to_json(Value(Bytes{"fo"})) == "\"Zm8=\"");
  CHECK(to_json(Value(Bytes{"foo"})) == "\"Zm9v\"");
  CHECK(to_json(Value(Bytes{std::string("\x00\xff\xfe\x01", 4)})) == "\"AP/+AQ==\"");
}
