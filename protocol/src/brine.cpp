// Brine, byte for byte as rpyc/core/brine.py writes it; a decoder that is total and bounded
// (docs/FAULTS.md R1): every read is checked, counts are checked against the bytes left before
// anything is reserved, nesting is capped.
#include "netref/protocol/brine.hpp"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

#include "netref/stream/error.hpp"
#include "wire/decimal.hpp"
#include "wire/parser.hpp"
#include "wire/writer.hpp"

namespace netref::brine {
namespace {

namespace wire = detail::wire;
namespace tag = detail::wire::tag;

// Encoding recursion guard for locally built values (decoded ones are capped by Limits).
constexpr std::size_t max_encode_depth = 1024;

[[noreturn]] void fail(const std::string& what) { throw ProtocolError("brine: " + what); }

// ---------------------------------------------------------------------------------------------
// Encoding: a walk over the Value, each piece written by the wire writer.

[[noreturn, gnu::noinline, gnu::cold]] void fail_encode_slice_arity(std::size_t n) {
  fail("a slice must have exactly 3 parts, this one has " + std::to_string(n));
}

[[noreturn, gnu::noinline, gnu::cold]] void fail_encode_reference(std::string_view type_name) {
  fail("cannot brine-encode a netref or local object (" + std::string(type_name) +
       "): references are boxed by the connection");
}

[[noreturn, gnu::noinline, gnu::cold]] void fail_encode_bigint() {
  fail("BigInt digits are not a decimal integer");
}

[[noreturn, gnu::noinline, gnu::cold]] void fail_encode_depth() {
  fail("value nested deeper than " + std::to_string(max_encode_depth) +
       " levels cannot be encoded");
}

class Encoder {
 public:
  explicit Encoder(std::vector<std::uint8_t>& out) : out_(out) {}

  void value(const Value& v, std::size_t depth) {
    switch (v.kind()) {
      case Value::Kind::none: return wire::put_byte(tag::none, out_);
      case Value::Kind::boolean: return wire::put_byte(*v.get_if<bool>() ? tag::true_ : tag::false_, out_);
      case Value::Kind::integer: return wire::put_int(*v.get_if<std::int64_t>(), out_);
      case Value::Kind::big_integer: return big_integer(v.get_if<BigInt>()->digits);
      case Value::Kind::floating:
        wire::put_byte(tag::float_, out_);
        return wire::put_f64(*v.get_if<double>(), out_);
      case Value::Kind::complex: {
        auto c = *v.get_if<std::complex<double>>();
        wire::put_byte(tag::complex, out_);
        wire::put_f64(c.real(), out_);
        return wire::put_f64(c.imag(), out_);
      }
      case Value::Kind::bytes: return wire::put_bytes(v.get_if<Bytes>()->data, out_);
      case Value::Kind::string: return wire::put_str(*v.get_if<std::string>(), out_);
      case Value::Kind::tuple: return tuple(v.get_if<Tuple>()->items, depth);
      case Value::Kind::frozenset:
        wire::put_byte(tag::fset, out_);
        return tuple(v.get_if<FrozenSet>()->items, depth);
      case Value::Kind::slice: {
        const auto& parts = v.get_if<Slice>()->parts;
        if (parts.size() != 3) fail_encode_slice_arity(parts.size());
        wire::put_byte(tag::slice, out_);
        return tuple(parts, depth);
      }
      case Value::Kind::ellipsis: return wire::put_byte(tag::ellipsis, out_);
      case Value::Kind::not_implemented: return wire::put_byte(tag::not_implemented, out_);
      case Value::Kind::local_object:
      case Value::Kind::remote_ref: fail_encode_reference(v.type_name());
    }
  }

 private:
  // Written as Python's str(int) would: canonical digits, or as an int64 when it fits.
  void big_integer(std::string_view digits) {
    wire::DecimalInt d;
    if (!wire::parse_decimal(digits, d)) fail_encode_bigint();
    if (d.fits_int64()) return wire::put_int(d.to_int64(), out_);
    wire::put_big_int(d.negative, d.canonical_digits(), out_);
  }

  void tuple(const std::vector<Value>& items, std::size_t depth) {
    if (depth >= max_encode_depth) fail_encode_depth();
    wire::put_tuple_header(items.size(), out_);
    for (const auto& item : items) value(item, depth + 1);
  }

  std::vector<std::uint8_t>& out_;
};

// ---------------------------------------------------------------------------------------------
// Decoding: the general decoder, one Value per call, on the wire parser.

// The items of a tuple whose tag t (at offset at) was read.
std::vector<Value> read_items(wire::Parser& p, std::uint8_t t, std::size_t at) {
  std::size_t n = 0;
  if (!p.open_tuple(t, at, n)) p.raise();
  std::vector<Value> out;
  out.reserve(n);  // n was checked against the bytes left and charged to the budget
  for (std::size_t i = 0; i < n; ++i) out.push_back(wire::read_value(p));
  p.close();
  return out;
}

// The tuple that a frozenset or slice (at offset at) wraps.
std::vector<Value> read_wrapped(wire::Parser& p, const char* what, std::size_t at) {
  const std::size_t inner = p.pos();
  std::uint8_t t = 0;
  if (!p.tag(t)) p.raise();
  if (!wire::is_tuple_tag(t)) {
    p.wraps(what, at, t, inner);
    p.raise();
  }
  return read_items(p, t, inner);
}

}  // namespace

bool is_valid_utf8(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  if (s.size() < 8) {  // a name: any byte past ASCII sends it the long way
    unsigned char high = 0;
    for (const auto* q = p; q != end; ++q) high |= *q;
    if (high < 0x80) return true;
  }
  while (p != end) {
    // ASCII fast path, 8 bytes at a time.
    while (end - p >= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      if (w & 0x8080808080808080ull) break;
      p += 8;
    }
    if (p == end) break;
    if (end - p < 8) {  // an ASCII tail in one pass
      unsigned char high = 0;
      for (const auto* q = p; q != end; ++q) high |= *q;
      if (high < 0x80) break;
    }
    unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    std::size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      if (c == 0xE0)
        lo = 0xA0;  // overlong
      else if (c == 0xED)
        hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      if (c == 0xF0)
        lo = 0x90;  // overlong
      else if (c == 0xF4)
        hi = 0x8F;  // past U+10FFFF
    } else {
      return false;
    }
    if (static_cast<std::size_t>(end - p) <= n) return false;
    if (p[1] < lo || p[1] > hi) return false;
    for (std::size_t i = 2; i <= n; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
    }
    p += n + 1;
  }
  return true;
}

