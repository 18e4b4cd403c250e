#pragma once
// The one pull parser of brine: reads a message one tag, one header, one body at a time from a
// span, and checks as it goes what every decoder must: truncation, nesting depth, counts the
// bytes left cannot hold, and the decode budget (what the Values built from one message may
// take). Beneath both brine::decode (the general decoder) and BoxedReader (the fast path).
//
// Nothing here throws: a method that finds a problem records it and answers false. The general
// decoder then calls raise(), which throws the ProtocolError naming the problem; the fast path
// just answers false and leaves the wording to the general decoder.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "decimal.hpp"
#include "netref/protocol/brine.hpp"
#include "netref/protocol/value.hpp"
#include "tags.hpp"

namespace netref::detail::wire {

/// What the budget charges for each item of a tuple, frozenset or slice: the Value it becomes.
inline constexpr std::size_t value_cost = sizeof(Value);

class Parser {
 public:
  /// data: the whole message; reading starts at pos. limits: depth and budget.
  Parser(std::span<const std::uint8_t> data, std::size_t pos, const brine::Limits& limits) noexcept
      : data_(data), pos_(pos), max_depth_(limits.max_depth), max_items_(limits.max_items),
        max_bytes_(limits.max_bytes) {}

  std::size_t pos() const noexcept { return pos_; }
  std::size_t left() const noexcept { return data_.size() - pos_; }
  bool at_end() const noexcept { return pos_ == data_.size(); }
  std::span<const std::uint8_t> data() const noexcept { return data_; }

  /// Where the parser stands: position, depth and what the budget has charged.
  struct Mark {
    std::size_t pos, depth, items, bytes;
  };
  Mark mark() const noexcept { return {pos_, depth_, items_, bytes_}; }
  /// Back to a mark: a reader that tried one way reads again another way, charged once.
  void rewind(const Mark& m) noexcept {
    pos_ = m.pos;
    depth_ = m.depth;
    items_ = m.items;
    bytes_ = m.bytes;
  }

  /// The next byte (a tag, or v6's raw message type).
  bool tag(std::uint8_t& t) {
    if (pos_ == data_.size()) return truncated("a tag", 1);
    t = data_[pos_++];
    return true;
  }

  /// After a tuple tag t (read at offset at): its item count in n, and the tuple opened:
  /// checked against the depth limit, against the bytes left (every item takes one at
  /// least) and charged to the budget, all before anyone reserves memory for n items. The
  /// caller reads n values, then calls close().
  [[gnu::always_inline]] bool open_tuple(std::uint8_t t, std::size_t at, std::size_t& n) {
    if (t == tag::empty_tuple) {
      n = 0;
    } else if (t >= tag::tup1 && t <= tag::tup4) {
      n = std::size_t{t} - tag::tup1 + 1;
    } else if (t == tag::tup_l1) {
      if (!u8("a tuple length", n)) return false;
    } else if (t == tag::tup_l4) {
      if (!u32("a tuple length", n)) return false;
    } else {
      return reject(Problem::not_a_tuple, at, t);
    }
    return open_counted_tuple(at, n);
  }
  /// The rest of open_tuple, once the count n is known.
  [[gnu::always_inline]] bool open_counted_tuple(std::size_t at, std::size_t n) {
    if (depth_ + 1 > max_depth_) return reject(Problem::depth, at);
    if (n > left()) return reject(Problem::count, at, 0, n);
    if (items_ + n > max_items_) return reject(Problem::items_budget, at, 0, n);
    if (bytes_ + n * value_cost > max_bytes_) return reject(Problem::bytes_budget, at, 0, n);
    items_ += n;
    bytes_ += n * value_cost;
    ++depth_;
    return true;
  }
  /// Ends a tuple open_tuple opened.
  void close() noexcept { --depth_; }

  /// After a bytes tag t: its body, a view into the data, charged to the budget.
  bool bytes_body(std::uint8_t t, const char* what, std::string_view& out) {
    std::size_t n = 0;
    if (t >= tag::str1 && t <= tag::str4) {
      n = std::size_t{t} - tag::str1 + 1;
    } else if (t == tag::str_l1) {
      if (!u8("a bytes length", n)) return false;
    } else if (t == tag::str_l4) {
      if (!u32("a bytes length", n)) return false;
    } else if (t != tag::empty_bytes) {
      return reject(Problem::not_bytes, pos_ - 1, t);
    }
    return take(n, what, out);
  }

