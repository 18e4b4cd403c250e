// Brine, byte for byte as rpyc/core/brine.py writes it; a decoder that is total and bounded
// (RELIABILITY.md R1): every read is checked, counts are checked against the bytes left before
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

namespace netref::brine {
namespace {

namespace tag {
constexpr std::uint8_t none = 0x00;
constexpr std::uint8_t empty_bytes = 0x01;
constexpr std::uint8_t empty_tuple = 0x02;
constexpr std::uint8_t true_ = 0x03;
constexpr std::uint8_t false_ = 0x04;
constexpr std::uint8_t not_implemented = 0x05;
constexpr std::uint8_t ellipsis = 0x06;
constexpr std::uint8_t unicode = 0x08;
constexpr std::uint8_t str1 = 0x0a;  // str1..str4 are 0x0a..0x0d: bytes of length 1..4
constexpr std::uint8_t str4 = 0x0d;
constexpr std::uint8_t str_l1 = 0x0e;
constexpr std::uint8_t str_l4 = 0x0f;
constexpr std::uint8_t tup1 = 0x10;  // tup1..tup4 are 0x10..0x13
constexpr std::uint8_t tup4 = 0x13;
constexpr std::uint8_t tup_l1 = 0x14;
constexpr std::uint8_t tup_l4 = 0x15;
constexpr std::uint8_t int_l1 = 0x16;
constexpr std::uint8_t int_l4 = 0x17;
constexpr std::uint8_t float_ = 0x18;
constexpr std::uint8_t slice = 0x19;
constexpr std::uint8_t fset = 0x1a;
constexpr std::uint8_t complex = 0x1b;
}  // namespace tag

// Immediate ints: -0x30..0x9f travel as one byte i + 0x50, i.e. 0x20..0xef.
constexpr std::int64_t imm_min = -0x30;
constexpr std::int64_t imm_max = 0x9f;
constexpr std::uint8_t imm_first_tag = 0x20;
constexpr std::uint8_t imm_last_tag = 0xef;
constexpr std::uint8_t imm_bias = 0x50;

// Encoding recursion guard for locally built values (decoded ones are capped by Limits).
constexpr std::size_t max_encode_depth = 1024;

[[noreturn]] void fail(const std::string& what) { throw ProtocolError("brine: " + what); }

// The decoder's error paths live out of line, so the recursive frames stay small.
std::string hex_byte(std::uint8_t b) {
  static constexpr char hex[] = "0123456789abcdef";
  return std::string{'0', 'x', hex[b >> 4], hex[b & 0xF]};
}

[[noreturn, gnu::noinline, gnu::cold]] void fail_at(const char* what, std::size_t at,
                                                    const char* why) {
  fail(std::string(what) + " at offset " + std::to_string(at) + " " + why);
}

[[noreturn, gnu::noinline, gnu::cold]] void fail_unknown_tag(std::uint8_t t, std::size_t at) {
  fail("unknown brine tag " + hex_byte(t) + " at offset " + std::to_string(at));
}

[[noreturn, gnu::noinline, gnu::cold]] void fail_wraps(const char* what, std::size_t at,
                                                       std::uint8_t t, std::size_t inner,
                                                       const char* expected) {
  fail(std::string(what) + " at offset " + std::to_string(at) + " is followed by tag " +
       hex_byte(t) + " at offset " + std::to_string(inner) + ", not " + expected);
}

[[noreturn, gnu::noinline, gnu::cold]] void fail_slice_arity(std::size_t at, std::size_t n) {
  fail("a slice at offset " + std::to_string(at) + " wraps a tuple of " + std::to_string(n) +
       " items, not 3");
}

[[noreturn, gnu::noinline, gnu::cold]] void fail_depth(std::size_t at, std::size_t max_depth) {
  fail("a tuple at offset " + std::to_string(at) + " is nested deeper than " +
       std::to_string(max_depth) + " levels (max_depth)");
}

[[noreturn, gnu::noinline, gnu::cold]] void fail_count(std::size_t at, std::size_t n,
                                                       std::size_t left) {
  fail("truncated input: a tuple at offset " + std::to_string(at) + " declares " +
       std::to_string(n) + " items but only " + std::to_string(left) + " bytes are left");
}

[[noreturn, gnu::noinline, gnu::cold]] void fail_truncated(const char* what, std::size_t pos,
                                                           std::size_t n, std::size_t left) {
  fail("truncated input: " + std::string(what) + " at offset " + std::to_string(pos) + " needs " +
       std::to_string(n) + " bytes, " + std::to_string(left) + " left");
}

// ---------------------------------------------------------------------------------------------
// Encoding

[[noreturn, gnu::noinline, gnu::cold]] void fail_encode_slice_arity(std::size_t n) {
  fail("a slice must have exactly 3 parts, this one has " + std::to_string(n));
}

[[noreturn, gnu::noinline, gnu::cold]] void fail_encode_reference(std::string_view type_name) {
  fail("cannot brine-encode a netref or local object (" + std::string(type_name) +
       "): references are boxed by the connection");
}

[[noreturn, gnu::noinline, gnu::cold]] void fail_encode_length(std::size_t n, const char* what) {
  fail(std::string(what) + " of " + std::to_string(n) + " exceeds brine's 32-bit length");
}

[[noreturn, gnu::noinline, gnu::cold]] void fail_encode_bigint() {
  fail("BigInt digits are not a decimal integer");
}

[[noreturn, gnu::noinline, gnu::cold]] void fail_encode_utf8() {
  fail("a str holds invalid UTF-8 (send it as Bytes)");
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
      case Value::Kind::none: return byte(tag::none);
      case Value::Kind::boolean: return byte(*v.get_if<bool>() ? tag::true_ : tag::false_);
      case Value::Kind::integer: return integer(*v.get_if<std::int64_t>());
      case Value::Kind::big_integer: return big_integer(v.get_if<BigInt>()->digits);
      case Value::Kind::floating: byte(tag::float_); return f64(*v.get_if<double>());
      case Value::Kind::complex: {
        auto c = *v.get_if<std::complex<double>>();
        byte(tag::complex);
        f64(c.real());
        return f64(c.imag());
      }
      case Value::Kind::bytes: return bytes(v.get_if<Bytes>()->data);
      case Value::Kind::string: return str(*v.get_if<std::string>());
      case Value::Kind::tuple: return tuple(v.get_if<Tuple>()->items, depth);
      case Value::Kind::frozenset:
        byte(tag::fset);
        return tuple(v.get_if<FrozenSet>()->items, depth);
      case Value::Kind::slice: {
        const auto& parts = v.get_if<Slice>()->parts;
        if (parts.size() != 3) fail_encode_slice_arity(parts.size());
        byte(tag::slice);
        return tuple(parts, depth);
      }
      case Value::Kind::ellipsis: return byte(tag::ellipsis);
      case Value::Kind::not_implemented: return byte(tag::not_implemented);
      case Value::Kind::local_object:
      case Value::Kind::remote_ref: fail_encode_reference(v.type_name());
    }
  }

