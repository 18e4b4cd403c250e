// The wire parser's checks, and the decode budget: what one message may decode into is bounded
// by count of values and by bytes, checked before anything is reserved.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "boxed_reader.hpp"
#include "netref/protocol/brine.hpp"
#include "netref/stream/error.hpp"
#include "wire/decimal.hpp"
#include "wire/parser.hpp"
#include "wire/writer.hpp"

using namespace netref;
namespace wire = netref::detail::wire;
using Buf = std::vector<std::uint8_t>;

namespace {

constexpr std::size_t kSixteenMiB = std::size_t{16} << 20;

/// A tuple of n one-byte ints (immediate 1s): n + 5 bytes that would decode to n Values.
Buf flat_ints(std::size_t n) {
  Buf b;
  b.reserve(n + 5);
  wire::put_tuple_header(n, b);
  b.resize(b.size() + n, wire::immediate(1));
  return b;
}

/// The same bytes as tuples of `inner` ints each, so no single count gives the size away.
Buf nested_ints(std::size_t outer, std::size_t inner) {
  Buf b;
  b.reserve(outer * (inner + 5) + 5);
  wire::put_tuple_header(outer, b);
  for (std::size_t i = 0; i < outer; ++i) {
    wire::put_tuple_header(inner, b);
    b.resize(b.size() + inner, wire::immediate(1));
  }
  return b;
}

std::string decode_error(const Buf& b, const brine::Limits& limits) {
  try {
    brine::decode(b, limits);
  } catch (const ProtocolError& e) {
    return e.what();
  }
  return "decoded";
}

/// The offset a decode error names ("... at offset N ...").
std::size_t error_offset(const std::string& what) {
  const auto at = what.find("at offset ");
  REQUIRE(at != std::string::npos);
  return std::stoull(what.substr(at + 10));
}

}  // namespace

TEST_CASE("16 MiB of one-byte ints in one tuple is refused by the decode budget before any Value is built") {
  const Buf b = flat_ints(kSixteenMiB);
  // The default budget: 1M values.
  const std::string items = decode_error(b, brine::Limits{});
  CHECK(items.find("max_decoded_items") != std::string::npos);
  CHECK(items.find("16777216 items") != std::string::npos);
  CHECK(error_offset(items) == 0);
  // With the item count lifted, the bytes those Values take: 16M x sizeof(Value).
  const std::string bytes = decode_error(b, brine::Limits{.max_items = SIZE_MAX, .max_bytes = std::size_t{1} << 20});
  CHECK(bytes.find("max_decoded_bytes") != std::string::npos);
  CHECK(error_offset(bytes) == 0);
}

TEST_CASE("16 MiB of one-byte ints in small tuples is refused as the budget runs out, not at the end") {
  // 4096 tuples of 4096 ints: each count is harmless, their sum is not. A small budget
  // (1 MiB of Values) is spent in the first few tuples; the error names where it ran out.
  const Buf b = nested_ints(4096, 4096);
  REQUIRE(b.size() > kSixteenMiB);
  const std::string what = decode_error(b, brine::Limits{.max_items = SIZE_MAX, .max_bytes = std::size_t{1} << 20});
  CHECK(what.find("max_decoded_bytes") != std::string::npos);
  const std::size_t inner_tuple = 4096 + 5;
  const std::size_t spent_in = (std::size_t{1} << 20) / (4096 * wire::value_cost) + 1;
  CHECK(error_offset(what) <= 5 + spent_in * inner_tuple);
  // The default item budget stops it too, after 1M values (about 256 tuples).
  const std::string items = decode_error(b, brine::Limits{});
  CHECK(items.find("max_decoded_items") != std::string::npos);
  CHECK(error_offset(items) < 300 * inner_tuple);
}

