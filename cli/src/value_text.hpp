#pragma once
// How `netref call` prints a result: as Python's repr() would, or as JSON (--json).
#include <string>

#include "netref/protocol/value.hpp"

namespace netref::cli {

/// Python's repr() of a value: 5, 2.5, 'text', b'\x00', (1, 'a'), None. A netref is asked
/// for its own repr (one REPR round trip each).
std::string python_repr(const Value& value);

/// The value as JSON: null, true, 15, 2.5, "text", arrays for tuples and frozensets. bytes
/// are a base64 string; a non-finite float is null; a complex is {"real": x, "imag": y}; a
/// netref is {"netref": "<type>", "repr": "<its repr>"} (one REPR round trip).
std::string to_json(const Value& value);

/// A JSON string literal: quotes, backslashes and control characters escaped, UTF-8 kept,
/// invalid UTF-8 bytes replaced by U+FFFD.
std::string json_string(const std::string& text);

/// Python's repr() of a float: shortest text that reads back the same, with ".0" on whole
/// numbers and an exponent outside 1e-4 <= |x| < 1e16 ("1e+16", "1e-05", "nan", "-inf").
std::string python_float(double value);

}  // namespace netref::cli
