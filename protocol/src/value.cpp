// Value's type names and its bounded debug rendering.
#include "netref/protocol/value.hpp"

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

namespace netref {

std::string_view Value::type_name() const noexcept {
  switch (kind()) {
    case Kind::none: return "NoneType";
    case Kind::boolean: return "bool";
    case Kind::integer: return "int";
    case Kind::big_integer: return "int";
    case Kind::floating: return "float";
    case Kind::complex: return "complex";
    case Kind::bytes: return "bytes";
    case Kind::string: return "str";
    case Kind::tuple: return "tuple";
    case Kind::frozenset: return "frozenset";
    case Kind::slice: return "slice";
    case Kind::ellipsis: return "ellipsis";
    case Kind::not_implemented: return "NotImplementedType";
    case Kind::local_object: return "object";
    case Kind::remote_ref: return "netref";
  }
  return "unknown";
}

namespace {

// Nesting past this prints "..." instead of recursing: locally built values are not
// depth-limited the way decoded ones are, and a log line needs no more.
constexpr std::size_t max_render_depth = 32;

// Appends to out until the limit is reached; the output is pure ASCII (everything else is
// escaped), so cutting it anywhere never splits a character.
class Renderer {
 public:
  Renderer(std::string& out, std::size_t limit) : out_(out), limit_(limit) {}

  bool full() const noexcept { return full_; }

  void put(std::string_view s) {
    if (full_) return;
    if (out_.size() + s.size() > limit_) {
      out_.append(s.substr(0, limit_ - out_.size()));
      full_ = true;
      return;
    }
    out_.append(s);
  }
  void put(char c) { put(std::string_view(&c, 1)); }

  void put_int(std::int64_t i) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, i);
    put(std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
  }

  // Python's float repr: shortest round-trip digits, "1.0" not "1", "inf", "nan".
  void put_double(double d) {
    if (std::isnan(d)) return put("nan");
    if (std::isinf(d)) return put(d < 0 ? "-inf" : "inf");
    char buf[40];
    auto r = std::to_chars(buf, buf + sizeof buf, d);
    std::string_view text(buf, static_cast<std::size_t>(r.ptr - buf));
    put(text);
    if (text.find_first_of(".e") == std::string_view::npos) put(".0");
  }

  void put_hex_escape(char prefix, std::uint32_t value, int digits) {
    static constexpr char hex[] = "0123456789abcdef";
    char buf[10] = {'\\', prefix};
    for (int i = 0; i < digits; ++i) buf[2 + i] = hex[(value >> (4 * (digits - 1 - i))) & 0xF];
    put(std::string_view(buf, static_cast<std::size_t>(2 + digits)));
  }

  // Quoted like Python's repr; printable ASCII as is, the rest escaped. For str, valid UTF-8
  // sequences become \uXXXX / \UXXXXXXXX; invalid bytes (and every non-ASCII byte of bytes)
  // become \xNN.
  void put_quoted(std::string_view s, bool is_str) {
    if (!is_str) put('b');
    put('\'');
    for (std::size_t i = 0; i < s.size() && !full_;) {
      auto c = static_cast<unsigned char>(s[i]);
      if (c < 0x80) {
        switch (c) {
          case '\\': put("\\\\"); break;
          case '\'': put("\\'"); break;
          case '\n': put("\\n"); break;
          case '\r': put("\\r"); break;
          case '\t': put("\\t"); break;
          default:
            if (c < 0x20 || c == 0x7F)
              put_hex_escape('x', c, 2);
            else
              put(static_cast<char>(c));
        }
        ++i;
        continue;
      }
      std::size_t len = 0;
      std::uint32_t cp = 0;
      if (is_str && decode_utf8(s.substr(i), cp, len)) {
        if (cp <= 0xFFFF)
          put_hex_escape('u', cp, 4);
        else
          put_hex_escape('U', cp, 8);
        i += len;
      } else {
        put_hex_escape('x', c, 2);
        ++i;
      }
    }
    put('\'');
  }

  void put_value(const Value& v, std::size_t depth) {
    if (full_) return;
    std::visit([&](const auto& x) { put_alternative(x, depth); }, v.storage());
  }

