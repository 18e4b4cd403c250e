#include "value_text.hpp"

#include <charconv>
#include <cmath>
#include <complex>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "netref/protocol/remote_ref.hpp"

namespace netref::cli {
namespace {

/// The code point starting at text[i] and its length in bytes; nullopt for a byte that does
/// not start a valid, shortest-form UTF-8 sequence.
std::optional<std::pair<std::uint32_t, std::size_t>> utf8_at(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  if (lead < 0x80) return std::pair{std::uint32_t{lead}, std::size_t{1}};
  std::size_t length = 0;
  std::uint32_t cp = 0;
  if ((lead & 0xE0) == 0xC0) {
    length = 2;
    cp = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
    cp = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
    cp = lead & 0x07;
  } else {
    return std::nullopt;
  }
  if (i + length > text.size()) return std::nullopt;
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return std::nullopt;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  static constexpr std::uint32_t shortest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < shortest[length] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
  return std::pair{cp, length};
}

std::string hex_escape(char prefix, std::uint32_t value, int digits) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "\\%c%0*x", prefix, digits, value);
  return buf;
}

/// Python's choice of quote: single, unless the text holds a single quote and no double.
char quote_for(std::string_view text) {
  return text.find('\'') != std::string_view::npos && text.find('"') == std::string_view::npos ? '"' : '\'';
}

bool append_common_escape(std::string& out, char c, char quote) {
  switch (c) {
    case '\\': out += "\\\\"; return true;
    case '\n': out += "\\n"; return true;
    case '\r': out += "\\r"; return true;
    case '\t': out += "\\t"; return true;
    default: break;
  }
  if (c == quote) {
    out += '\\';
    out += c;
    return true;
  }
  return false;
}

std::string str_repr(std::string_view text) {
  const char quote = quote_for(text);
  std::string out(1, quote);
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (append_common_escape(out, c, quote)) {
      ++i;
      continue;
    }
    const auto decoded = utf8_at(text, i);
    if (!decoded) {  // not UTF-8 (a C++ peer may send such a str): show the byte
      out += hex_escape('x', static_cast<unsigned char>(c), 2);
      ++i;
      continue;
    }
    const auto [cp, length] = *decoded;
    if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0)) {
      out += hex_escape('x', cp, 2);
    } else {
      out.append(text.substr(i, length));
    }
    i += length;
  }
  out += quote;
  return out;
}

std::string bytes_repr(std::string_view data) {
  const char quote = quote_for(data);
  std::string out = "b";
  out += quote;
  for (const char c : data) {
    if (append_common_escape(out, c, quote)) continue;
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte >= 0x7F) {
      out += hex_escape('x', byte, 2);
    } else {
      out += c;
    }
  }
  out += quote;
  return out;
}

/// A complex part as Python prints it: like a float, without a trailing ".0".
std::string complex_part(double value) {
  std::string text = python_float(value);
  if (text.size() > 2 && text.compare(text.size() - 2, 2, ".0") == 0) text.resize(text.size() - 2);
  return text;
}

std::string complex_repr(std::complex<double> c) {
  if (c.real() == 0.0 && !std::signbit(c.real())) return complex_part(c.imag()) + "j";
  std::string imag = complex_part(c.imag());
  if (imag[0] != '-') imag = "+" + imag;
  return "(" + complex_part(c.real()) + imag + "j)";
}

std::string joined(const std::vector<Value>& items, std::string (*render)(const Value&)) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i != 0) out += ", ";
    out += render(items[i]);
  }
  return out;
}

std::string base64(std::string_view data) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    const std::uint32_t n = (static_cast<unsigned char>(data[i]) << 16) |
                            (static_cast<unsigned char>(data[i + 1]) << 8) | static_cast<unsigned char>(data[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) out += alphabet[(n >> shift) & 0x3F];
  }
  if (const std::size_t rest = data.size() - i; rest > 0) {
    std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(data[i])) << 16;
    if (rest == 2) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(data[i + 1])) << 8;
    out += alphabet[(n >> 18) & 0x3F];
    out += alphabet[(n >> 12) & 0x3F];
    out += rest == 2 ? alphabet[(n >> 6) & 0x3F] : '=';
    out += '=';
  }
  return out;
}

std::string json_number(double value) {
  return std::isfinite(value) ? python_float(value) : "null";
}

}  // namespace

