#pragma once
// The one reader of decimal int text: what brine's INT_L1/INT_L4 carry and what a BigInt holds.
#include <cstdint>
#include <string_view>

namespace netref::detail::wire {

/// A decimal int as Python's str(int) writes it: an optional '-', then ASCII digits.
struct DecimalInt {
  bool negative = false;
  bool fits_u64 = false;        ///< the magnitude fits 64 unsigned bits
  std::uint64_t magnitude = 0;  ///< valid when fits_u64
  std::string_view digits;      ///< the magnitude's digits as written (leading zeros kept)

  /// True when the value fits std::int64_t.
  bool fits_int64() const noexcept {
    constexpr auto max_positive = static_cast<std::uint64_t>(INT64_MAX);
    return fits_u64 && magnitude <= max_positive + (negative ? 1 : 0);
  }
  /// The value, when fits_int64().
  std::int64_t to_int64() const noexcept {
    return negative ? static_cast<std::int64_t>(0 - magnitude) : static_cast<std::int64_t>(magnitude);
  }
  /// The digits without leading zeros ("0" for zero): Python's canonical form.
  std::string_view canonical_digits() const noexcept {
    const auto first = digits.find_first_not_of('0');
    return first == std::string_view::npos ? digits.substr(digits.size() - 1) : digits.substr(first);
  }
};

/// Up to this many decimal digits always fit 64 unsigned bits (10^19 - 1 < 2^64).
inline constexpr std::size_t kDigitsAlwaysFitting = 19;

/// Parses text into out; false, when text is empty, a lone '-' or holds anything but digits
/// after the sign. One pass: the digits are checked and the magnitude accumulated together.
inline bool parse_decimal(std::string_view text, DecimalInt& out) noexcept {
  out.negative = !text.empty() && text.front() == '-';
  if (out.negative) text.remove_prefix(1);
  if (text.empty()) return false;
  std::uint64_t magnitude = 0;
  bool fits = true;
  if (text.size() <= kDigitsAlwaysFitting) {
    // Every seq and almost every int: no overflow is possible, so none is checked.
    for (char c : text) {
      const auto digit = static_cast<unsigned>(c) - '0';
      if (digit > 9) return false;
      magnitude = magnitude * 10 + digit;
    }
  } else {
    for (char c : text) {
      const auto digit = static_cast<unsigned>(c) - '0';
      if (digit > 9) return false;
      // Both steps run whatever the first says: the magnitude must stay in step.
      const bool mul_overflow = __builtin_mul_overflow(magnitude, 10u, &magnitude);
      const bool add_overflow = __builtin_add_overflow(magnitude, digit, &magnitude);
      fits = fits && !mul_overflow && !add_overflow;
    }
  }
  out.fits_u64 = fits;
  out.magnitude = magnitude;
  out.digits = text;
  return true;
}

}  // namespace netref::detail::wire
