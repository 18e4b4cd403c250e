// Remote errors: building them from the wire, and describing local exceptions for the wire.
#include "netref/protocol/errors.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <new>
#include <stdexcept>
#include <typeinfo>

namespace netref {
namespace {

std::string what_of(const ExceptionInfo& info) {
  std::string msg = info.message();
  if (msg.empty()) return info.class_name;
  return info.class_name + ": " + msg;
}

ExceptionInfo builtin(std::string class_name, std::string message) {
  ExceptionInfo info;
  info.class_name = std::move(class_name);
  info.args.emplace_back(std::move(message));
  return info;
}

std::string current_type_name() {
  const std::type_info* type = abi::__cxa_current_exception_type();
  if (type == nullptr) return "unknown";
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> demangled(abi::__cxa_demangle(type->name(), nullptr, nullptr, &status),
                                                   std::free);
  return status == 0 && demangled ? std::string(demangled.get()) : std::string(type->name());
}

// The class, args and attributes error travels as (describe_exception without the traceback).
ExceptionInfo class_of(const std::exception_ptr& error, const ExceptionMap* exceptions, const std::string& cpp_type) {
  try {
    std::rethrow_exception(error);
  } catch (const RemoteInfo& e) {
    // Keeps its class: a Python error passed through stays a Python error, a registered
    // type raised from a reply its registered class. The peer's version is not ours.
    ExceptionInfo info = e.info();
    std::erase_if(info.attrs, [](const auto& attr) { return attr.first == "_remote_version"; });
    return info;
  } catch (...) {
  }
  if (ExceptionInfo info; exceptions != nullptr && exceptions->describe(error, info)) return info;
  try {
    std::rethrow_exception(error);
  } catch (const ConversionError& e) {
    return builtin("TypeError", e.what());  // an argument or a value of the wrong type
  } catch (const std::invalid_argument& e) {
    return builtin("ValueError", e.what());
  } catch (const std::domain_error& e) {
    return builtin("ValueError", e.what());
  } catch (const std::out_of_range& e) {
    return builtin("IndexError", e.what());
  } catch (const std::length_error& e) {
    return builtin("ValueError", e.what());
  } catch (const std::overflow_error& e) {
    return builtin("OverflowError", e.what());
  } catch (const std::bad_alloc& e) {
    return builtin("MemoryError", e.what());
  } catch (const Timeout& e) {
    return builtin("TimeoutError", e.what());
  } catch (const ConnectionClosed& e) {
    return builtin("ConnectionError", e.what());
  } catch (const std::exception& e) {
    return builtin("RuntimeError", e.what());
  } catch (...) {
    return builtin("RuntimeError", "unknown C++ exception of type " + cpp_type);
  }
}

}  // namespace

const Value* RemoteInfo::attr(std::string_view name) const noexcept {
  for (const auto& [key, value] : info_.attrs) {
    if (key == name) return &value;
  }
  return nullptr;
}

std::string RemoteInfo::remote_version() const {
  const Value* v = attr("_remote_version");
  const auto* s = v != nullptr ? v->get_if<std::string>() : nullptr;
  return s != nullptr ? *s : std::string();
}

RemoteError::RemoteError(ExceptionInfo info) : Error(what_of(info)), RemoteInfo(std::move(info)) {}

RemoteError::RemoteError(std::string class_name, std::string message)
    : RemoteError(builtin(std::move(class_name), std::move(message))) {}

StopIteration::StopIteration() : RemoteError([] {
  ExceptionInfo info;
  info.class_name = "StopIteration";
  info.stop_iteration = true;
  return info;
}()) {}

std::exception_ptr make_remote_exception(ExceptionInfo info, const ExceptionMap* exceptions) {
  if (info.stop_iteration) return std::make_exception_ptr(StopIteration(std::move(info)));
  if (exceptions != nullptr) {
    if (auto registered = exceptions->raise(info)) return registered;
  }
  if (info.module == "builtins") {
    const auto& c = info.class_name;
    auto raise = [&]<class E>() { return std::make_exception_ptr(E(std::move(info))); };
    if (c == "AttributeError") return raise.operator()<AttributeError>();
    if (c == "TypeError") return raise.operator()<TypeError>();
    if (c == "KeyError") return raise.operator()<KeyError>();
    if (c == "IndexError") return raise.operator()<IndexError>();
    if (c == "ValueError") return raise.operator()<ValueError>();
    if (c == "LookupError") return raise.operator()<LookupError>();
    if (c == "ArithmeticError") return raise.operator()<ArithmeticError>();
    if (c == "ZeroDivisionError") return raise.operator()<ZeroDivisionError>();
    if (c == "OverflowError") return raise.operator()<OverflowError>();
    if (c == "RuntimeError") return raise.operator()<RuntimeError>();
    if (c == "NotImplementedError") return raise.operator()<NotImplementedError>();
    if (c == "AssertionError") return raise.operator()<AssertionError>();
    if (c == "MemoryError") return raise.operator()<MemoryError>();
    if (c == "TimeoutError") return raise.operator()<TimeoutError>();
    if (c == "StopIteration") return raise.operator()<StopIteration>();
  }
  return std::make_exception_ptr(RemoteError(std::move(info)));
}

ExceptionInfo describe_exception(std::exception_ptr error, std::string_view context,
                                 const ExceptionMap* exceptions) noexcept {
  try {
    std::string cpp_type;
    try {
      std::rethrow_exception(error);
    } catch (...) {
      cpp_type = current_type_name();  // only valid inside a handler
    }
    ExceptionInfo info = class_of(error, exceptions, cpp_type);
    if (info.stop_iteration) return info;
    std::string tb = info.traceback;
    if (!tb.empty() && tb.back() != '\n') tb += '\n';
    tb += "Traceback (netref C++ peer):\n  while serving ";
    tb.append(context);
    tb += "\n  C++ exception ";
    tb += cpp_type;
    tb += "\n";
    tb += info.class_name;
    const std::string msg = info.message();
    if (!msg.empty()) tb += ": " + msg;
    tb += "\n";
    info.traceback = std::move(tb);
    return info;
  } catch (...) {
    ExceptionInfo fallback;
    fallback.class_name = "RuntimeError";
    return fallback;
  }
}

}  // namespace netref
