#pragma once
// What every harness shares: a reader that turns the fuzzer's bytes into choices, a check that
// stops the run loudly (libFuzzer and the replay programs report it as a crash), a generator of
// Values, and value comparison that treats two NaNs with the same bits as equal.
#include <bit>
#include <complex>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "netref/protocol/value.hpp"

/// Fails the run when cond is false: prints where and why, then aborts. For harness
/// invariants only; the library must never abort on peer input (docs/FAULTS.md R9).
#define NETREF_FUZZ_CHECK(cond, detail)                                     \
  do {                                                                      \
    if (!(cond)) ::netref::fuzz::fail(__FILE__, __LINE__, #cond, (detail)); \
  } while (0)

namespace netref::fuzz {

[[noreturn]] inline void fail(const char* file, int line, const char* condition, const std::string& detail) {
  std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n  %s\n", file, line, condition, detail.c_str());
  std::fflush(stderr);
  std::abort();
}

/// NETREF_FUZZ_TRACE set in the environment: harnesses print what they do (to analyse a crash
/// with the replay program).
inline bool trace() {
  static const bool on = std::getenv("NETREF_FUZZ_TRACE") != nullptr;
  return on;
}

/// The fuzzer's bytes as a sequence of choices. Reads past the end yield zeros, so every
/// input is a valid program and short inputs mean "the simplest choice".
class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

  bool empty() const noexcept { return pos_ >= size_; }
  std::size_t left() const noexcept { return empty() ? 0 : size_ - pos_; }

  std::uint8_t u8() noexcept { return empty() ? 0 : data_[pos_++]; }
  std::uint16_t u16() noexcept { return static_cast<std::uint16_t>(u8() << 8 | u8()); }
  std::uint32_t u32() noexcept { return std::uint32_t{u16()} << 16 | u16(); }
  std::uint64_t u64() noexcept { return std::uint64_t{u32()} << 32 | u32(); }
  /// A choice among n (n <= 256).
  std::size_t below(std::size_t n) noexcept { return n == 0 ? 0 : u8() % n; }
  /// One of the listed values.
  template <class T, std::size_t N>
  T pick(const T (&choices)[N]) noexcept {
    return choices[below(N)];
  }

  /// Up to n bytes (fewer at the end of the input).
  std::span<const std::uint8_t> bytes(std::size_t n) noexcept {
    const std::size_t k = n < left() ? n : left();
    std::span<const std::uint8_t> out(data_ + pos_, k);
    pos_ += k;
    return out;
  }
  std::string text(std::size_t n) {
    auto b = bytes(n);
    return std::string(b.begin(), b.end());
  }
  /// Everything not read yet.
  std::span<const std::uint8_t> rest() noexcept { return bytes(left()); }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

/// Well-formed UTF-8 per RFC 3629, written independently of brine::is_valid_utf8 so the two
/// can be compared.
inline bool utf8_ok(std::string_view s) noexcept {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1Fu;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0Fu;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07u;
    } else {
      return false;
    }
    if (s.size() - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      cp = cp << 6 | (b & 0x3Fu);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return false;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

/// Structural equality where doubles compare by their bits (NaN == NaN, -0.0 != 0.0): what a
/// byte-exact round trip must preserve. References compare by identity.
bool same_value(const Value& a, const Value& b);

inline bool same_items(const std::vector<Value>& a, const std::vector<Value>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!same_value(a[i], b[i])) return false;
  }
  return true;
}

inline bool same_value(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) return false;
  using K = Value::Kind;
  const auto bits = [](double d) { return std::bit_cast<std::uint64_t>(d); };
  switch (a.kind()) {
    case K::floating: return bits(*a.get_if<double>()) == bits(*b.get_if<double>());
    case K::complex: {
      auto x = *a.get_if<std::complex<double>>();
      auto y = *b.get_if<std::complex<double>>();
      return bits(x.real()) == bits(y.real()) && bits(x.imag()) == bits(y.imag());
    }
    case K::tuple: return same_items(a.get_if<Tuple>()->items, b.get_if<Tuple>()->items);
    case K::frozenset: return same_items(a.get_if<FrozenSet>()->items, b.get_if<FrozenSet>()->items);
    case K::slice: return same_items(a.get_if<Slice>()->parts, b.get_if<Slice>()->parts);
    default: return a == b;
  }
}

