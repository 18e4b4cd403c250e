// The expression parser of `netref call`: what it builds from Python-style text, and the
// column and wording of each syntax error.
#include <doctest/doctest.h>

#include <complex>
#include <cstdint>
#include <string>

#include "expression.hpp"

using namespace netref;
using namespace netref::cli;

namespace {

/// The literal value of a whole expression (it must be one).
Value literal(const std::string& text) {
  const Expression e = parse_expression(text);
  const auto* lit = std::get_if<Literal>(&e.node);
  REQUIRE_MESSAGE(lit != nullptr, text);
  return lit->value;
}

/// The column and message of the syntax error text raises.
std::pair<std::size_t, std::string> error_of(const std::string& text) {
  try {
    parse_expression(text);
  } catch (const SyntaxError& e) {
    return {e.column(), e.what()};
  }
  FAIL("no syntax error for: " << text);
  return {};
}

const Call& as_call(const Expression& e) {
  const auto* call = std::get_if<Call>(&e.node);
  REQUIRE(call != nullptr);
  return *call;
}

}  // namespace

TEST_CASE("a call of a root name has its name and positional arguments") {
  const Expression e = parse_expression("add(2, 3)");
  const Call& call = as_call(e);
  CHECK(std::get<Name>(call.callee->node).name == "add");
  REQUIRE(call.arguments.size() == 2);
  CHECK(call.arguments[0].keyword.empty());
  CHECK(std::get<Literal>(call.arguments[0].value->node).value == Value(2));
  CHECK(std::get<Literal>(call.arguments[1].value->node).value == Value(3));
  CHECK(call.arguments[1].value->column == 8);
}

TEST_CASE("a chain calls an attribute of a call's result") {
  const Expression e = parse_expression("make_counter(10).add(5)");
  const Call& outer = as_call(e);
  const auto& attribute = std::get<Attribute>(outer.callee->node);
  CHECK(attribute.name == "add");
  const Call& inner = as_call(*attribute.object);
  CHECK(std::get<Name>(inner.callee->node).name == "make_counter");
  CHECK(outer.callee->column == 17);
}

TEST_CASE("keyword arguments follow positional ones, spaces anywhere") {
  const Expression e = parse_expression("  greet ( 'ann' , punctuation = '?' , ) ");
  const Call& call = as_call(e);
  REQUIRE(call.arguments.size() == 2);
  CHECK(call.arguments[1].keyword == "punctuation");
  CHECK(std::get<Literal>(call.arguments[1].value->node).value == Value("?"));
}

TEST_CASE("subscripts and nested calls as arguments") {
  const Expression e = parse_expression("getmodule('sys').path[0]");
  const auto& subscript = std::get<Subscript>(e.node);
  CHECK(std::get<Literal>(subscript.index->node).value == Value(0));
  const Expression nested = parse_expression("apply(make_counter(1), x=getmodule('os').sep)");
  CHECK(as_call(nested).arguments.size() == 2);
}

TEST_CASE("None, True and False are literals, and other names are not") {
  CHECK(literal("None") == Value());
  CHECK(literal("True") == Value(true));
  CHECK(literal("False") == Value(false));
  CHECK(std::get<Name>(parse_expression("none").node).name == "none");
}

TEST_CASE("integers in every base, with underscores and signs") {
  CHECK(literal("0") == Value(0));
  CHECK(literal("-42") == Value(-42));
  CHECK(literal("+7") == Value(7));
  CHECK(literal("--7") == Value(7));
  CHECK(literal("1_000_000") == Value(1000000));
  CHECK(literal("0x_ff") == Value(255));
  CHECK(literal("0XFF") == Value(255));
  CHECK(literal("0o17") == Value(15));
  CHECK(literal("0b1010") == Value(10));
  CHECK(literal("000") == Value(0));
}

TEST_CASE("integers beyond int64 stay exact as big integers") {
  CHECK(literal("9223372036854775807") == Value(std::int64_t{9223372036854775807}));
  CHECK(literal("-9223372036854775808") == Value(std::numeric_limits<std::int64_t>::min()));
  CHECK(literal("9223372036854775808") == Value(BigInt{"9223372036854775808"}));
  CHECK(literal("-123456789012345678901234567890") == Value(BigInt{"-123456789012345678901234567890"}));
  CHECK(literal("0xffffffffffffffffffff") == Value(BigInt{"1208925819614629174706175"}));
}

TEST_CASE("floats and imaginary numbers as Python reads them") {
  CHECK(literal("2.5") == Value(2.5));
  CHECK(literal("-.5") == Value(-0.5));
  CHECK(literal("1.") == Value(1.0));
  CHECK(literal("1e3") == Value(1000.0));
  CHECK(literal("1_0.2_5E-1_0") == Value(10.25e-10));
  CHECK(literal("1e400") == Value(std::numeric_limits<double>::infinity()));
  CHECK(literal("2j") == Value(std::complex<double>(0, 2)));
  CHECK(literal("-1.5J") == Value(std::complex<double>(0, -1.5)));
}

