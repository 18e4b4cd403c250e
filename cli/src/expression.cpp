// A recursive-descent parser for the Python subset of expression.hpp: a lexer that turns the
// text into tokens on demand, and one function per grammar rule.
//
//   expression := sign* NUMBER | postfix
//   postfix    := primary ( '.' NAME | '(' arguments ')' | '[' expression ']' )*
//   primary    := NAME | NUMBER | STRING+ | '(' ')' | '(' expression ')'
//               | '(' expression ',' [expression (',' expression)* [',']] ')'
//               | '[' [expression (',' expression)* [',']] ']'
//   arguments  := [argument (',' argument)* [',']]
//   argument   := NAME '=' expression | expression
#include "expression.hpp"

#include <charconv>
#include <complex>
#include <cstdint>
#include <cstdlib>
#include <utility>

namespace netref::cli {
namespace {

// ---- small helpers ---------------------------------------------------------------------------

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

int digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 99;
}

void append_utf8(std::string& out, std::uint32_t code_point) {
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xC0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    out += static_cast<char>(0xE0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code_point >> 18));
    out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
}

/// Decimal digits of an unsigned number written in `base` (2, 8 or 16), however long.
std::string to_decimal(std::string_view digits, int base) {
  std::vector<std::uint8_t> decimal{0};  // least significant digit first
  for (char c : digits) {
    int carry = digit_value(c);
    for (auto& d : decimal) {
      const int v = d * base + carry;
      d = static_cast<std::uint8_t>(v % 10);
      carry = v / 10;
    }
    for (; carry > 0; carry /= 10) decimal.push_back(static_cast<std::uint8_t>(carry % 10));
  }
  std::string out;
  for (auto it = decimal.rbegin(); it != decimal.rend(); ++it) out += static_cast<char>('0' + *it);
  return out;
}

/// An int from its decimal digits: int64 when it fits, BigInt otherwise.
Value make_int(bool negative, std::string digits) {
  const auto first = digits.find_first_not_of('0');
  digits = first == std::string::npos ? "0" : digits.substr(first);
  const std::string text = (negative && digits != "0" ? "-" : "") + digits;
  std::int64_t small = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), small);
  if (error == std::errc() && end == text.data() + text.size()) return Value(small);
  return Value(BigInt{text});
}

// ---- tokens ----------------------------------------------------------------------------------

enum class TokenKind { end, name, integer, floating, imaginary, string, bytes, punct };

