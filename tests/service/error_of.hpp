#pragma once
// The message of the error a callable throws, for checking what a user would read.
#include <string>
#include <typeinfo>
#include <utility>

#include "netref/protocol/errors.hpp"

namespace netref::test {

/// Runs fn; returns the message of the E it throws, or "<no E>" if it throws none.
template <class E, class F>
std::string error_of(F&& fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.message();
  }
  return "<no " + std::string(typeid(E).name()) + ">";
}

template <class F>
std::string type_error_of(F&& fn) {
  return error_of<TypeError>(std::forward<F>(fn));
}
/// A local conversion's failure: a ConversionError, not an error of the peer.
template <class F>
std::string conversion_error_of(F&& fn) {
  return error_of<ConversionError>(std::forward<F>(fn));
}
template <class F>
std::string attribute_error_of(F&& fn) {
  return error_of<AttributeError>(std::forward<F>(fn));
}

}  // namespace netref::test