/// What a value becomes after a brine round trip: a BigInt that fits int64 becomes an int,
/// other BigInts lose their leading zeros (and "-0..." is 0). Assumes encodable digits.
inline Value normalized(const Value& v) {
  auto items = [](const std::vector<Value>& in) {
    std::vector<Value> out;
    out.reserve(in.size());
    for (const auto& item : in) out.push_back(normalized(item));
    return out;
  };
  if (const auto* big = v.get_if<BigInt>()) {
    std::string_view body = big->digits;
    const bool negative = !body.empty() && body.front() == '-';
    if (negative) body.remove_prefix(1);
    const auto first = body.find_first_not_of('0');
    body.remove_prefix(first == std::string_view::npos ? body.size() : first);
    if (body.empty()) return Value(std::int64_t{0});
    // int64 range: up to 19 digits, compared as text against the bounds.
    const std::string_view limit = negative ? "9223372036854775808" : "9223372036854775807";
    if (body.size() < limit.size() || (body.size() == limit.size() && body <= limit)) {
      std::uint64_t magnitude = 0;
      for (char c : body) magnitude = magnitude * 10 + static_cast<std::uint64_t>(c - '0');
      return Value(negative ? static_cast<std::int64_t>(0 - magnitude) : static_cast<std::int64_t>(magnitude));
    }
    return Value(BigInt{(negative ? "-" : "") + std::string(body)});
  }
  if (const auto* t = v.get_if<Tuple>()) return Value(Tuple{items(t->items)});
  if (const auto* f = v.get_if<FrozenSet>()) return Value(FrozenSet{items(f->items)});
  if (const auto* s = v.get_if<Slice>()) return Value(Slice{items(s->parts)});
  return v;
}

/// True if brine::encode must accept v: every str well-formed UTF-8, every BigInt decimal
/// text, every slice three parts, no references, nesting within the encoder's 1024 levels.
inline bool encodable(const Value& v, std::size_t depth = 0) {
  auto all = [depth](const std::vector<Value>& items) {
    if (depth >= 1024) return false;
    for (const auto& item : items) {
      if (!encodable(item, depth + 1)) return false;
    }
    return true;
  };
  switch (v.kind()) {
    case Value::Kind::string: return utf8_ok(*v.get_if<std::string>());
    case Value::Kind::big_integer: {
      std::string_view d = v.get_if<BigInt>()->digits;
      if (!d.empty() && d.front() == '-') d.remove_prefix(1);
      return !d.empty() && d.find_first_not_of("0123456789") == std::string_view::npos;
    }
    case Value::Kind::tuple: return all(v.get_if<Tuple>()->items);
    case Value::Kind::frozenset: return all(v.get_if<FrozenSet>()->items);
    case Value::Kind::slice: return v.get_if<Slice>()->parts.size() == 3 && all(v.get_if<Slice>()->parts);
    case Value::Kind::local_object:
    case Value::Kind::remote_ref: return false;
    default: return true;
  }
}

/// Names the harnesses use as attribute names and strings: what the test objects expose,
/// what they do not, and the names docs/FAULTS.md E1 lists as hostile.
inline constexpr std::string_view kWords[] = {
    "add",   "make", "fail",     "echo",    "apply",  "value",         "self",     "sum",
    "keys",  "big",  "missing",  "__init__", "__class__", "exposed_add", "_private", "",
    "a.b",   "x",    "__call__", "__repr__", "__eq__", "__next__",      "exposed_", "throw_int",
    "keep",  "forget", "pair",   "twice",   "\xff\xfe", std::string_view("a\0b", 3),        "__dict__", "kept"};

