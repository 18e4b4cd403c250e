#pragma once
/// Proxy: the user's handle on a remote (or local) object and on the values calls return.
///
///   auto counter = root->attr("make_counter")->call(10);   // a netref
///   counter->attr("add")->call(5);
///   auto v = counter->attr("value")->get().as<std::int64_t>();
///
/// attr() only records a name; the request goes out at call(), get() or set(). Between two
/// netref peers a whole chain a->attr("b")->attr("c")->call(x) is one round trip.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "netref/protocol/async_result.hpp"
#include "netref/protocol/connection.hpp"
#include "netref/proxy/detail/attr_path.hpp"
#include "netref/service/convert.hpp"

namespace netref {

/// A keyword argument for Proxy::call: `f->call(1, kw("scale", 2.5))`.
struct KeywordArg {
  std::string name;
  Value value;
};

/// Makes a keyword argument; value converts like any argument.
template <class T>
KeywordArg kw(std::string name, T&& value) {
  return KeywordArg{std::move(name), Converter<std::decay_t<T>>::to_value(std::forward<T>(value), ConvertContext{})};
}

class AsyncCall;

/// A value-semantics handle: a target (a netref, a local object, or a plain value) plus a
/// path of attribute names not yet fetched. Cheap to copy. Thread-safe as its connection is.
class Proxy {
 public:
  /// None.
  Proxy() = default;
  /// Wraps a value (a netref, a local object or plain data).
  explicit Proxy(Value target) : target_(std::move(target)) {}

  /// Itself, so chains read `p->attr("x")->call()`.
  const Proxy* operator->() const noexcept { return this; }

  /// The attribute `name` of this object; no round trip until used.
  Proxy attr(std::string_view name) const;

  /// Calls the object (or the attribute path) with converted arguments; KeywordArg arguments
  /// travel as keywords. One round trip. Throws RemoteError (and subclasses), Timeout,
  /// ConnectionClosed.
  template <class... Ts>
  Proxy call(Ts&&... args) const {
    return Proxy(with_arguments([this](std::span<Value> positional, Kwargs keywords) {
      return invoke(positional, std::move(keywords));
    }, std::forward<Ts>(args)...));
  }

  /// The same call without waiting: the reply arrives in the returned AsyncCall.
  template <class... Ts>
  AsyncCall async_call(Ts&&... args) const;

  /// Fetches the attribute path's value (one round trip; a netref stays a netref).
  Proxy get() const { return Proxy(resolve()); }

  /// Sets the last attribute of the path on its parent. Throws AttributeError when the peer
  /// does not allow it.
  template <class T>
  void set(T&& value) const {
    assign(Converter<std::decay_t<T>>::to_value(std::forward<T>(value), ConvertContext{}));
  }

  /// Converts the (fetched) value to T: `.as<std::int64_t>()`, `.as<std::vector<double>>()`,
  /// `.as<MyStruct>()`. Throws ConversionError when it does not convert.
  template <class T>
  T as() const& {
    if (path_.empty()) return Converter<T>::from_value(target_, ConvertContext{});  // no copy first
    return Converter<T>::from_value(resolve(), ConvertContext{});
  }
  /// The same on a temporary (`p->call(x).as<T>()`): strings and bytes are taken, not copied.
  template <class T>
  T as() && {
    if (path_.empty()) return Converter<T>::from_value(std::move(target_), ConvertContext{});
    return Converter<T>::from_value(resolve(), ConvertContext{});
  }

  /// The fetched value itself.
  Value value() const& { return resolve(); }
  Value value() && { return path_.empty() ? std::move(target_) : resolve(); }
  /// True if the (fetched) value is a reference to the peer's object.
  bool is_netref() const { return path_.empty() ? target_.kind() == Value::Kind::remote_ref : true; }
  /// The netref behind this proxy (nullptr for plain values).
  RemoteRefPtr remote() const;
  /// The attribute names recorded and not yet fetched.
  std::span<const std::string> path() const noexcept { return path_.names(); }
  /// The peer's repr() of the object.
  std::string repr() const;

