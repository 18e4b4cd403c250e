// The writer's out-of-line pieces: decimal text, big ints, strs and doubles.
#include "writer.hpp"

#include <bit>
#include <charconv>
#include <cstring>
#include <limits>
#include <string>

#include "netref/protocol/brine.hpp"
#include "netref/stream/error.hpp"

namespace netref::detail::wire {

void fail_length(std::size_t n, const char* what) {
  throw ProtocolError("brine: " + std::string(what) + " of " + std::to_string(n) +
                      " exceeds brine's 32-bit length");
}

void fail_utf8() { throw ProtocolError("brine: a str holds invalid UTF-8 (send it as Bytes)"); }

void put_int_text(std::int64_t i, Buffer& out) {
  // Tag, length and digits built right to left in one small array, then appended at once:
  // an int is in every message (the seq).
  std::uint8_t text[24];
  std::uint8_t* const end = text + sizeof text;
  std::uint8_t* p = end;
  std::uint64_t magnitude = i < 0 ? 0 - static_cast<std::uint64_t>(i) : static_cast<std::uint64_t>(i);
  static constexpr char kPairs[] =
      "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
      "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
      "8081828384858687888990919293949596979899";
  while (magnitude >= 100) {  // two digits a step
    const auto pair = static_cast<std::size_t>(magnitude % 100) * 2;
    magnitude /= 100;
    *--p = static_cast<std::uint8_t>(kPairs[pair + 1]);
    *--p = static_cast<std::uint8_t>(kPairs[pair]);
  }
  if (magnitude >= 10) {
    const auto pair = static_cast<std::size_t>(magnitude) * 2;
    *--p = static_cast<std::uint8_t>(kPairs[pair + 1]);
    *--p = static_cast<std::uint8_t>(kPairs[pair]);
  } else {
    *--p = static_cast<std::uint8_t>('0' + magnitude);
  }
  if (i < 0) *--p = '-';
  const auto n = static_cast<std::uint8_t>(end - p);
  *--p = n;
  *--p = tag::int_l1;
  out.insert(out.end(), p, end);
}

void put_u64(std::uint64_t v, Buffer& out) {
  if (v <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return put_int(static_cast<std::int64_t>(v), out);
  }
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  put_big_int(false, std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)), out);
}

void put_big_int(bool negative, std::string_view digits, Buffer& out) {
  const std::size_t n = digits.size() + (negative ? 1 : 0);
  if (n < 256) {
    put_byte(tag::int_l1, out);
    put_byte(static_cast<std::uint8_t>(n), out);
  } else {
    const std::uint32_t length = checked_length(n, "an int text");
    put_byte(tag::int_l4, out);
    put_u32(length, out);
  }
  if (negative) put_byte('-', out);
  put_raw(digits.data(), digits.size(), out);
}

void put_str(std::string_view s, Buffer& out) {
  if (!brine::is_valid_utf8(s)) fail_utf8();
  if (s.size() > 0xFFFFFFFFu) fail_length(s.size(), "a bytes/str");
  put_byte(tag::unicode, out);
  put_bytes(s, out);
}

void put_f64(double d, Buffer& out) {
  const auto bits = std::bit_cast<std::uint64_t>(d);
  std::uint8_t b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<std::uint8_t>(bits >> (56 - 8 * i));
  put_raw(b, 8, out);
}

}  // namespace netref::detail::wire