  /// After TAG_UNICODE (read at offset at): the str, a view into the data, valid UTF-8.
  bool str_body(std::size_t at, std::string_view& out) {
    const std::size_t inner = pos_;
    if (pos_ == data_.size()) return truncated("the bytes of a str", 1);
    const std::uint8_t t = data_[pos_++];
    if (!is_bytes_tag(t)) return reject(Problem::str_wraps, at, t, inner);
    if (!bytes_body(t, "a str", out)) return false;
    if (!brine::is_valid_utf8(out)) return reject(Problem::utf8, at);
    return true;
  }

  /// After INT_L1 or INT_L4 (read at offset at): the int's decimal text, parsed.
  bool int_text(std::uint8_t t, std::size_t at, DecimalInt& out) {
    std::size_t n = 0;
    if (!(t == tag::int_l1 ? u8("an int length", n) : u32("an int length", n))) return false;
    std::string_view text;
    if (!take(n, "an int text", text)) return false;
    if (!parse_decimal(text, out)) return reject(Problem::int_text, at);
    return true;
  }

  /// An int of any form (immediate, INT_L1, INT_L4) that fits int64; false otherwise (a
  /// bigger one is no error: the caller reads it the general way).
  [[gnu::always_inline]] bool int64(std::int64_t& out) {
    const std::size_t at = pos_;
    std::uint8_t t = 0;
    if (!tag(t)) return false;
    if (is_immediate(t)) {
      out = immediate_value(t);
      return true;
    }
    DecimalInt d;
    if (t != tag::int_l1 && t != tag::int_l4) return reject(Problem::not_an_int, at, t);
    if (!int_text(t, at, d) || !d.fits_int64()) return false;
    out = d.to_int64();
    return true;
  }

  /// A big-endian double (TAG_FLOAT's body, each half of TAG_COMPLEX's).
  bool f64(double& out);

  /// Records a problem the caller found (an unknown tag, a slice of the wrong arity, a
  /// frozenset or slice that wraps no tuple); answers false.
  bool unknown_tag(std::uint8_t t, std::size_t at) { return reject(Problem::unknown_tag, at, t); }
  bool wraps(const char* what, std::size_t at, std::uint8_t t, std::size_t inner) {
    what_ = what;
    return reject(Problem::container_wraps, at, t, inner);
  }
  bool slice_arity(std::size_t at, std::size_t n) { return reject(Problem::slice_arity, at, 0, n); }

  /// Throws the ProtocolError for the problem recorded last, naming it and its offset.
  [[noreturn, gnu::cold, gnu::noinline]] void raise() const;

 private:
  enum class Problem : std::uint8_t {
    none, truncated, not_a_tuple, not_bytes, not_an_int, depth, count, items_budget, bytes_budget,
    str_wraps, container_wraps, utf8, int_text, unknown_tag, slice_arity,
  };

  // Out of line: the hot paths stay small, a failure is rare.
  [[gnu::cold, gnu::noinline]] bool reject(Problem p, std::size_t at, std::uint8_t t = 0, std::size_t n = 0);
  [[gnu::cold, gnu::noinline]] bool truncated(const char* what, std::size_t need);

  bool u8(const char* what, std::size_t& n) {
    if (pos_ == data_.size()) return truncated(what, 1);
    n = data_[pos_++];
    return true;
  }
  bool u32(const char* what, std::size_t& n) {
    if (left() < 4) return truncated(what, 4);
    const std::uint8_t* p = data_.data() + pos_;
    n = (std::size_t{p[0]} << 24) | (std::size_t{p[1]} << 16) | (std::size_t{p[2]} << 8) | p[3];
    pos_ += 4;
    return true;
  }
  bool take(std::size_t n, const char* what, std::string_view& out) {
    if (n > left()) return truncated(what, n);
    if (bytes_ + n > max_bytes_) return reject(Problem::bytes_budget, pos_, 0, n);
    bytes_ += n;
    out = std::string_view(reinterpret_cast<const char*>(data_.data() + pos_), n);
    pos_ += n;
    return true;
  }

  std::span<const std::uint8_t> data_;
  std::size_t pos_;
  std::size_t depth_ = 0;  // tuples open around the next value
  std::size_t max_depth_;
  std::size_t items_ = 0;  // budget charged: items of tuples read
  std::size_t bytes_ = 0;  // budget charged: value_cost per item, plus text and bytes bodies
  std::size_t max_items_;
  std::size_t max_bytes_;
  // The problem recorded last, for raise().
  Problem problem_ = Problem::none;
  std::uint8_t problem_tag_ = 0;
  std::size_t problem_at_ = 0;
  std::size_t problem_n_ = 0;
  std::size_t problem_left_ = 0;
  const char* what_ = "";
};

/// The general decoder's one value at the parser's position (brine.cpp): throws
/// ProtocolError naming the problem. The fast path calls it for what it does not read itself.
Value read_value(Parser& p);

}  // namespace netref::detail::wire