struct Token {
  TokenKind kind = TokenKind::end;
  std::size_t offset = 0;  // where it starts in the text
  std::string text;        // a name, a number's digits (no underscores), a string's value
  char punct = 0;          // ( ) [ ] { } , . = + - and anything else unexpected
  double number = 0;       // floating, imaginary
};

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  /// The 1-based character column of a byte offset (UTF-8 continuation bytes do not count).
  std::size_t column(std::size_t offset) const {
    std::size_t col = 1;
    for (std::size_t i = 0; i < offset && i < text_.size(); ++i) {
      if ((static_cast<unsigned char>(text_[i]) & 0xC0) != 0x80) ++col;
    }
    return col;
  }

  [[noreturn]] void fail(std::size_t offset, const std::string& message) const {
    throw SyntaxError(column(offset), message);
  }

  std::size_t position() const noexcept { return pos_; }
  void rewind(std::size_t position) noexcept { pos_ = position; }

  Token next() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\r')) {
      ++pos_;
    }
    Token token;
    token.offset = pos_;
    if (pos_ >= text_.size()) return token;
    const char c = text_[pos_];
    if (c == '\'' || c == '"') return string_token(pos_, pos_, false, false);
    if (is_name_start(c)) return name_or_prefixed_string();
    if (is_digit(c) || (c == '.' && pos_ + 1 < text_.size() && is_digit(text_[pos_ + 1]))) return number();
    if (static_cast<unsigned char>(c) >= 0x80) {
      fail(pos_, "unexpected non-ASCII character outside a string (names are ASCII here)");
    }
    token.kind = TokenKind::punct;
    token.punct = c;
    ++pos_;
    return token;
  }

 private:
  Token name_or_prefixed_string() {
    const std::size_t start = pos_;
    while (pos_ < text_.size() && is_name_char(text_[pos_])) ++pos_;
    const std::string_view word = text_.substr(start, pos_ - start);
    if (pos_ < text_.size() && (text_[pos_] == '\'' || text_[pos_] == '"') && word.size() <= 2) {
      bool raw = false, bytes = false, other = false, format = false;
      for (char p : word) {
        const char lower = static_cast<char>(p | 0x20);
        if (lower == 'r') raw = true;
        else if (lower == 'b') bytes = true;
        else if (lower == 'f') format = true;
        else if (lower != 'u' || word.size() != 1) other = true;
      }
      if (format) fail(start, "f-strings are not supported: write the string out");
      if (!other) return string_token(start, pos_, raw, bytes);
    }
    Token token;
    token.kind = TokenKind::name;
    token.offset = start;
    token.text = std::string(word);
    return token;
  }

  Token number() {
    const std::size_t start = pos_;
    Token token;
    token.offset = start;
    if (text_[pos_] == '0' && pos_ + 1 < text_.size()) {
      const char p = static_cast<char>(text_[pos_ + 1] | 0x20);
      const int base = p == 'x' ? 16 : p == 'o' ? 8 : p == 'b' ? 2 : 0;
      if (base != 0) {
        pos_ += 2;
        token.text = digits(base);
        if (token.text.empty()) {
          fail(start, std::string("invalid ") + (base == 16 ? "hexadecimal" : base == 8 ? "octal" : "binary") +
                          " literal: no digits after the prefix");
        }
        token.text = to_decimal(token.text, base);
        token.kind = TokenKind::integer;
        reject_letters_after(start, base == 16 ? "hexadecimal" : base == 8 ? "octal" : "binary");
        return token;
      }
    }
    std::string clean = digits(10);
    bool is_float = false;
    if (pos_ < text_.size() && text_[pos_] == '.') {
      is_float = true;
      ++pos_;
      clean += '.';
      clean += digits(10);
    }
    if (pos_ < text_.size() && (text_[pos_] | 0x20) == 'e') {
      std::size_t p = pos_ + 1;
      std::string exponent = "e";
      if (p < text_.size() && (text_[p] == '+' || text_[p] == '-')) exponent += text_[p++];
      if (p < text_.size() && is_digit(text_[p])) {
        pos_ = p;
        exponent += digits(10);
        clean += exponent;
        is_float = true;
      } else {
        fail(pos_, "invalid float literal: the exponent has no digits");
      }
    }
    if (pos_ < text_.size() && (text_[pos_] | 0x20) == 'j') {
      ++pos_;
      token.kind = TokenKind::imaginary;
      token.number = parse_double(clean);
    } else if (is_float) {
      token.kind = TokenKind::floating;
      token.number = parse_double(clean);
    } else {
      if (clean.size() > 1 && clean[0] == '0' && clean.find_first_not_of('0') != std::string::npos) {
        fail(start, "leading zeros in decimal integer literals are not permitted; use an 0o prefix for octal integers");
      }
      token.kind = TokenKind::integer;
      token.text = std::move(clean);
    }
    reject_letters_after(start, "decimal");
    return token;
  }

  /// Digits of `base` with Python's single underscores between them; moves past them.
  std::string digits(int base) {
    std::string out;
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == '_') {
        if (pos_ + 1 >= text_.size() || digit_value(text_[pos_ + 1]) >= base) {
          fail(pos_, "invalid number literal: '_' must sit between two digits");
        }
        ++pos_;
        continue;
      }
      if (digit_value(c) >= base) break;
      out += c;
      ++pos_;
    }
    return out;
  }

  void reject_letters_after(std::size_t start, const char* kind) {
    if (pos_ < text_.size() && (is_name_char(text_[pos_]) || text_[pos_] == '.')) {
      fail(start, std::string("invalid ") + kind + " literal: '" + std::string(1, text_[pos_]) +
                      "' cannot follow its digits");
    }
  }

  static double parse_double(const std::string& text) {
    // strtod, in the "C" locale the program never changes, rounds like Python's float():
    // overflow gives inf, underflow 0 or a subnormal.
    return std::strtod(text.c_str(), nullptr);
  }

  /// A str or bytes literal whose prefix starts at `start` and whose quote is at `quote_pos`.
  Token string_token(std::size_t start, std::size_t quote_pos, bool raw, bool bytes) {
    Token token;
    token.offset = start;
    token.kind = bytes ? TokenKind::bytes : TokenKind::string;
    const char quote = text_[quote_pos];
    const bool triple = text_.substr(quote_pos, 3) == std::string(3, quote);
    pos_ = quote_pos + (triple ? 3 : 1);
    std::string& out = token.text;
    for (;;) {
      if (pos_ >= text_.size() || (!triple && text_[pos_] == '\n')) {
        fail(start, std::string("unterminated ") + (triple ? "triple-quoted " : "") + "string literal");
      }
      const char c = text_[pos_];
      if (c == quote && (!triple || text_.substr(pos_, 3) == std::string(3, quote))) {
        pos_ += triple ? 3 : 1;
        return token;
      }
      if (bytes && static_cast<unsigned char>(c) >= 0x80) {
        fail(pos_, "bytes can only contain ASCII literal characters");
      }
      if (c != '\\') {
        out += c;
        ++pos_;
        continue;
      }
      if (pos_ + 1 >= text_.size()) fail(start, "unterminated string literal");
      if (raw) {  // a backslash keeps the next character, both stay
        out += c;
        out += text_[pos_ + 1];
        pos_ += 2;
        continue;
      }
      escape(out, bytes);
    }
  }

  /// One escape sequence at pos_ (a backslash), appended to out.
  void escape(std::string& out, bool bytes) {
    const std::size_t at = pos_;
    const char e = text_[pos_ + 1];
    pos_ += 2;
    switch (e) {
      case '\n': return;  // line continuation
      case '\\': out += '\\'; return;
      case '\'': out += '\''; return;
      case '"': out += '"'; return;
      case 'a': out += '\a'; return;
      case 'b': out += '\b'; return;
      case 'f': out += '\f'; return;
      case 'n': out += '\n'; return;
      case 'r': out += '\r'; return;
      case 't': out += '\t'; return;
      case 'v': out += '\v'; return;
      default: break;
    }
    if (e >= '0' && e <= '7') {
      std::uint32_t value = static_cast<std::uint32_t>(e - '0');
      for (int i = 0; i < 2 && pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '7'; ++i) {
        value = value * 8 + static_cast<std::uint32_t>(text_[pos_++] - '0');
      }
      if (bytes) {
        if (value > 0xFF) fail(at, "octal escape value above \\377 in a bytes literal");
        out += static_cast<char>(value);
      } else {
        append_utf8(out, value);
      }
      return;
    }
    const int hex_digits = e == 'x' ? 2 : (!bytes && e == 'u') ? 4 : (!bytes && e == 'U') ? 8 : 0;
    if (hex_digits > 0) {
      std::uint32_t value = 0;
      for (int i = 0; i < hex_digits; ++i) {
        if (pos_ >= text_.size() || digit_value(text_[pos_]) >= 16) {
          fail(at, std::string("truncated \\") + e + std::string(static_cast<std::size_t>(hex_digits), 'X') +
                       " escape");
        }
        value = value * 16 + static_cast<std::uint32_t>(digit_value(text_[pos_++]));
      }
      if (e == 'x' && bytes) {
        out += static_cast<char>(value);
      } else if (value > 0x10FFFF) {
        fail(at, "illegal Unicode character in \\U escape");
      } else if (value >= 0xD800 && value <= 0xDFFF) {
        fail(at, "a surrogate code point cannot be sent as UTF-8");
      } else {
        append_utf8(out, value);
      }
      return;
    }
    if (!bytes && e == 'N') fail(at, "\\N{...} escapes are not supported: use \\u or \\U");
    out += '\\';  // Python keeps an unknown escape as it is written
    pos_ = at + 1;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

// ---- the parser ------------------------------------------------------------------------------

std::string describe(const Token& token) {
  switch (token.kind) {
    case TokenKind::end: return "the end of the expression";
    case TokenKind::name: return "name '" + token.text + "'";
    case TokenKind::integer:
    case TokenKind::floating:
    case TokenKind::imaginary: return "a number";
    case TokenKind::string: return "a string";
    case TokenKind::bytes: return "a bytes literal";
    case TokenKind::punct: return "'" + std::string(1, token.punct) + "'";
  }
  return "a token";
}

class Parser {
 public:
  explicit Parser(std::string_view text) : lexer_(text) { advance(); }

  Expression parse_all() {
    Expression e = expression();
    if (current_.kind != TokenKind::end) {
      fail_here("unexpected " + describe(current_) + " after a complete expression");
    }
    return e;
  }

 private:
  void advance() { current_ = lexer_.next(); }
  bool at_punct(char p) const { return current_.kind == TokenKind::punct && current_.punct == p; }
  std::size_t column() const { return lexer_.column(current_.offset); }
  [[noreturn]] void fail_here(const std::string& message) const { lexer_.fail(current_.offset, message); }

  void expect_close(char close, std::size_t open_offset, const char* what) {
    if (at_punct(close)) {
      advance();
      return;
    }
    fail_here("expected '" + std::string(1, close) + "' to close the " + what + " opened at column " +
              std::to_string(lexer_.column(open_offset)) + ", found " + describe(current_));
  }

  static Expression node(auto value, std::size_t column) {
    Expression e;
    e.node = std::move(value);
    e.column = column;
    return e;
  }

  Expression expression() {
    if (at_punct('-') || at_punct('+')) return signed_number();
    return postfix();
  }

  Expression signed_number() {
    const std::size_t col = column();
    bool negative = false;
    while (at_punct('-') || at_punct('+')) {
      negative ^= current_.punct == '-';
      advance();
    }
    Token number = current_;
    if (number.kind != TokenKind::integer && number.kind != TokenKind::floating &&
        number.kind != TokenKind::imaginary) {
      fail_here("a sign must be followed by a number, found " + describe(number));
    }
    advance();
    Literal literal{literal_number(number, negative)};
    return node(std::move(literal), col);
  }

  static Value literal_number(const Token& token, bool negative) {
    switch (token.kind) {
      case TokenKind::integer: return make_int(negative, token.text);
      case TokenKind::floating: return Value(negative ? -token.number : token.number);
      default: return Value(std::complex<double>(0.0, negative ? -token.number : token.number));
    }
  }

  Expression postfix() {
    Expression e = primary();
    for (;;) {
      const std::size_t col = column();
      const std::size_t offset = current_.offset;
      if (at_punct('.')) {
        advance();
        if (current_.kind != TokenKind::name) fail_here("expected an attribute name after '.', found " + describe(current_));
        Attribute attribute{std::make_unique<Expression>(std::move(e)), current_.text};
        advance();
        e = node(std::move(attribute), col);
      } else if (at_punct('(')) {
        advance();
        Call call{std::make_unique<Expression>(std::move(e)), arguments()};
        expect_close(')', offset, "call");
        e = node(std::move(call), col);
      } else if (at_punct('[')) {
        advance();
        if (at_punct(']')) fail_here("expected an index inside '[]'");
        Subscript subscript{std::make_unique<Expression>(std::move(e)), std::make_unique<Expression>(expression())};
        expect_close(']', offset, "subscript");
        e = node(std::move(subscript), col);
      } else {
        return e;
      }
    }
  }

  std::vector<Argument> arguments() {
    std::vector<Argument> args;
    bool keywords_started = false;
    while (!at_punct(')')) {
      if (current_.kind == TokenKind::end) break;  // expect_close words it
      Argument argument;
      const std::size_t start = current_.offset;
      if (current_.kind == TokenKind::name && next_is_equals()) {
        argument.keyword = current_.text;
        for (const auto& a : args) {
          if (a.keyword == argument.keyword) fail_here("keyword argument repeated: " + argument.keyword);
        }
        advance();  // the name
        advance();  // '='
        keywords_started = true;
      } else if (keywords_started) {
        lexer_.fail(start, "positional argument follows keyword argument");
      }
      argument.value = std::make_unique<Expression>(expression());
      args.push_back(std::move(argument));
      if (!at_punct(',')) break;
      advance();
    }
    return args;
  }

  /// Whether the token after the current one is a single '=' (a keyword argument).
  bool next_is_equals() {
    const std::size_t saved = lexer_.position();
    const Token after = lexer_.next();
    lexer_.rewind(saved);
    return after.kind == TokenKind::punct && after.punct == '=';
  }

  Expression primary() {
    const std::size_t col = column();
    const std::size_t offset = current_.offset;
    switch (current_.kind) {
      case TokenKind::name: {
        std::string name = current_.text;
        advance();
        if (name == "None") return node(Literal{Value()}, col);
        if (name == "True") return node(Literal{Value(true)}, col);
        if (name == "False") return node(Literal{Value(false)}, col);
        return node(Name{std::move(name)}, col);
      }
      case TokenKind::integer:
      case TokenKind::floating:
      case TokenKind::imaginary: {
        Literal literal{literal_number(current_, false)};
        advance();
        return node(std::move(literal), col);
      }
      case TokenKind::string:
      case TokenKind::bytes: return strings(col);
      case TokenKind::end: fail_here("unexpected end of the expression: expected a name or a value");
      case TokenKind::punct: break;
    }
    if (at_punct('(')) {
      advance();
      if (at_punct(')')) {
        advance();
        return node(Sequence{false, {}}, col);
      }
      Expression first = expression();
      if (!at_punct(',')) {
        expect_close(')', offset, "parenthesis");
        first.column = col;
        return first;
      }
      Sequence tuple{false, {}};
      tuple.items.push_back(std::move(first));
      items(tuple, ')');
      expect_close(')', offset, "tuple");
      return node(std::move(tuple), col);
    }
    if (at_punct('[')) {
      Sequence list{true, {}};
      if (advance(); !at_punct(']')) {
        list.items.push_back(expression());
        items(list, ']');
      }
      expect_close(']', offset, "list");
      return node(std::move(list), col);
    }
    if (at_punct('{')) fail_here("dict and set literals are not supported: brine has neither (pass a list of pairs)");
    fail_here("unexpected " + describe(current_) + ": expected a name or a value");
  }

  /// The rest of a list or tuple after its first item: (',' item)* [','].
  void items(Sequence& sequence, char close) {
    while (at_punct(',')) {
      advance();
      if (at_punct(close)) return;
      sequence.items.push_back(expression());
    }
  }

  /// Adjacent string literals join, as in Python; str and bytes do not mix.
  Expression strings(std::size_t col) {
    const bool is_bytes = current_.kind == TokenKind::bytes;
    std::string joined;
    while (current_.kind == TokenKind::string || current_.kind == TokenKind::bytes) {
      if ((current_.kind == TokenKind::bytes) != is_bytes) fail_here("cannot mix bytes and nonbytes literals");
      joined += current_.text;
      advance();
    }
    return node(Literal{is_bytes ? Value(Bytes{std::move(joined)}) : Value(std::move(joined))}, col);
  }

  Lexer lexer_;
  Token current_;
};

}  // namespace

Expression parse_expression(std::string_view text) { return Parser(text).parse_all(); }

}  // namespace netref::cli
