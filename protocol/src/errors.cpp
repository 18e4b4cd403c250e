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

}  // namespace

RemoteError::RemoteError(ExceptionInfo info) : Error(what_of(info)), info_(std::move(info)) {}

RemoteError::RemoteError(std::string class_name, std::string message)
    : RemoteError(builtin(std::move(class_name), std::move(message))) {}

StopIteration::StopIteration() : RemoteError([] {
  ExceptionInfo info;
  info.class_name = "StopIteration";
  info.stop_iteration = true;
  return info;
}()) {}

std::exception_ptr make_remote_exception(ExceptionInfo info) {
  if (info.stop_iteration) return std::make_exception_ptr(StopIteration(std::move(info)));
  if (info.module == "builtins") {
    const auto& c = info.class_name;
    if (c == "AttributeError") return std::make_exception_ptr(AttributeError(std::move(info)));
    if (c == "TypeError") return std::make_exception_ptr(TypeError(std::move(info)));
    if (c == "KeyError") return std::make_exception_ptr(KeyError(std::move(info)));
    if (c == "IndexError") return std::make_exception_ptr(IndexError(std::move(info)));
    if (c == "ValueError") return std::make_exception_ptr(ValueError(std::move(info)));
    if (c == "StopIteration") return std::make_exception_ptr(StopIteration(std::move(info)));
  }
  return std::make_exception_ptr(RemoteError(std::move(info)));
}

ExceptionInfo describe_exception(std::exception_ptr error, std::string_view context) noexcept {
  try {
    ExceptionInfo info;
    std::string cpp_type;
    try {
      std::rethrow_exception(error);
    } catch (...) {
      cpp_type = current_type_name();  // only valid inside a handler
    }
    try {
      std::rethrow_exception(error);
    } catch (const RemoteError& e) {
      info = e.info();  // keeps its class; a Python error passed through stays a Python error
    } catch (const ConversionError& e) {
      info = builtin("TypeError", e.what());  // an argument or a value of the wrong type
    } catch (const std::invalid_argument& e) {
      info = builtin("ValueError", e.what());
    } catch (const std::domain_error& e) {
      info = builtin("ValueError", e.what());
    } catch (const std::out_of_range& e) {
      info = builtin("IndexError", e.what());
    } catch (const std::length_error& e) {
      info = builtin("ValueError", e.what());
    } catch (const std::overflow_error& e) {
      info = builtin("OverflowError", e.what());
    } catch (const std::bad_alloc& e) {
      info = builtin("MemoryError", e.what());
    } catch (const Timeout& e) {
      info = builtin("TimeoutError", e.what());
    } catch (const ConnectionClosed& e) {
      info = builtin("ConnectionError", e.what());
    } catch (const std::exception& e) {
      info = builtin("RuntimeError", e.what());
    } catch (...) {
      info = builtin("RuntimeError", "unknown C++ exception of type " + cpp_type);
    }
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
