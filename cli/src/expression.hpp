#pragma once
// The expressions `netref call` takes, written as a Python user writes them:
//
//   add(2, 3)                       make_counter(10).add(5)
//   greet("ann", punctuation="?")   getmodule("os").getpid()
//   scale([1, 2.5], factor=-2)      echo(b"\x00\xff", None, (1,), 0x7f, 1e-3)
//
// A small subset of Python's grammar: names, attributes, calls (positional and keyword
// arguments), subscripts, and literals (None, True, False, ints of any size in decimal, hex,
// octal or binary, floats, imaginary numbers, str and bytes with Python's quotes, prefixes
// and escapes, lists and tuples). No operators beyond a sign on a number.
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "netref/protocol/value.hpp"

namespace netref::cli {

struct Expression;

/// None, a bool, an int (BigInt beyond int64), a float, a complex, a str or bytes.
struct Literal {
  Value value;
};
/// A bare name: an attribute of the server's root object.
struct Name {
  std::string name;
};
/// `object.name`.
struct Attribute {
  std::unique_ptr<Expression> object;
  std::string name;
};
/// One argument of a call; keyword is empty for a positional one.
struct Argument {
  std::string keyword;
  std::unique_ptr<Expression> value;
};
/// `callee(arguments...)`: positional arguments first, as Python requires.
struct Call {
  std::unique_ptr<Expression> callee;
  std::vector<Argument> arguments;
};
/// `object[index]`.
struct Subscript {
  std::unique_ptr<Expression> object;
  std::unique_ptr<Expression> index;
};
/// `[a, b]` or `(a, b)`. Both travel as a tuple: brine has no list (a Python client lends
/// its lists by reference instead).
struct Sequence {
  bool is_list = false;
  std::vector<Expression> items;
};

/// One node of the tree, with the column (1-based) where it starts, for error messages.
struct Expression {
  std::variant<Literal, Name, Attribute, Call, Subscript, Sequence> node;
  std::size_t column = 1;
};

/// A syntax error: what was expected and the 1-based column where it went wrong.
class SyntaxError : public std::runtime_error {
 public:
  SyntaxError(std::size_t column, const std::string& message)
      : std::runtime_error(message), column_(column) {}
  std::size_t column() const noexcept { return column_; }

 private:
  std::size_t column_;
};

/// Parses one whole expression. Throws SyntaxError.
Expression parse_expression(std::string_view text);

}  // namespace netref::cli