  void str(std::string_view s) {
    if (!is_valid_utf8(s)) fail_encode_utf8();
    byte(tag::unicode);
    bytes(s);
  }

  void integer(std::int64_t i) {
    if (i >= imm_min && i <= imm_max) return byte(static_cast<std::uint8_t>(i + imm_bias));
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, i);
    auto n = static_cast<std::size_t>(r.ptr - buf);
    // One size change for tag, length and digits (an int is in every message: the seq).
    const std::size_t at = out_.size();
    out_.resize(at + 2 + n);
    std::uint8_t* p = out_.data() + at;
    p[0] = tag::int_l1;
    p[1] = static_cast<std::uint8_t>(n);
    std::memcpy(p + 2, buf, n);
  }

 private:
  void byte(std::uint8_t b) { out_.push_back(b); }

  void raw(const void* p, std::size_t n) {
    auto b = static_cast<const std::uint8_t*>(p);
    if (n >= kLargeBlob && out_.capacity() - out_.size() < n) {
      // A range insert grows to exactly what it needs, so the next byte of the message would
      // move the blob again (and hold twice its size): leave room for the message's tail.
      out_.reserve(out_.size() + n + kTailRoom);
    }
    out_.insert(out_.end(), b, b + n);
  }
  static constexpr std::size_t kLargeBlob = 4096;
  static constexpr std::size_t kTailRoom = 1024;

  void u32(std::uint32_t n) {
    std::uint8_t b[4] = {static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16),
                         static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)};
    raw(b, 4);
  }

  void f64(double d) {
    auto bits = std::bit_cast<std::uint64_t>(d);
    std::uint8_t b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<std::uint8_t>(bits >> (56 - 8 * i));
    raw(b, 8);
  }

  static std::uint32_t checked_length(std::size_t n, const char* what) {
    if (n > 0xFFFFFFFFu) fail_encode_length(n, what);
    return static_cast<std::uint32_t>(n);
  }

  // Written as Python's str(int) would: canonical digits, or as an int64 when it fits.
  void big_integer(std::string_view digits) {
    std::string_view body = digits;
    bool negative = !body.empty() && body.front() == '-';
    if (negative) body.remove_prefix(1);
    if (body.empty() || body.find_first_not_of("0123456789") != std::string_view::npos) {
      fail_encode_bigint();
    }
    body.remove_prefix(std::min(body.find_first_not_of('0'), body.size() - 1));
    std::int64_t small = 0;
    auto r = std::from_chars(digits.data(), digits.data() + digits.size(), small);
    if (r.ec == std::errc{} && r.ptr == digits.data() + digits.size()) return integer(small);
    std::size_t n = body.size() + (negative ? 1 : 0);
    if (n < 256) {
      byte(tag::int_l1);
      byte(static_cast<std::uint8_t>(n));
    } else {
      byte(tag::int_l4);
      u32(checked_length(n, "an int text"));
    }
    if (negative) byte('-');
    raw(body.data(), body.size());
  }

  void bytes(std::string_view s) {
    std::size_t n = s.size();
    if (n == 0) return byte(tag::empty_bytes);
    if (n <= 4) {
      byte(static_cast<std::uint8_t>(tag::str1 + n - 1));
    } else if (n < 256) {
      byte(tag::str_l1);
      byte(static_cast<std::uint8_t>(n));
    } else {
      byte(tag::str_l4);
      u32(checked_length(n, "a bytes/str"));
    }
    raw(s.data(), n);
  }

  void tuple(const std::vector<Value>& items, std::size_t depth) {
    if (depth >= max_encode_depth) fail_encode_depth();
    std::size_t n = items.size();
    if (n == 0) return byte(tag::empty_tuple);
    if (n <= 4) {
      byte(static_cast<std::uint8_t>(tag::tup1 + n - 1));
    } else if (n < 256) {
      byte(tag::tup_l1);
      byte(static_cast<std::uint8_t>(n));
    } else {
      byte(tag::tup_l4);
      u32(checked_length(n, "a tuple"));
    }
    for (const auto& item : items) value(item, depth + 1);
  }

  std::vector<std::uint8_t>& out_;
};

