// Brine against RPyC's own bytes (tests/data/brine/make_golden.py), hostile input, and a
// round-trip property.
#include "netref/protocol/brine.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstdint>
#include <fstream>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "netref/stream/error.hpp"

using namespace netref;
using Buf = std::vector<std::uint8_t>;

namespace {

Buf from_hex(std::string_view hex) {
  Buf out;
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(nibble(hex[i]) * 16 + nibble(hex[i + 1])));
  }
  return out;
}

std::map<std::string, Buf> load_vectors(const std::string& file) {
  std::ifstream in(std::string(NETREF_TEST_DATA_DIR) + "/brine/" + file);
  REQUIRE(in.good());
  std::map<std::string, Buf> out;
  std::string line;
  while (std::getline(in, line)) {
    auto tab = line.find('\t');
    REQUIRE(tab != std::string::npos);
    out[line.substr(0, tab)] = from_hex(std::string_view(line).substr(tab + 1));
  }
  return out;
}

Value bytes_n(std::size_t n) {
  Bytes b;
  for (std::size_t i = 0; i < n; ++i) b.data.push_back(static_cast<char>(i % 256));
  return Value(std::move(b));
}

Value tuple_range(std::int64_t n) {
  Tuple t;
  for (std::int64_t i = 0; i < n; ++i) t.items.emplace_back(i);
  return Value(std::move(t));
}

Value slice(Value a, Value b, Value c) {
  return Value(Slice{{std::move(a), std::move(b), std::move(c)}});
}

std::string repeat(std::string_view s, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out.append(s);
  return out;
}

Value nested_tuples(std::size_t depth) {
  Value v = None{};
  for (std::size_t i = 0; i < depth; ++i) v = tuple_of(std::move(v));
  return v;
}

// The C++ twin of every value in make_golden.py, by name.
std::map<std::string, Value> expected_values() {
  constexpr double inf = std::numeric_limits<double>::infinity();
  std::string big300 = repeat("1234567890", 30);
  std::map<std::string, Value> m;
  m["none"] = None{};
  m["true"] = true;
  m["false"] = false;
  m["ellipsis"] = Ellipsis{};
  m["not_implemented"] = NotImplemented{};
  m["int_0"] = 0;
  m["int_1"] = 1;
  m["int_-48"] = -48;
  m["int_159"] = 159;
  m["int_160"] = 160;
  m["int_-49"] = -49;
  m["int_1000"] = 1000;
  m["int_max64"] = std::numeric_limits<std::int64_t>::max();
  m["int_min64"] = std::numeric_limits<std::int64_t>::min();
  m["int_2**63"] = BigInt{"9223372036854775808"};
  m["int_-2**63-1"] = BigInt{"-9223372036854775809"};
  m["int_2**64"] = BigInt{"18446744073709551616"};
  m["int_-2**100"] = BigInt{"-1267650600228229401496703205376"};
  m["int_300_digits"] = BigInt{big300};
  m["int_-300_digits"] = BigInt{"-" + big300};
  m["float_0"] = 0.0;
  m["float_-0"] = -0.0;
  m["float_1.5"] = 1.5;
  m["float_-2.25e300"] = -2.25e300;
  m["float_denormal"] = 5e-324;
  m["float_inf"] = inf;
  m["float_-inf"] = -inf;
  m["float_nan"] = std::numeric_limits<double>::quiet_NaN();
  m["complex_1+2j"] = std::complex<double>(1, 2);
  m["complex_-0-infj"] = std::complex<double>(-0.0, -inf);
  for (std::size_t n : {0, 1, 2, 3, 4, 5, 255, 256, 70000})
    m["bytes_" + std::to_string(n)] = bytes_n(n);
  m["str_empty"] = "";
  m["str_ascii"] = "hello";
  m["str_4"] = "abcd";
  m["str_unicode"] = "h\u00e9llo \u2603 \U0001F600";
  m["str_100"] = std::string(100, 'x');
  m["str_300"] = repeat("\u00e9", 150);
  m["str_nul"] = std::string("a\0b", 3);
  for (int n : {0, 1, 2, 3, 4, 5, 255, 256}) m["tuple_" + std::to_string(n)] = tuple_range(n);
  m["tuple_nested"] =
      tuple_of(tuple_of(1, 2), tuple_of(3, tuple_of(4, Tuple{})), "x", Bytes{"y"}, None{});
  m["tuple_mixed"] =
      tuple_of(true, false, None{}, 1.5, -7, "s", Bytes{"b"}, Ellipsis{}, NotImplemented{});
  m["frozenset_empty"] = FrozenSet{};
  m["frozenset_one"] = FrozenSet{{Value(5)}};
  m["frozenset_str"] = FrozenSet{{Value("only")}};
  m["slice_1_2_3"] = slice(1, 2, 3);
  m["slice_None_5_None"] = slice(None{}, 5, None{});
  m["slice_in_tuple"] = tuple_of(slice(0, -1, None{}), 0);
  m["getroot_5x"] = tuple_of(1, 0, tuple_of(3, tuple_of(1, Tuple{})));
  return m;
}

}  // namespace