void encode(const Value& v, std::vector<std::uint8_t>& out) {
  std::size_t start = out.size();
  try {
    Encoder(out).value(v, 0);
  } catch (...) {
    out.resize(start);  // leave out as it was
    throw;
  }
}

std::vector<std::uint8_t> encode(const Value& v) {
  std::vector<std::uint8_t> out;
  Encoder(out).value(v, 0);
  return out;
}

void encode_int(std::int64_t i, std::vector<std::uint8_t>& out) { wire::put_int(i, out); }

void encode_str(std::string_view s, std::vector<std::uint8_t>& out) { wire::put_str(s, out); }

Value decode_prefix(std::span<const std::uint8_t> data, std::size_t& offset, const Limits& limits) {
  if (offset > data.size()) {
    fail("decode offset " + std::to_string(offset) + " is past the end of " +
         std::to_string(data.size()) + " bytes");
  }
  wire::Parser p(data, offset, limits);
  Value v = wire::read_value(p);
  offset = p.pos();
  return v;
}

Value decode(std::span<const std::uint8_t> data, const Limits& limits) {
  std::size_t offset = 0;
  Value v = decode_prefix(data, offset, limits);
  if (offset != data.size()) {
    fail(std::to_string(data.size() - offset) + " trailing bytes after the value, at offset " +
         std::to_string(offset));
  }
  return v;
}

bool dumpable(const Value& v) noexcept {
  auto all = [](const std::vector<Value>& items) {
    for (const auto& item : items) {
      if (!dumpable(item)) return false;
    }
    return true;
  };
  switch (v.kind()) {
    case Value::Kind::local_object:
    case Value::Kind::remote_ref: return false;
    case Value::Kind::tuple: return all(v.get_if<Tuple>()->items);
    case Value::Kind::frozenset: return all(v.get_if<FrozenSet>()->items);
    case Value::Kind::slice: return all(v.get_if<Slice>()->parts);
    default: return true;
  }
}

}  // namespace netref::brine

namespace netref::detail::wire {

Value read_value(Parser& p) {
  const std::size_t at = p.pos();
  std::uint8_t t = 0;
  if (!p.tag(t)) p.raise();
  if (is_immediate(t)) return Value(immediate_value(t));
  switch (t) {
    case tag::none: return Value(None{});
    case tag::empty_bytes: return Value(Bytes{});
    case tag::empty_tuple: return Value(Tuple{});
    case tag::true_: return Value(true);
    case tag::false_: return Value(false);
    case tag::not_implemented: return Value(NotImplemented{});
    case tag::ellipsis: return Value(Ellipsis{});
    case tag::unicode: {
      std::string_view s;
      if (!p.str_body(at, s)) p.raise();
      return Value(std::string(s));
    }
    case tag::str1:
    case tag::str1 + 1:
    case tag::str1 + 2:
    case tag::str4:
    case tag::str_l1:
    case tag::str_l4: {
      std::string_view s;
      if (!p.bytes_body(t, "bytes", s)) p.raise();
      return Value(Bytes{std::string(s)});
    }
    case tag::tup1:
    case tag::tup2:
    case tag::tup3:
    case tag::tup4:
    case tag::tup_l1:
    case tag::tup_l4: return Value(Tuple{brine::read_items(p, t, at)});
    case tag::int_l1:
    case tag::int_l4: {
      DecimalInt d;
      if (!p.int_text(t, at, d)) p.raise();
      if (d.fits_int64()) return Value(d.to_int64());
      // Does not fit int64 (so not all zeros): canonical digits without leading zeros.
      const std::string_view digits = d.canonical_digits();
      BigInt big;
      big.digits.reserve(digits.size() + (d.negative ? 1 : 0));
      if (d.negative) big.digits.push_back('-');
      big.digits.append(digits);
      return Value(std::move(big));
    }
    case tag::float_: {
      double d = 0;
      if (!p.f64(d)) p.raise();
      return Value(d);
    }
    case tag::complex: {
      double re = 0;
      double im = 0;
      if (!p.f64(re) || !p.f64(im)) p.raise();
      return Value(std::complex<double>(re, im));
    }
    case tag::slice: {
      auto parts = brine::read_wrapped(p, "a slice", at);
      if (parts.size() != 3) {
        p.slice_arity(at, parts.size());
        p.raise();
      }
      return Value(Slice{std::move(parts)});
    }
    case tag::fset: return Value(FrozenSet{brine::read_wrapped(p, "a frozenset", at)});
    default:
      p.unknown_tag(t, at);
      p.raise();
  }
}

}  // namespace netref::detail::wire