TEST_CASE("strings with either quote, escapes, prefixes and adjacent parts") {
  CHECK(literal("'it'") == Value("it"));
  CHECK(literal("\"it's\"") == Value("it's"));
  CHECK(literal(R"('a\'b\"c\\d')") == Value("a'b\"c\\d"));
  CHECK(literal(R"('\n\t\r\a\b\f\v\0')") == Value(std::string("\n\t\r\a\b\f\v\0", 8)));
  CHECK(literal(R"('\x41\101\u00e9\U0001F600')") == Value("AA\xc3\xa9\xf0\x9f\x98\x80"));
  CHECK(literal(R"('\q')") == Value("\\q"));  // unknown escapes stay as written
  CHECK(literal(R"(r'\n\'')") == Value("\\n\\'"));
  CHECK(literal(R"(u'x')") == Value("x"));
  CHECK(literal("'a' \"b\" 'c'") == Value("abc"));
  CHECK(literal("'''x'y'''") == Value("x'y"));
  CHECK(literal("'caf\xc3\xa9'") == Value("caf\xc3\xa9"));
}

TEST_CASE("bytes literals hold raw bytes") {
  CHECK(literal(R"(b'\x00\xff')") == Value(Bytes{std::string("\x00\xff", 2)}));
  CHECK(literal(R"(B"a\u00e9")") == Value(Bytes{"a\\u00e9"}));  // no \u in bytes
  CHECK(literal(R"(rb'\x00')") == Value(Bytes{"\\x00"}));
  CHECK(literal(R"(Br'\x00')") == Value(Bytes{"\\x00"}));
  CHECK(literal("b'a' b'b'") == Value(Bytes{"ab"}));
}

TEST_CASE("lists and tuples, empty, single and with trailing commas") {
  const auto sequence = [](const std::string& text) { return std::get<Sequence>(parse_expression(text).node); };
  CHECK(sequence("[]").is_list);
  CHECK(sequence("[]").items.empty());
  CHECK(sequence("[1, 'a', [2]]").items.size() == 3);
  CHECK(sequence("[1,]").items.size() == 1);
  CHECK_FALSE(sequence("()").is_list);
  CHECK(sequence("()").items.empty());
  CHECK(sequence("(1,)").items.size() == 1);
  CHECK(sequence("(1, 2, (3, 4))").items.size() == 3);
  CHECK(literal("(5)") == Value(5));  // parentheses alone make no tuple
}

TEST_CASE("an unclosed call names the column of its parenthesis") {
  const auto [column, message] = error_of("add(2, 3");
  CHECK(column == 9);
  CHECK(message == "expected ')' to close the call opened at column 4, found the end of the expression");
}

TEST_CASE("a positional argument after a keyword one is refused where it starts") {
  const auto [column, message] = error_of("f(a=1, 2)");
  CHECK(column == 8);
  CHECK(message == "positional argument follows keyword argument");
}

TEST_CASE("a repeated keyword is refused") {
  CHECK(error_of("f(a=1, a=2)") == std::pair<std::size_t, std::string>{8, "keyword argument repeated: a"});
}

TEST_CASE("an unterminated string points at its opening quote") {
  CHECK(error_of("greet('ann)") == std::pair<std::size_t, std::string>{7, "unterminated string literal"});
  CHECK(error_of("f(b'x)").first == 3);
}

TEST_CASE("text after a complete expression is an error at its column") {
  CHECK(error_of("add(1) x") ==
        std::pair<std::size_t, std::string>{8, "unexpected name 'x' after a complete expression"});
}

TEST_CASE("malformed numbers say what is wrong") {
  CHECK(error_of("f(012)").second.starts_with("leading zeros in decimal integer literals are not permitted"));
  CHECK(error_of("0x").second == "invalid hexadecimal literal: no digits after the prefix");
  CHECK(error_of("1__0").second == "invalid number literal: '_' must sit between two digits");
  CHECK(error_of("f(12abc)") == std::pair<std::size_t, std::string>{3, "invalid decimal literal: 'a' cannot follow its digits"});
  CHECK(error_of("1e").second == "invalid float literal: the exponent has no digits");
}

TEST_CASE("bad escapes and non-ASCII bytes are refused") {
  CHECK(error_of(R"('\x4')").second == "truncated \\xXX escape");
  CHECK(error_of(R"('\u12')").second == "truncated \\uXXXX escape");
  CHECK(error_of(R"('\ud800')").second == "a surrogate code point cannot be sent as UTF-8");
  CHECK(error_of(R"('\U00110000')").second == "illegal Unicode character in \\U escape");
  CHECK(error_of("b'caf\xc3\xa9'").first == 6);
  CHECK(error_of("'a' b'b'").second == "cannot mix bytes and nonbytes literals");
}

TEST_CASE("columns count characters, not UTF-8 bytes") {
  CHECK(error_of("f('\xc3\xa9\xc3\xa9', )x").first == 10);
}

TEST_CASE("what Python has and this grammar does not is named") {
  CHECK(error_of("{'a': 1}").second.starts_with("dict and set literals are not supported"));
  CHECK(error_of("f'x'").second == "f-strings are not supported: write the string out");
  CHECK(error_of("-x") == std::pair<std::size_t, std::string>{2, "a sign must be followed by a number, found name 'x'"});
  CHECK(error_of("a + 1") == std::pair<std::size_t, std::string>{3, "unexpected '+' after a complete expression"});
  CHECK(error_of("") == std::pair<std::size_t, std::string>{1, "unexpected end of the expression: expected a name or a value"});
  CHECK(error_of("x.") == std::pair<std::size_t, std::string>{3, "expected an attribute name after '.', found the end of the expression"});
  CHECK(error_of("x[]").second == "expected an index inside '[]'");
  CHECK(error_of("(1, 2").second == "expected ')' to close the tuple opened at column 1, found the end of the expression");
  CHECK(error_of("[1 2]").first == 4);
}
