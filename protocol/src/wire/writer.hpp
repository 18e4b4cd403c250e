#pragma once
// The one writer of brine: primitives that append to a message being built. Everything that
// puts brine bytes on the wire (brine::encode, boxing, the message builders) goes through here.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "tags.hpp"

namespace netref::detail::wire {

using Buffer = std::vector<std::uint8_t>;

/// Throws ProtocolError: a length brine's u32 cannot carry (what names the thing).
[[noreturn, gnu::cold]] void fail_length(std::size_t n, const char* what);
/// Throws ProtocolError: a str that is not valid UTF-8.
[[noreturn, gnu::cold]] void fail_utf8();

inline void put_byte(std::uint8_t b, Buffer& out) { out.push_back(b); }

/// Appends n raw bytes; a large blob leaves room for the rest of its message, since a range
/// insert grows to exactly what it needs and the next byte would move the blob again.
inline void put_raw(const void* p, std::size_t n, Buffer& out) {
  constexpr std::size_t large_blob = 4096;
  constexpr std::size_t tail_room = 1024;
  const auto* b = static_cast<const std::uint8_t*>(p);
  if (n >= large_blob && out.capacity() - out.size() < n) out.reserve(out.size() + n + tail_room);
  out.insert(out.end(), b, b + n);
}

/// A big-endian u32 (brine's long lengths and counts).
inline void put_u32(std::uint32_t n, Buffer& out) {
  const std::uint8_t b[4] = {static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16),
                             static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)};
  put_raw(b, 4, out);
}

/// n as a brine u32, or ProtocolError naming what.
inline std::uint32_t checked_length(std::size_t n, const char* what) {
  if (n > 0xFFFFFFFFu) fail_length(n, what);
  return static_cast<std::uint32_t>(n);
}

/// A tuple's header for n items, the shortest form (its items follow).
inline void put_tuple_header(std::size_t n, Buffer& out) {
  if (n == 0) return put_byte(tag::empty_tuple, out);
  if (n <= 4) return put_byte(static_cast<std::uint8_t>(tag::tup1 + n - 1), out);
  if (n < 256) {
    put_byte(tag::tup_l1, out);
    return put_byte(static_cast<std::uint8_t>(n), out);
  }
  const std::uint32_t count = checked_length(n, "a tuple");
  put_byte(tag::tup_l4, out);
  put_u32(count, out);
}

/// An int: immediate for -48..159, else INT_L1 and its decimal text (as Python's str(int)).
void put_int_text(std::int64_t i, Buffer& out);
inline void put_int(std::int64_t i, Buffer& out) {
  if (i >= imm_min && i <= imm_max) return put_byte(immediate(i), out);
  put_int_text(i, out);
}

/// A uint64 (object ids, type ids): an int, as a big int past int64's range.
void put_u64(std::uint64_t v, Buffer& out);

/// A decimal int text of any size; digits must be canonical (no sign, no leading zeros).
void put_big_int(bool negative, std::string_view digits, Buffer& out);

/// The head of bytes of length n, the shortest form: its tag and length (n bytes follow).
inline void put_bytes_head(std::size_t n, Buffer& out) {
  if (n == 0) return put_byte(tag::empty_bytes, out);
  if (n <= 4) {
    put_byte(static_cast<std::uint8_t>(tag::str1 + n - 1), out);
  } else if (n < 256) {
    put_byte(tag::str_l1, out);
    put_byte(static_cast<std::uint8_t>(n), out);
  } else {
    const std::uint32_t length = checked_length(n, "a bytes/str");
    put_byte(tag::str_l4, out);
    put_u32(length, out);
  }
}

/// Bytes, the shortest form.
inline void put_bytes(std::string_view s, Buffer& out) {
  put_bytes_head(s.size(), out);
  if (!s.empty()) put_raw(s.data(), s.size(), out);
}

/// A str: TAG_UNICODE, then its UTF-8 as bytes. Throws ProtocolError for invalid UTF-8,
/// having appended nothing.
void put_str(std::string_view s, Buffer& out);

/// A big-endian IEEE double (TAG_FLOAT's body, each half of TAG_COMPLEX's).
void put_f64(double d, Buffer& out);

/// The head of a boxed value, `(label, `: a 2-tuple tag and the label. Two push_backs: a
/// braced insert goes through vector's general range insert.
inline void put_label(Label l, Buffer& out) {
  out.push_back(tag::tup2);
  out.push_back(label_byte(l));
}

}  // namespace netref::detail::wire
