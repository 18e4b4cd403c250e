#pragma once
// Running a parsed expression against a server: names are attributes of its root object,
// attribute reads and calls are requests (a whole chain a.b.c(x) is one round trip between
// netref peers), literals are sent as values.
#include <cstddef>
#include <stdexcept>
#include <string>

#include "expression.hpp"
#include "netref/protocol/remote_ref.hpp"

namespace netref::cli {

/// Something the expression asks of a plain value that only a remote object can do (calling
/// a str, reading an attribute of an int), with the column of the part that asked.
class EvaluationError : public std::runtime_error {
 public:
  EvaluationError(std::size_t column, const std::string& message)
      : std::runtime_error(message), column_(column) {}
  std::size_t column() const noexcept { return column_; }

 private:
  std::size_t column_;
};

/// The value of expression, evaluated against root. Throws EvaluationError, and what the
/// requests throw: RemoteError (and its subclasses), Timeout, ConnectionClosed.
Value evaluate(const Expression& expression, const RemoteRefPtr& root);

}  // namespace netref::cli