TEST_CASE("every golden value encodes to the bytes rpyc's brine.dump wrote") {
  auto vectors = load_vectors("brine_vectors.tsv");
  auto expected = expected_values();
  CHECK(vectors.size() == expected.size());
  for (const auto& [name, value] : expected) {
    CAPTURE(name);
    REQUIRE(vectors.count(name) == 1);
    CHECK(brine::encode(value) == vectors[name]);
  }
}

TEST_CASE("every golden byte string from rpyc decodes to the value Python encoded") {
  auto vectors = load_vectors("brine_vectors.tsv");
  auto expected = expected_values();
  for (const auto& [name, bytes] : vectors) {
    CAPTURE(name);
    REQUIRE(expected.count(name) == 1);
    Value v = brine::decode(bytes);
    if (name == "float_nan") {
      REQUIRE(v.get_if<double>() != nullptr);
      CHECK(std::isnan(*v.get_if<double>()));
    } else {
      CHECK(v == expected[name]);
    }
    // Catches what == cannot see (-0.0 vs 0.0, the NaN payload).
    CHECK(brine::encode(v) == bytes);
  }
}

TEST_CASE("the 5.x GETROOT message is exactly 12 51 50 11 53 11 51 02") {
  Value getroot = tuple_of(1, 0, tuple_of(3, tuple_of(1, Tuple{})));
  CHECK(brine::encode(getroot) == Buf{0x12, 0x51, 0x50, 0x11, 0x53, 0x11, 0x51, 0x02});
  CHECK(brine::decode(Buf{0x12, 0x51, 0x50, 0x11, 0x53, 0x11, 0x51, 0x02}) == getroot);
}

TEST_CASE("encode appends to the buffer it is given") {
  Buf out{0xAA};
  brine::encode(Value(1), out);
  brine::encode(Value("a"), out);
  CHECK(out == Buf{0xAA, 0x51, 0x08, 0x0a, 'a'});
}

TEST_CASE("a value holding a reference cannot be brine-encoded and leaves the buffer as it was") {
  Buf out{0xAA};
  Value with_ref = tuple_of(1, tuple_of(2, RemoteRefPtr{}));
  CHECK_THROWS_WITH_AS(brine::encode(with_ref, out),
                       doctest::Contains("cannot brine-encode a netref"), ProtocolError);
  CHECK(out == Buf{0xAA});
  CHECK_THROWS_AS(brine::encode(Value(ObjectPtr{})), ProtocolError);
  CHECK_THROWS_AS(brine::encode(Value(FrozenSet{{Value(ObjectPtr{})}})), ProtocolError);
}

