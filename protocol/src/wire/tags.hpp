#pragma once
// Brine's tags (rpyc/core/brine.py) and the boxing labels as they appear on the wire: the one
// table every encoder and decoder of netref reads.
#include <cstdint>

#include "netref/protocol/consts.hpp"

namespace netref::detail::wire {

namespace tag {
inline constexpr std::uint8_t none = 0x00;
inline constexpr std::uint8_t empty_bytes = 0x01;
inline constexpr std::uint8_t empty_tuple = 0x02;
inline constexpr std::uint8_t true_ = 0x03;
inline constexpr std::uint8_t false_ = 0x04;
inline constexpr std::uint8_t not_implemented = 0x05;
inline constexpr std::uint8_t ellipsis = 0x06;
inline constexpr std::uint8_t unicode = 0x08;  ///< a str: bytes of its UTF-8 follow
inline constexpr std::uint8_t str1 = 0x0a;     ///< str1..str4 (0x0a..0x0d): bytes of length 1..4
inline constexpr std::uint8_t str4 = 0x0d;
inline constexpr std::uint8_t str_l1 = 0x0e;  ///< bytes, a u8 length follows
inline constexpr std::uint8_t str_l4 = 0x0f;  ///< bytes, a big-endian u32 length follows
inline constexpr std::uint8_t tup1 = 0x10;    ///< tup1..tup4 (0x10..0x13): tuples of 1..4 items
inline constexpr std::uint8_t tup2 = 0x11;
inline constexpr std::uint8_t tup3 = 0x12;
inline constexpr std::uint8_t tup4 = 0x13;
inline constexpr std::uint8_t tup_l1 = 0x14;  ///< a tuple, a u8 count follows
inline constexpr std::uint8_t tup_l4 = 0x15;  ///< a tuple, a big-endian u32 count follows
inline constexpr std::uint8_t int_l1 = 0x16;  ///< an int as decimal text, a u8 length follows
inline constexpr std::uint8_t int_l4 = 0x17;  ///< the same, a u32 length follows
inline constexpr std::uint8_t float_ = 0x18;  ///< a big-endian IEEE double follows
inline constexpr std::uint8_t slice = 0x19;   ///< a 3-tuple follows
inline constexpr std::uint8_t fset = 0x1a;    ///< a tuple of the items follows
inline constexpr std::uint8_t complex = 0x1b;  ///< two doubles follow
}  // namespace tag

/// Immediate ints: -48..159 travel as the one byte i + 0x50 (0x20..0xef).
inline constexpr std::int64_t imm_min = -0x30;
inline constexpr std::int64_t imm_max = 0x9f;
inline constexpr std::uint8_t imm_first_tag = 0x20;
inline constexpr std::uint8_t imm_last_tag = 0xef;
inline constexpr std::uint8_t imm_bias = 0x50;

constexpr bool is_immediate(std::uint8_t t) noexcept { return t >= imm_first_tag && t <= imm_last_tag; }
constexpr std::int64_t immediate_value(std::uint8_t t) noexcept { return std::int64_t{t} - imm_bias; }
/// The byte of an int in -48..159 (the caller checks the range).
constexpr std::uint8_t immediate(std::int64_t i) noexcept { return static_cast<std::uint8_t>(i + imm_bias); }

constexpr bool is_tuple_tag(std::uint8_t t) noexcept {
  return t == tag::empty_tuple || (t >= tag::tup1 && t <= tag::tup_l4);
}
constexpr bool is_bytes_tag(std::uint8_t t) noexcept {
  return t == tag::empty_bytes || (t >= tag::str1 && t <= tag::str_l4);
}

/// A boxing label's byte: labels are immediate ints (LABEL_VALUE 1 is 0x51).
constexpr std::uint8_t label_byte(Label l) noexcept { return immediate(static_cast<std::int64_t>(l)); }

}  // namespace netref::detail::wire