// ---------------------------------------------------------------------------------------------
// Decoding

class Decoder {
 public:
  Decoder(std::span<const std::uint8_t> data, std::size_t pos, const Limits& limits)
      : data_(data), pos_(pos), max_depth_(limits.max_depth) {}

  std::size_t pos() const noexcept { return pos_; }

  // depth: how many containers enclose this value.
  Value value(std::size_t depth) {
    std::size_t at = pos_;
    std::uint8_t t = u8("a tag");
    if (t >= imm_first_tag && t <= imm_last_tag) {
      return Value(std::int64_t{t} - imm_bias);
    }
    switch (t) {
      case tag::none: return Value(None{});
      case tag::empty_bytes: return Value(Bytes{});
      case tag::empty_tuple: return Value(Tuple{});
      case tag::true_: return Value(true);
      case tag::false_: return Value(false);
      case tag::not_implemented: return Value(NotImplemented{});
      case tag::ellipsis: return Value(Ellipsis{});
      case tag::unicode: return Value(unicode(at));
      case tag::str1:
      case tag::str1 + 1:
      case tag::str1 + 2:
      case tag::str4:
      case tag::str_l1:
      case tag::str_l4: return Value(Bytes{byte_string(t, "bytes")});
      case tag::tup1:
      case tag::tup1 + 1:
      case tag::tup1 + 2:
      case tag::tup4:
      case tag::tup_l1:
      case tag::tup_l4: return Value(Tuple{items(t, at, depth)});
      case tag::int_l1: return integer(u8("an int length"), at);
      case tag::int_l4: return integer(u32("an int length"), at);
      case tag::float_: return Value(f64());
      case tag::complex: {
        double re = f64();
        double im = f64();
        return Value(std::complex<double>(re, im));
      }
      case tag::slice: {
        std::size_t inner = pos_;
        std::uint8_t it = u8("the tuple of a slice");
        if (!is_tuple_tag(it)) fail_wraps("a slice", at, it, inner, "a tuple");
        auto parts = items(it, inner, depth);
        if (parts.size() != 3) fail_slice_arity(at, parts.size());
        return Value(Slice{std::move(parts)});
      }
      case tag::fset: {
        std::size_t inner = pos_;
        std::uint8_t it = u8("the tuple of a frozenset");
        if (!is_tuple_tag(it)) fail_wraps("a frozenset", at, it, inner, "a tuple");
        return Value(FrozenSet{items(it, inner, depth)});
      }
      default: fail_unknown_tag(t, at);
    }
  }