std::string python_float(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buf[64];
  // Shortest round-trip digits, in scientific form: "-1.2345e+02".
  const auto result = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
  const std::string_view text(buf, static_cast<std::size_t>(result.ptr - buf));
  const std::size_t e = text.find('e');
  std::string_view mantissa = text.substr(0, e);
  const int exponent = std::atoi(std::string(text.substr(e + 1)).c_str());
  std::string sign;
  if (!mantissa.empty() && mantissa[0] == '-') {
    sign = "-";
    mantissa.remove_prefix(1);
  }
  std::string digits;
  for (const char c : mantissa) {
    if (c != '.') digits += c;
  }
  if (exponent < -4 || exponent >= 16) {
    std::string out = sign + digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char exp_text[16];
    std::snprintf(exp_text, sizeof exp_text, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    return out + exp_text;
  }
  if (exponent < 0) return sign + "0." + std::string(static_cast<std::size_t>(-exponent - 1), '0') + digits;
  const auto whole = static_cast<std::size_t>(exponent) + 1;
  if (digits.size() <= whole) return sign + digits + std::string(whole - digits.size(), '0') + ".0";
  return sign + digits.substr(0, whole) + "." + digits.substr(whole);
}

std::string python_repr(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::none: return "None";
    case Value::Kind::boolean: return *value.get_if<bool>() ? "True" : "False";
    case Value::Kind::integer: return std::to_string(*value.get_if<std::int64_t>());
    case Value::Kind::big_integer: return value.get_if<BigInt>()->digits;
    case Value::Kind::floating: return python_float(*value.get_if<double>());
    case Value::Kind::complex: return complex_repr(*value.get_if<std::complex<double>>());
    case Value::Kind::bytes: return bytes_repr(value.get_if<Bytes>()->data);
    case Value::Kind::string: return str_repr(*value.get_if<std::string>());
    case Value::Kind::tuple: {
      const auto& items = value.get_if<Tuple>()->items;
      return "(" + joined(items, python_repr) + (items.size() == 1 ? ",)" : ")");
    }
    case Value::Kind::frozenset: {
      const auto& items = value.get_if<FrozenSet>()->items;
      return items.empty() ? "frozenset()" : "frozenset({" + joined(items, python_repr) + "})";
    }
    case Value::Kind::slice: return "slice(" + joined(value.get_if<Slice>()->parts, python_repr) + ")";
    case Value::Kind::ellipsis: return "Ellipsis";
    case Value::Kind::not_implemented: return "NotImplemented";
    case Value::Kind::local_object: return "<local object>";
    case Value::Kind::remote_ref: {
      const auto& ref = *value.get_if<RemoteRefPtr>();
      return ref ? ref->repr() : "None";
    }
  }
  return "?";
}

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    switch (c) {
      case '"': out += "\\\""; ++i; continue;
      case '\\': out += "\\\\"; ++i; continue;
      case '\b': out += "\\b"; ++i; continue;
      case '\f': out += "\\f"; ++i; continue;
      case '\n': out += "\\n"; ++i; continue;
      case '\r': out += "\\r"; ++i; continue;
      case '\t': out += "\\t"; ++i; continue;
      default: break;
    }
    const auto decoded = utf8_at(text, i);
    if (!decoded) {
      out += "\\ufffd";
      ++i;
    } else if (decoded->first < 0x20) {
      out += hex_escape('u', decoded->first, 4);
      ++i;
    } else {
      out.append(text, i, decoded->second);
      i += decoded->second;
    }
  }
  out += '"';
  return out;
}

std::string to_json(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::none:
    case Value::Kind::not_implemented: return "null";
    case Value::Kind::boolean: return *value.get_if<bool>() ? "true" : "false";
    case Value::Kind::integer: return std::to_string(*value.get_if<std::int64_t>());
    case Value::Kind::big_integer: return value.get_if<BigInt>()->digits;
    case Value::Kind::floating: return json_number(*value.get_if<double>());
    case Value::Kind::complex: {
      const auto c = *value.get_if<std::complex<double>>();
      return "{\"real\": " + json_number(c.real()) + ", \"imag\": " + json_number(c.imag()) + "}";
    }
    case Value::Kind::bytes: return "\"" + base64(value.get_if<Bytes>()->data) + "\"";
    case Value::Kind::string: return json_string(*value.get_if<std::string>());
    case Value::Kind::tuple: return "[" + joined(value.get_if<Tuple>()->items, to_json) + "]";
    case Value::Kind::frozenset: return "[" + joined(value.get_if<FrozenSet>()->items, to_json) + "]";
    case Value::Kind::slice: return "[" + joined(value.get_if<Slice>()->parts, to_json) + "]";
    case Value::Kind::ellipsis: return "\"...\"";
    case Value::Kind::local_object: return "null";
    case Value::Kind::remote_ref: {
      const auto& ref = *value.get_if<RemoteRefPtr>();
      if (!ref) return "null";
      return "{\"netref\": " + json_string(ref->id_pack().type_name) + ", \"repr\": " + json_string(ref->repr()) + "}";
    }
  }
  return "null";
}

}  // namespace netref::cli
