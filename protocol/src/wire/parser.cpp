// The parser's cold half: recording a problem, and wording it.
#include "parser.hpp"

#include <bit>
#include <string>

#include "netref/stream/error.hpp"

namespace netref::detail::wire {
namespace {
std::string hex_byte(std::uint8_t b) {
  static constexpr char hex[] = "0123456789abcdef";
  return std::string{'0', 'x', hex[b >> 4], hex[b & 0xF]};
}
std::string at_offset(std::size_t at) { return " at offset " + std::to_string(at); }
}  // namespace

bool Parser::f64(double& out) {
  if (left() < 8) return truncated("a float", 8);
  std::uint64_t bits = 0;
  for (std::size_t i = 0; i < 8; ++i) bits = (bits << 8) | data_[pos_ + i];
  pos_ += 8;
  out = std::bit_cast<double>(bits);
  return true;
}

bool Parser::reject(Problem p, std::size_t at, std::uint8_t t, std::size_t n) {
  problem_ = p;
  problem_at_ = at;
  problem_tag_ = t;
  problem_n_ = n;
  problem_left_ = left();
  return false;
}

bool Parser::truncated(const char* what, std::size_t need) {
  what_ = what;
  return reject(Problem::truncated, pos_, 0, need);
}

void Parser::raise() const {
  const std::size_t at = problem_at_;
  const std::size_t n = problem_n_;
  std::string why;
  switch (problem_) {
    case Problem::none: why = "no problem recorded"; break;
    case Problem::truncated:
      why = "truncated input: " + std::string(what_) + at_offset(at) + " needs " + std::to_string(n) +
            " bytes, " + std::to_string(problem_left_) + " left";
      break;
    case Problem::not_a_tuple: why = "expected a tuple" + at_offset(at) + ", found tag " + hex_byte(problem_tag_); break;
    case Problem::not_bytes: why = "expected bytes" + at_offset(at) + ", found tag " + hex_byte(problem_tag_); break;
    case Problem::not_an_int: why = "expected an int" + at_offset(at) + ", found tag " + hex_byte(problem_tag_); break;
    case Problem::depth:
      why = "a tuple" + at_offset(at) + " is nested deeper than " + std::to_string(max_depth_) +
            " levels (max_depth)";
      break;
    case Problem::count:
      why = "truncated input: a tuple" + at_offset(at) + " declares " + std::to_string(n) + " items but only " +
            std::to_string(problem_left_) + " bytes are left";
      break;
    case Problem::items_budget:
      why = "a tuple" + at_offset(at) + " of " + std::to_string(n) + " items takes the message past " +
            std::to_string(max_items_) + " decoded values (max_decoded_items; " + std::to_string(items_) +
            " decoded before it)";
      break;
    case Problem::bytes_budget:
      why = "the value" + at_offset(at) + " takes the message past " + std::to_string(max_bytes_) +
            " bytes of decoded values (max_decoded_bytes; " + std::to_string(bytes_) +
            " charged before it, counting " + std::to_string(value_cost) + " bytes a value)";
      break;
    case Problem::str_wraps:
      why = "a str" + at_offset(at) + " is followed by tag " + hex_byte(problem_tag_) + at_offset(n) + ", not bytes";
      break;
    case Problem::container_wraps:
      why = std::string(what_) + at_offset(at) + " is followed by tag " + hex_byte(problem_tag_) + at_offset(n) +
            ", not a tuple";
      break;
    case Problem::utf8: why = "a str" + at_offset(at) + " is not valid UTF-8"; break;
    case Problem::int_text: why = "an int" + at_offset(at) + " is not decimal text"; break;
    case Problem::unknown_tag: why = "unknown brine tag " + hex_byte(problem_tag_) + at_offset(at); break;
    case Problem::slice_arity:
      why = "a slice" + at_offset(at) + " wraps a tuple of " + std::to_string(n) + " items, not 3";
      break;
  }
  throw ProtocolError("brine: " + why);
}

}  // namespace netref::detail::wire