TEST_CASE("values no Python value matches are refused by encode") {
  SUBCASE("a str holding invalid UTF-8") {
    CHECK_THROWS_WITH_AS(brine::encode(Value(std::string("a\xff"))), doctest::Contains("UTF-8"),
                         ProtocolError);
  }
  SUBCASE("a BigInt that is not decimal") {
    CHECK_THROWS_AS(brine::encode(Value(BigInt{"12a"})), ProtocolError);
    CHECK_THROWS_AS(brine::encode(Value(BigInt{""})), ProtocolError);
    CHECK_THROWS_AS(brine::encode(Value(BigInt{"-"})), ProtocolError);
    CHECK_THROWS_AS(brine::encode(Value(BigInt{"+1"})), ProtocolError);
  }
  SUBCASE("nesting past 1024 levels (Python itself stops near 1000)") {
    CHECK_NOTHROW(brine::encode(nested_tuples(1024)));
    CHECK_THROWS_WITH_AS(brine::encode(nested_tuples(1025)), doctest::Contains("nested deeper"),
                         ProtocolError);
  }
  SUBCASE("a slice without three parts") {
    CHECK_THROWS_WITH_AS(brine::encode(Value(Slice{{Value(1), Value(2)}})),
                         doctest::Contains("3 parts"), ProtocolError);
  }
}

TEST_CASE("a BigInt is written as Python would write the same int") {
  CHECK(brine::encode(Value(BigInt{"5"})) == Buf{0x55});
  CHECK(brine::encode(Value(BigInt{"-0"})) == Buf{0x50});
  CHECK(brine::encode(Value(BigInt{"000160"})) == brine::encode(Value(160)));
  CHECK(brine::encode(Value(BigInt{"-0018446744073709551616"})) ==
        brine::encode(Value(BigInt{"-18446744073709551616"})));
}

TEST_CASE("each unknown tag is refused with its value and offset") {
  std::vector<std::uint8_t> unknown{0x07, 0x09, 0x1c, 0x1d, 0x1e, 0x1f};
  for (int t = 0xf0; t <= 0xff; ++t) unknown.push_back(static_cast<std::uint8_t>(t));
  for (auto t : unknown) {
    CAPTURE(int{t});
    char expect[64];
    std::snprintf(expect, sizeof expect, "unknown brine tag 0x%02x at offset 0", t);
    CHECK_THROWS_WITH_AS(brine::decode(Buf{t}), doctest::Contains(expect), ProtocolError);
    std::snprintf(expect, sizeof expect, "unknown brine tag 0x%02x at offset 2", t);
    CHECK_THROWS_WITH_AS(brine::decode(Buf{0x11, 0x50, t}), doctest::Contains(expect),
                         ProtocolError);
  }
}