/// How a generated value may be malformed.
struct GenOptions {
  std::size_t max_depth = 6;     ///< deepest tuple nesting generated
  bool invalid = true;           ///< allow invalid UTF-8, non-decimal BigInts, bad slices
  bool long_strings = false;     ///< allow strings past 64 KiB (the exception caps), at depth <= 1
};

/// A Value chosen by the input: every brine kind, nested up to options.max_depth.
inline Value make_value(Input& in, const GenOptions& options, std::size_t depth = 0) {
  auto items = [&](std::size_t n) {
    std::vector<Value> out;
    for (std::size_t i = 0; i < n && !in.empty(); ++i) out.push_back(make_value(in, options, depth + 1));
    return out;
  };
  const std::uint8_t kind = in.u8();
  switch (kind % 18) {
    case 0: return Value(None{});
    case 1: return Value((kind & 0x80) != 0);
    case 2: return Value(static_cast<std::int64_t>(static_cast<std::int8_t>(in.u8())));
    case 3: return Value(static_cast<std::int64_t>(in.u64()));
    case 4: {  // digits: canonical, with leading zeros, or (when allowed) not decimal at all
      std::string digits = (kind & 0x80) ? "-" : "";
      const std::size_t n = 1 + in.below(60);
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint8_t c = in.u8();
        digits.push_back(options.invalid && c >= 250 ? "x+- ."[c % 5] : static_cast<char>('0' + c % 10));
      }
      return Value(BigInt{std::move(digits)});
    }
    case 5: return Value(std::bit_cast<double>(in.u64()));
    case 6: return Value(std::complex<double>(std::bit_cast<double>(in.u64()), std::bit_cast<double>(in.u64())));
    case 7: return Value(Bytes{in.text(in.u8())});
    case 8: {
      std::string s(kWords[in.below(std::size(kWords))]);
      if (!options.invalid && !utf8_ok(s)) s = "word";
      return Value(std::move(s));
    }
    case 9: {
      std::string s = in.text(in.u8());
      if (!options.invalid && !utf8_ok(s)) s = "text";
      return Value(std::move(s));
    }
    case 10: {  // a long string: a short piece repeated, around the 64 KiB caps when allowed
      std::string piece = in.text(1 + in.below(8));
      if (piece.empty() || (!options.invalid && !utf8_ok(piece))) piece = "\xc3\xa9";  // é
      std::size_t length = 1 + in.below(200);
      if (options.long_strings && depth <= 1 && (kind & 0x80)) length = 65536 - 64 + in.u8();  // just under to just over
      std::string s;
      s.reserve(length + piece.size());
      while (s.size() + piece.size() <= length) s += piece;  // whole pieces: valid UTF-8 stays valid
      return Value(std::move(s));
    }
    case 11:
    case 12:
      if (depth >= options.max_depth) return Value(Tuple{});
      return Value(Tuple{items(in.below(6))});
    case 13:
      if (depth >= options.max_depth) return Value(FrozenSet{});
      return Value(FrozenSet{items(in.below(4))});
    case 14: {
      if (depth >= options.max_depth) return Value(Ellipsis{});
      std::size_t n = 3;
      if (options.invalid && (kind & 0x80)) n = in.below(5);
      std::vector<Value> parts;
      for (std::size_t i = 0; i < n; ++i) parts.push_back(depth + 1 >= options.max_depth ? Value() : make_value(in, options, depth + 1));
      return Value(Slice{std::move(parts)});
    }
    case 15: return Value(Ellipsis{});
    case 16: return Value(NotImplemented{});
    default: return Value(static_cast<std::int64_t>(in.u16()) - 0x8000);
  }
}

}  // namespace netref::fuzz