 private:
  static bool is_tuple_tag(std::uint8_t t) noexcept {
    return t == tag::empty_tuple || (t >= tag::tup1 && t <= tag::tup_l4);
  }

  std::size_t left() const noexcept { return data_.size() - pos_; }

  void need(std::size_t n, const char* what) const {
    if (n > left()) fail_truncated(what, pos_, n, left());
  }

  std::uint8_t u8(const char* what) {
    need(1, what);
    return data_[pos_++];
  }

  std::uint32_t u32(const char* what) {
    need(4, what);
    const std::uint8_t* p = data_.data() + pos_;
    pos_ += 4;
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           std::uint32_t{p[3]};
  }

  double f64() {
    need(8, "a float");
    std::uint64_t bits = 0;
    for (int i = 0; i < 8; ++i) bits = (bits << 8) | data_[pos_ + static_cast<std::size_t>(i)];
    pos_ += 8;
    return std::bit_cast<double>(bits);
  }

  std::string_view take(std::size_t n, const char* what) {
    need(n, what);
    std::string_view s(reinterpret_cast<const char*>(data_.data() + pos_), n);
    pos_ += n;
    return s;
  }

  // The body of a bytes tag t (already read); a std::string of exactly its length.
  std::string byte_string(std::uint8_t t, const char* what) {
    std::size_t n = 0;
    if (t == tag::empty_bytes) return {};
    if (t >= tag::str1 && t <= tag::str4)
      n = std::size_t{t} - tag::str1 + 1;
    else if (t == tag::str_l1)
      n = u8("a bytes length");
    else
      n = u32("a bytes length");
    return std::string(take(n, what));
  }