TEST_CASE("a message exactly at the decode budget decodes, one value more does not") {
  CHECK(decode_error(flat_ints(10), brine::Limits{.max_items = 10}) == "decoded");
  CHECK(decode_error(flat_ints(11), brine::Limits{.max_items = 10}).find("max_decoded_items") != std::string::npos);
  // Bytes and strs count their length on top of the Value that holds them.
  Buf text;
  wire::put_tuple_header(1, text);
  wire::put_bytes(std::string(100, 'x'), text);
  const std::size_t exact = wire::value_cost + 100;
  CHECK(decode_error(text, brine::Limits{.max_bytes = exact}) == "decoded");
  CHECK(decode_error(text, brine::Limits{.max_bytes = exact - 1}).find("max_decoded_bytes") != std::string::npos);
}

TEST_CASE("the fast path refuses what the decode budget refuses, and the general path words it") {
  // A v6 request (seq 1, handler CALL 7) whose plain arguments are 2M one-byte ints.
  Buf frame = {0x01, wire::tag::tup2, wire::immediate(1), wire::tag::tup2, wire::immediate(7)};
  wire::put_label(Label::value, frame);
  const Buf args = flat_ints(std::size_t{2} << 20);
  frame.insert(frame.end(), args.begin(), args.end());
  detail::BoxedReader reader(frame, 64);
  MsgType type{};
  std::uint32_t seq = 0;
  std::int64_t handler = 0;
  Args out;
  REQUIRE(reader.envelope(Generation::v6, type, seq));
  REQUIRE(reader.request_head(handler));
  CHECK_FALSE(reader.boxed_args(out));
  CHECK(out.empty());
  CHECK_THROWS_WITH_AS(brine::decode(std::span(frame).subspan(1)), doctest::Contains("max_decoded_items"),
                       ProtocolError);
}

TEST_CASE("the parser charges a budget once when a reader tries one way and rewinds") {
  const Buf b = flat_ints(3);
  wire::Parser p(b, 0, brine::Limits{.max_items = 3});
  const auto start = p.mark();
  std::uint8_t t = 0;
  std::size_t n = 0;
  REQUIRE(p.tag(t));
  REQUIRE(p.open_tuple(t, 0, n));
  CHECK(n == 3);
  p.rewind(start);
  CHECK(std::get<Tuple>(wire::read_value(p).storage()).items.size() == 3);
  CHECK(p.at_end());
}

TEST_CASE("decimal int text: what Python's str(int) writes, and nothing else") {
  wire::DecimalInt d;
  CHECK_FALSE(wire::parse_decimal("", d));
  CHECK_FALSE(wire::parse_decimal("-", d));
  CHECK_FALSE(wire::parse_decimal("12a", d));
  CHECK_FALSE(wire::parse_decimal("+1", d));
  CHECK_FALSE(wire::parse_decimal(" 1", d));
  REQUIRE(wire::parse_decimal("-0", d));
  CHECK((d.fits_int64() && d.to_int64() == 0));
  REQUIRE(wire::parse_decimal("007", d));
  CHECK(d.to_int64() == 7);
  CHECK(d.canonical_digits() == "7");
  REQUIRE(wire::parse_decimal("000", d));
  CHECK(d.canonical_digits() == "0");
  REQUIRE(wire::parse_decimal("-9223372036854775808", d));
  CHECK((d.fits_int64() && d.to_int64() == INT64_MIN));
  REQUIRE(wire::parse_decimal("9223372036854775808", d));
  CHECK_FALSE(d.fits_int64());
  CHECK((d.fits_u64 && d.magnitude == 9223372036854775808ull));
  REQUIRE(wire::parse_decimal("18446744073709551615", d));
  CHECK((d.fits_u64 && d.magnitude == UINT64_MAX));
  REQUIRE(wire::parse_decimal("18446744073709551616", d));
  CHECK_FALSE(d.fits_u64);
  REQUIRE(wire::parse_decimal("184467440737095516150", d));  // overflows by the multiply
  CHECK_FALSE(d.fits_u64);
  REQUIRE(wire::parse_decimal("9999999999999999999", d));  // the most digits read unchecked
  CHECK((d.fits_u64 && d.magnitude == 9999999999999999999ull));
  REQUIRE(wire::parse_decimal("000000000000000000000042", d));  // checked, and fits
  CHECK((d.fits_int64() && d.to_int64() == 42));
  CHECK_FALSE(wire::parse_decimal("99999999999999999x9", d));
}
