#pragma once
/// Exceptions over the wire: RPyC's vinegar tuples
/// ((module, class), args, ((attr, value), ...), traceback_text), or the int 1 for
/// StopIteration.
#include "netref/export.hpp"
#include <cstddef>
#include <string>
#include <vector>

#include "netref/protocol/value.hpp"

namespace netref {

/// A decoded remote exception, or one to encode. Strings are capped on decode.
struct NETREF_API ExceptionInfo {
  std::string module = "builtins";     ///< Python module of the class ("builtins", "netref")
  std::string class_name;              ///< "ValueError", "KeyError", ...
  std::vector<Value> args;             ///< exception args (plain values only)
  std::vector<std::pair<std::string, Value>> attrs;  ///< extra attributes
  std::string traceback;               ///< remote traceback text
  bool stop_iteration = false;         ///< the EXC_STOP_ITERATION shortcut (int 1)

  /// args[0] if it is a str, else a bounded rendering of args; "" when there are none.
  std::string message() const;
};

namespace exception_codec {

/// Caps applied when decoding (docs/FAULTS.md §5).
inline constexpr std::size_t max_text_bytes = 64 * 1024;

/// The wire form of info (the int 1 for stop_iteration). Args/attrs that hold references are
/// replaced by their debug_string, as vinegar replaces undumpable values by repr().
NETREF_API Value encode(const ExceptionInfo& info);

/// Parses a vinegar value. Never throws for odd shapes: anything unrecognised becomes
/// class "RemoteError" in module "netref" with a message describing what arrived. Message,
/// traceback and string args are truncated to max_text_bytes.
NETREF_API ExceptionInfo decode(const Value& wire);

}  // namespace exception_codec
}  // namespace netref