  // TAG_UNICODE: a bytes encoding of UTF-8 follows. Decoded here, without recursing.
  std::string unicode(std::size_t at) {
    std::size_t inner = pos_;
    std::uint8_t t = u8("the bytes of a str");
    if (!(t == tag::empty_bytes || (t >= tag::str1 && t <= tag::str_l4))) {
      fail_wraps("a str", at, t, inner, "bytes");
    }
    std::string s = byte_string(t, "a str");
    if (!is_valid_utf8(s)) fail_at("a str", at, "is not valid UTF-8");
    return s;
  }

  // Items of a tuple whose tag t (at offset at) was read.
  std::vector<Value> items(std::uint8_t t, std::size_t at, std::size_t depth) {
    std::size_t n = 0;
    if (t == tag::empty_tuple) return {};
    if (t >= tag::tup1 && t <= tag::tup4)
      n = std::size_t{t} - tag::tup1 + 1;
    else if (t == tag::tup_l1)
      n = u8("a tuple length");
    else
      n = u32("a tuple length");
    if (depth + 1 > max_depth_) fail_depth(at, max_depth_);
    // Every item costs at least one byte: refuse a count the input cannot hold before
    // reserving memory for it.
    if (n > left()) fail_count(at, n, left());
    std::vector<Value> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) out.push_back(value(depth + 1));
    return out;
  }

  // INT_L1 / INT_L4: what Python's str(int) writes, an optional '-' and decimal digits.
  Value integer(std::size_t n, std::size_t at) {
    std::string_view text = take(n, "an int text");
    std::string_view body = text;
    bool negative = !body.empty() && body.front() == '-';
    if (negative) body.remove_prefix(1);
    if (body.empty()) fail_at("an int", at, "is not decimal text");
    // One pass checks the digits and accumulates the magnitude while it fits 64 bits.
    std::uint64_t magnitude = 0;
    bool fits = true;
    for (char c : body) {
      const auto digit = static_cast<unsigned>(c - '0');
      if (digit > 9) fail_at("an int", at, "is not decimal text");
      // Both steps run whatever the first says: the magnitude must stay in step.
      const bool mul_overflow = __builtin_mul_overflow(magnitude, 10u, &magnitude);
      const bool add_overflow = __builtin_add_overflow(magnitude, digit, &magnitude);
      fits = fits && !mul_overflow && !add_overflow;
    }
    constexpr auto max_positive = static_cast<std::uint64_t>(INT64_MAX);
    if (fits && magnitude <= max_positive + (negative ? 1 : 0)) {
      return Value(negative ? static_cast<std::int64_t>(0 - magnitude) : static_cast<std::int64_t>(magnitude));
    }
    // Does not fit int64 (so not all zeros): canonical digits without leading zeros.
    body.remove_prefix(body.find_first_not_of('0'));
    BigInt big;
    big.digits.reserve(body.size() + (negative ? 1 : 0));
    if (negative) big.digits.push_back('-');
    big.digits.append(body);
    return Value(std::move(big));
  }

  std::span<const std::uint8_t> data_;
  std::size_t pos_;
  std::size_t max_depth_;
};

}  // namespace

bool is_valid_utf8(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p != end) {
    // ASCII fast path, 8 bytes at a time.
    while (end - p >= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      if (w & 0x8080808080808080ull) break;
      p += 8;
    }
    if (p == end) break;
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

void encode_int(std::int64_t i, std::vector<std::uint8_t>& out) { Encoder(out).integer(i); }

void encode_str(std::string_view s, std::vector<std::uint8_t>& out) { Encoder(out).str(s); }

Value decode_prefix(std::span<const std::uint8_t> data, std::size_t& offset, const Limits& limits) {
  if (offset > data.size()) {
    fail("decode offset " + std::to_string(offset) + " is past the end of " +
         std::to_string(data.size()) + " bytes");
  }
  Decoder d(data, offset, limits);
  Value v = d.value(0);
  offset = d.pos();
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