TEST_CASE("every truncation of a valid encoding fails cleanly") {
  Value v = tuple_of(std::complex<double>(1, 2), 3.5, "h\u00e9llo", Bytes{std::string(300, 'b')},
                     BigInt{"-18446744073709551616"}, 1000, tuple_range(6), FrozenSet{{Value(1)}},
                     slice(1, None{}, 2), Ellipsis{});
  Buf full = brine::encode(v);
  REQUIRE(brine::decode(full) == v);
  for (std::size_t n = 0; n < full.size(); ++n) {
    CAPTURE(n);
    Buf prefix(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
    CHECK_THROWS_WITH_AS(brine::decode(prefix), doctest::Contains("truncated"), ProtocolError);
  }
}

TEST_CASE("a tuple declaring 2**32-1 items with no bytes behind fails before reserving") {
  // Reserving 4294967295 Values would be ~170 GB: a bad_alloc (or an OOM kill) instead of this
  // ProtocolError would mean the count was not checked first.
  CHECK_THROWS_WITH_AS(brine::decode(Buf{0x15, 0xff, 0xff, 0xff, 0xff}),
                       doctest::Contains("declares 4294967295 items but only 0 bytes"),
                       ProtocolError);
  CHECK_THROWS_WITH_AS(brine::decode(Buf{0x14, 0x05, 0x50, 0x50}),
                       doctest::Contains("declares 5 items but only 2 bytes"), ProtocolError);
  CHECK_THROWS_AS(brine::decode(Buf{0x1a, 0x15, 0xff, 0xff, 0xff, 0xff, 0x50}), ProtocolError);
}

TEST_CASE("a bytes length past the end of the input is refused") {
  CHECK_THROWS_WITH_AS(brine::decode(Buf{0x0f, 0x00, 0x00, 0x10, 0x00, 'a'}),
                       doctest::Contains("needs 4096 bytes, 1 left"), ProtocolError);
  CHECK_THROWS_AS(brine::decode(Buf{0x0f, 0xff, 0xff, 0xff, 0xff}), ProtocolError);
  CHECK_THROWS_AS(brine::decode(Buf{0x0e, 0x03, 'a', 'b'}), ProtocolError);
  CHECK_THROWS_AS(brine::decode(Buf{0x0d, 'a', 'b', 'c'}), ProtocolError);
  CHECK_THROWS_AS(brine::decode(Buf{0x17, 0x00, 0x01, 0x00, 0x00, '1'}), ProtocolError);
}

TEST_CASE("nesting 64 deep decodes and 65 deep fails with the depth limit") {
  Buf ok = brine::encode(nested_tuples(64));
  CHECK(brine::decode(ok) == nested_tuples(64));
  Buf too_deep = brine::encode(nested_tuples(65));
  CHECK_THROWS_WITH_AS(brine::decode(too_deep), doctest::Contains("max_depth"), ProtocolError);

  SUBCASE("frozensets and slices count as levels too") {
    brine::Limits limits{2};
    Value two = FrozenSet{{Value(slice(1, 2, 3))}};
    CHECK(brine::decode(brine::encode(two), limits) == two);
    Value three = tuple_of(two);
    CHECK_THROWS_WITH_AS(brine::decode(brine::encode(three), limits),
                         doctest::Contains("max_depth"), ProtocolError);
  }
  SUBCASE("a million nested tuple tags fail fast instead of overflowing the stack") {
    Buf deep(1000000, 0x10);
    deep.push_back(0x00);
    CHECK_THROWS_AS(brine::decode(deep), ProtocolError);
  }
}

TEST_CASE("a str that is not valid UTF-8 is refused") {
  SUBCASE("a stray continuation byte") {
    CHECK_THROWS_WITH_AS(brine::decode(Buf{0x08, 0x0a, 0x80}), doctest::Contains("UTF-8"),
                         ProtocolError);
  }
  SUBCASE("0xff") { CHECK_THROWS_AS(brine::decode(Buf{0x08, 0x0a, 0xff}), ProtocolError); }
  SUBCASE("an overlong NUL") {
    CHECK_THROWS_AS(brine::decode(Buf{0x08, 0x0b, 0xc0, 0x80}), ProtocolError);
  }
  SUBCASE("an overlong three-byte form") {
    CHECK_THROWS_AS(brine::decode(Buf{0x08, 0x0c, 0xe0, 0x80, 0xaf}), ProtocolError);
  }
  SUBCASE("a surrogate") {
    CHECK_THROWS_AS(brine::decode(Buf{0x08, 0x0c, 0xed, 0xa0, 0x80}), ProtocolError);
  }
  SUBCASE("past U+10FFFF") {
    CHECK_THROWS_AS(brine::decode(Buf{0x08, 0x0d, 0xf4, 0x90, 0x80, 0x80}), ProtocolError);
  }
  SUBCASE("a sequence cut short") {
    CHECK_THROWS_AS(brine::decode(Buf{0x08, 0x0b, 'a', 0xc3}), ProtocolError);
  }
  SUBCASE("the same bytes as bytes are fine") {
    CHECK(brine::decode(Buf{0x0a, 0xff}) == Value(Bytes{"\xff"}));
  }
  SUBCASE("the largest code point is fine") {
    CHECK(brine::decode(Buf{0x08, 0x0d, 0xf4, 0x8f, 0xbf, 0xbf}) == Value("\U0010FFFF"));
  }
}

TEST_CASE("TAG_UNICODE followed by something other than bytes is refused") {
  CHECK_THROWS_WITH_AS(brine::decode(Buf{0x08, 0x50}), doctest::Contains("not bytes"),
                       ProtocolError);
  CHECK_THROWS_AS(brine::decode(Buf{0x08, 0x08, 0x0a, 'a'}), ProtocolError);
  CHECK_THROWS_AS(brine::decode(Buf{0x08, 0x10, 0x0a, 'a'}), ProtocolError);
  CHECK_THROWS_WITH_AS(brine::decode(Buf{0x08}), doctest::Contains("truncated"), ProtocolError);
}

TEST_CASE("an int text that is not an optional minus and digits is refused") {
  for (std::string text : {"1a", "+1", " 1", "1 ", "1_0", "", "-", "--1", "0x10", "1.0"}) {
    CAPTURE(text);
    Buf b{0x16, static_cast<std::uint8_t>(text.size())};
    b.insert(b.end(), text.begin(), text.end());
    CHECK_THROWS_WITH_AS(brine::decode(b), doctest::Contains("not decimal"), ProtocolError);
  }
}

TEST_CASE("int text Python would accept but not write decodes to the canonical value") {
  auto int_l1 = [](std::string text) {
    Buf b{0x16, static_cast<std::uint8_t>(text.size())};
    b.insert(b.end(), text.begin(), text.end());
    return brine::decode(b);
  };
  CHECK(int_l1("007") == Value(7));
  CHECK(int_l1("-0") == Value(0));
  CHECK(int_l1("-0000") == Value(0));
  CHECK(int_l1(std::string(40, '0') + "1") == Value(1));
  CHECK(int_l1("-00099999999999999999999") == Value(BigInt{"-99999999999999999999"}));
  CHECK(int_l1("9223372036854775807") == Value(std::numeric_limits<std::int64_t>::max()));
  CHECK(int_l1("9223372036854775808") == Value(BigInt{"9223372036854775808"}));
  CHECK(int_l1("-9223372036854775808") == Value(std::numeric_limits<std::int64_t>::min()));
}

TEST_CASE("bytes after the value are refused by decode and left for the caller by decode_prefix") {
  Buf b{0x50, 0x51};
  CHECK_THROWS_WITH_AS(brine::decode(b), doctest::Contains("1 trailing bytes"), ProtocolError);
  std::size_t offset = 0;
  CHECK(brine::decode_prefix(b, offset) == Value(0));
  CHECK(offset == 1);
  CHECK(brine::decode_prefix(b, offset) == Value(1));
  CHECK(offset == 2);
  CHECK_THROWS_AS(brine::decode_prefix(b, offset), ProtocolError);
  CHECK(offset == 2);
  std::size_t bad = 1;
  CHECK_THROWS_AS(brine::decode_prefix(Buf{0x50, 0x11, 0x50}, bad), ProtocolError);
  CHECK(bad == 1);  // unchanged by a failed decode
  std::size_t past = 5;
  CHECK_THROWS_AS(brine::decode_prefix(b, past), ProtocolError);
}

TEST_CASE("a slice must wrap a 3-tuple and a frozenset a tuple") {
  CHECK_THROWS_WITH_AS(brine::decode(Buf{0x19, 0x11, 0x50, 0x51}), doctest::Contains("not 3"),
                       ProtocolError);
  CHECK_THROWS_AS(brine::decode(Buf{0x19, 0x02}), ProtocolError);
  CHECK_THROWS_WITH_AS(brine::decode(Buf{0x19, 0x0c, 'a', 'b', 'c'}),
                       doctest::Contains("not a tuple"), ProtocolError);
  CHECK_THROWS_WITH_AS(brine::decode(Buf{0x1a, 0x50}), doctest::Contains("not a tuple"),
                       ProtocolError);
  // Longer length forms of the same tuple are still a tuple.
  CHECK(brine::decode(Buf{0x19, 0x14, 0x03, 0x51, 0x52, 0x53}) == slice(1, 2, 3));
  CHECK(brine::decode(Buf{0x1a, 0x15, 0, 0, 0, 1, 0x55}) == Value(FrozenSet{{Value(5)}}));
}

TEST_CASE("decoded bytes and strings hold exactly their length") {
  Buf b = brine::encode(Value(Bytes{std::string(1000, 'z')}));
  Value v = brine::decode(b);
  REQUIRE(v.get_if<Bytes>() != nullptr);
  CHECK(v.get_if<Bytes>()->data.capacity() < 1000 + 32);
}

TEST_CASE("dumpable is false exactly when a reference is somewhere inside") {
  CHECK(brine::dumpable(Value(1)));
  CHECK(brine::dumpable(tuple_of(1, tuple_of("a", FrozenSet{}), slice(1, 2, 3))));
  CHECK_FALSE(brine::dumpable(Value(ObjectPtr{})));
  CHECK_FALSE(brine::dumpable(Value(RemoteRefPtr{})));
  CHECK_FALSE(brine::dumpable(tuple_of(1, tuple_of(2, ObjectPtr{}))));
  CHECK_FALSE(brine::dumpable(Value(FrozenSet{{Value(RemoteRefPtr{})}})));
  CHECK_FALSE(brine::dumpable(slice(1, RemoteRefPtr{}, 3)));
}

namespace {

// splitmix64: deterministic across platforms, unlike std::uniform_int_distribution.
struct Rng {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
};

void append_utf8(std::string& s, std::uint32_t cp) {
  if (cp < 0x80) {
    s.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    s.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    s.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::size_t random_length(Rng& rng) {
  switch (rng.below(10)) {
    case 0: return 250 + rng.below(12);  // around the L1/L4 boundary
    case 1: return rng.below(40);
    default: return rng.below(7);
  }
}

Value random_value(Rng& rng, std::size_t depth) {
  std::size_t kinds = depth >= 6 ? 9 : 12;  // containers only while shallow
  switch (rng.below(kinds)) {
    case 0: return None{};
    case 1: return rng.below(2) == 0;
    case 2: {
      auto bits = static_cast<std::int64_t>(rng.next());
      switch (rng.below(3)) {
        case 0: return static_cast<std::int64_t>(rng.below(400)) - 200;
        case 1: return bits >> rng.below(64);
        default: return bits;
      }
    }
    case 3: {
      std::string digits = rng.below(2) ? "-" : "";
      std::size_t n = 20 + rng.below(rng.below(4) == 0 ? 300 : 30);
      digits.push_back(static_cast<char>('1' + rng.below(9)));
      for (std::size_t i = 1; i < n; ++i) digits.push_back(static_cast<char>('0' + rng.below(10)));
      return BigInt{digits};
    }
    case 4: {
      double d = std::bit_cast<double>(rng.next());
      return std::isnan(d) ? 0.5 : d;  // NaN != NaN would make == useless
    }
    case 5: return std::complex<double>(static_cast<double>(rng.below(1000)) / 8, -1e300);
    case 6: {
      Bytes b;
      for (std::size_t n = random_length(rng); n > 0; --n)
        b.data.push_back(static_cast<char>(rng.next()));
      return b;
    }
    case 7: {
      std::string s;
      for (std::size_t n = random_length(rng); n > 0; --n) {
        std::uint32_t cp = 0;
        switch (rng.below(4)) {
          case 0: cp = static_cast<std::uint32_t>(rng.below(0x80)); break;
          case 1: cp = static_cast<std::uint32_t>(0x80 + rng.below(0x780)); break;
          case 2:
            cp = static_cast<std::uint32_t>(0x800 + rng.below(0xD000));
            break;  // below surrogates
          default: cp = static_cast<std::uint32_t>(0x10000 + rng.below(0x100000)); break;
        }
        append_utf8(s, cp);
      }
      return s;
    }
    case 8: return rng.below(2) ? Value(Ellipsis{}) : Value(NotImplemented{});
    case 9: {
      Tuple t;
      for (std::size_t n = rng.below(20) == 0 ? 256 + rng.below(4) : rng.below(7); n > 0; --n) {
        t.items.push_back(random_value(rng, depth + 1));
      }
      return t;
    }
    case 10: {
      FrozenSet f;
      for (std::size_t n = rng.below(4); n > 0; --n)
        f.items.push_back(random_value(rng, depth + 1));
      return f;
    }
    default:
      return Slice{{random_value(rng, depth + 1), random_value(rng, depth + 1),
                    random_value(rng, depth + 1)}};
  }
}

}  // namespace

TEST_CASE("decode(encode(x)) == x for a few thousand generated values") {
  Rng rng{20240601};
  std::size_t total_bytes = 0;
  for (int i = 0; i < 3000; ++i) {
    CAPTURE(i);
    Value v = random_value(rng, 0);
    Buf b = brine::encode(v);
    total_bytes += b.size();
    Value back = brine::decode(b);
    REQUIRE(back == v);
    REQUIRE(brine::encode(back) == b);
  }
  CHECK(total_bytes > 100000);  // the generator really produces nested, sizable values
}