 private:
  // One well-formed UTF-8 sequence at the start of s (no overlongs, no surrogates).
  static bool decode_utf8(std::string_view s, std::uint32_t& cp, std::size_t& len) noexcept {
    auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    auto cont = [&](std::size_t i) { return i < s.size() && (b(i) & 0xC0) == 0x80; };
    unsigned char c = b(0);
    if (c >= 0xC2 && c <= 0xDF && cont(1)) {
      cp = ((c & 0x1Fu) << 6) | (b(1) & 0x3Fu);
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF && cont(1) && cont(2)) {
      cp = ((c & 0x0Fu) << 12) | ((b(1) & 0x3Fu) << 6) | (b(2) & 0x3Fu);
      if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
      len = 3;
    } else if (c >= 0xF0 && c <= 0xF4 && cont(1) && cont(2) && cont(3)) {
      cp = ((c & 0x07u) << 18) | ((b(1) & 0x3Fu) << 12) | ((b(2) & 0x3Fu) << 6) | (b(3) & 0x3Fu);
      if (cp < 0x10000 || cp > 0x10FFFF) return false;
      len = 4;
    } else {
      return false;
    }
    return true;
  }

  void put_items(const std::vector<Value>& items, std::size_t depth) {
    for (std::size_t i = 0; i < items.size() && !full_; ++i) {
      if (i != 0) put(", ");
      put_value(items[i], depth + 1);
    }
  }

  template <class T>
  void put_alternative(const T& x, std::size_t depth) {
    if constexpr (std::is_same_v<T, None>) {
      put("None");
    } else if constexpr (std::is_same_v<T, bool>) {
      put(x ? "True" : "False");
    } else if constexpr (std::is_same_v<T, std::int64_t>) {
      put_int(x);
    } else if constexpr (std::is_same_v<T, BigInt>) {
      put(x.digits);
    } else if constexpr (std::is_same_v<T, double>) {
      put_double(x);
    } else if constexpr (std::is_same_v<T, std::complex<double>>) {
      put('(');
      put_double(x.real());
      if (!(x.imag() < 0) && !std::signbit(x.imag())) put('+');
      put_double(x.imag());
      put("j)");
    } else if constexpr (std::is_same_v<T, Bytes>) {
      put_quoted(x.data, false);
    } else if constexpr (std::is_same_v<T, std::string>) {
      put_quoted(x, true);
    } else if constexpr (std::is_same_v<T, Tuple>) {
      if (depth >= max_render_depth) return put("(...)");
      put('(');
      put_items(x.items, depth);
      put(x.items.size() == 1 ? ",)" : ")");
    } else if constexpr (std::is_same_v<T, FrozenSet>) {
      if (depth >= max_render_depth) return put("frozenset(...)");
      if (x.items.empty()) return put("frozenset()");
      put("frozenset({");
      put_items(x.items, depth);
      put("})");
    } else if constexpr (std::is_same_v<T, Slice>) {
      if (depth >= max_render_depth) return put("slice(...)");
      put("slice(");
      put_items(x.parts, depth);
      put(')');
    } else if constexpr (std::is_same_v<T, Ellipsis>) {
      put("Ellipsis");
    } else if constexpr (std::is_same_v<T, NotImplemented>) {
      put("NotImplemented");
    } else if constexpr (std::is_same_v<T, ObjectPtr>) {
      put("<local object>");
    } else {
      static_assert(std::is_same_v<T, RemoteRefPtr>);
      put("<netref>");
    }
  }

  std::string& out_;
  std::size_t limit_;
  bool full_ = false;
};

}  // namespace

std::string Value::debug_string(std::size_t max_chars) const {
  std::string out;
  // Render one byte past the limit so "exactly max_chars" is not mistaken for "cut".
  std::size_t render_limit = max_chars == static_cast<std::size_t>(-1) ? max_chars : max_chars + 1;
  out.reserve(max_chars < 256 ? max_chars + 1 : 256);
  Renderer r(out, render_limit);
  r.put_value(*this, 0);
  if (out.size() > max_chars) {
    static constexpr std::string_view ellipsis = "...";
    if (max_chars <= ellipsis.size()) {
      out.resize(max_chars);
    } else {
      out.resize(max_chars - ellipsis.size());
      out.append(ellipsis);
    }
  }
  return out;
}

}  // namespace netref