 private:
  friend class AsyncCall;
  Proxy(Value target, detail::AttrPath path) : target_(std::move(target)), path_(std::move(path)) {}
  template <class... Ts>
  static constexpr bool has_keywords = (std::is_same_v<std::decay_t<Ts>, KeywordArg> || ...);
  /// A positional argument as the Value it travels as.
  template <class T>
  static Value argument_value(T&& arg) {
    if constexpr (std::is_same_v<std::decay_t<T>, Proxy>) {
      return arg.resolve();
    } else if constexpr (std::is_same_v<std::decay_t<T>, Value>) {
      return std::forward<T>(arg);
    } else {
      return Converter<std::decay_t<T>>::to_value(std::forward<T>(arg), ConvertContext{});
    }
  }
  /// Converts a call's arguments and hands them to send(positional, keywords): without
  /// keywords, the positional ones stay in an array on this stack frame.
  template <class Send, class... Ts>
  static auto with_arguments(Send&& send, Ts&&... args) {
    if constexpr (has_keywords<Ts...>) {
      Args positional;
      Kwargs keywords;
      positional.reserve(sizeof...(Ts));
      (add_argument(positional, keywords, std::forward<Ts>(args)), ...);
      return send(std::span<Value>(positional), std::move(keywords));
    } else {
      Value positional[] = {argument_value(std::forward<Ts>(args))..., Value()};  // never empty
      return send(std::span<Value>(positional, sizeof...(Ts)), Kwargs{});
    }
  }
  template <class T>
  static void add_argument(Args& positional, Kwargs& keywords, T&& arg) {
    if constexpr (std::is_same_v<std::decay_t<T>, KeywordArg>) {
      keywords.emplace_back(std::forward<T>(arg).name, std::forward<T>(arg).value);
    } else {
      positional.push_back(argument_value(std::forward<T>(arg)));
    }
  }
  // The arguments are the caller's: a local object's call may move them out.
  Value invoke(std::span<Value> args, Kwargs kwargs) const;
  AsyncResult invoke_async(std::span<Value> args, Kwargs kwargs) const;
  Value resolve() const;
  void assign(Value value) const;

  Value target_;
  detail::AttrPath path_;
};

/// The eventual result of Proxy::async_call (AsyncResult with Proxy values).
class AsyncCall {
 public:
  explicit AsyncCall(AsyncResult result) : result_(std::move(result)) {}
  /// True once the reply is here (does not serve the connection).
  bool ready() const { return result_.ready(); }
  /// Waits up to timeout (negative: forever), serving the connection meanwhile.
  bool wait(std::chrono::milliseconds timeout = std::chrono::milliseconds(-1)) const { return result_.wait(timeout); }
  /// Waits and returns the result, or throws what the callee raised.
  Proxy value() const { return Proxy(result_.value()); }
  /// Once ready: the error, or nullptr.
  std::exception_ptr error() const { return result_.error(); }
  /// Runs fn once the reply is here, on the thread that delivers it.
  void then(std::function<void(const AsyncCall&)> fn) const {
    result_.then([fn = std::move(fn)](const AsyncResult& r) { fn(AsyncCall(r)); });
  }
  /// Gives up waiting after timeout from now.
  void set_expiry(std::chrono::milliseconds timeout) const { result_.set_expiry(timeout); }
  const AsyncResult& result() const noexcept { return result_; }

 private:
  AsyncResult result_;
};

template <class... Ts>
AsyncCall Proxy::async_call(Ts&&... args) const {
  return AsyncCall(with_arguments([this](std::span<Value> positional, Kwargs keywords) {
    return invoke_async(positional, std::move(keywords));
  }, std::forward<Ts>(args)...));
}

/// Proxies convert like any value: a Proxy parameter of an exposed function receives what the
/// peer passed (a netref to its callable, say), and a Proxy result is sent as its value.
template <>
struct Converter<Proxy> {
  static Proxy from_value(const Value& v, const ConvertContext&) { return Proxy(v); }
  static Value to_value(const Proxy& p, const ConvertContext&) { return p.value(); }
  static std::string type_name() { return "object"; }
};

}  // namespace netref
