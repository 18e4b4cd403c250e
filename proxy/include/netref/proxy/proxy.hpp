#pragma once
/// Proxy: the user's handle on a remote (or local) object and on the values calls return.
///
///   auto counter = root->attr("make_counter")->call(10);   // a netref
///   counter->attr("add")->call(5);
///   auto v = counter->attr("value")->get().as<std::int64_t>();
///
/// attr() only records a name; the request goes out at call(), get() or set(). Between two
/// netref peers a whole chain a->attr("b")->attr("c")->call(x) is one round trip.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "netref/export.hpp"
#include "netref/protocol/async_result.hpp"
#include "netref/protocol/connection.hpp"
#include "netref/proxy/detail/attr_path.hpp"
#include "netref/service/convert.hpp"

namespace netref {

namespace detail {
/// True for a type that can travel only as a netref lent through a Registry (a class with
/// neither a Converter nor a cereal serialize, or a pointer to one): a Proxy has no Registry.
template <class T>
struct needs_registry : std::bool_constant<lends_by_reference<T>> {};
/// Pointers to a class: lent through a Registry, except our Objects and the peer's netrefs.
template <class T>
inline constexpr bool lent_through_registry =
    needs_registry<std::remove_cv_t<T>>::value && !std::is_base_of_v<Object, std::remove_cv_t<T>> &&
    !std::is_same_v<std::remove_cv_t<T>, RemoteRef>;
template <class T>
struct needs_registry<std::shared_ptr<T>> : std::bool_constant<lent_through_registry<T>> {};
template <class T, class D>
struct needs_registry<std::unique_ptr<T, D>> : std::bool_constant<lent_through_registry<T>> {};
}  // namespace detail

/// Instantiated for every type a Proxy converts (arguments, set, kw, as<T>): a type that
/// cannot convert there fails to compile, and the compiler names it as this template's
/// argument ("In instantiation of 'struct netref::cannot_convert<app::Point>'").
template <class T>
struct cannot_convert {
  static_assert(!detail::needs_registry<T>::value,
                "netref: no conversion for the type T in cannot_convert<T> (named above). A Proxy sends "
                "and reads values; fix it one of three ways: (1) specialise netref::Converter<T>; "
                "(2) give T a cereal serialize (or save/load) so it travels as a tuple of its fields; "
                "(3) expose T (Registry::expose<T>) and lend it with netref::local(std::shared_ptr<T>, "
                "registry)");
  static constexpr bool checked = true;
};

/// A keyword argument for Proxy::call: `f->call(1, kw("scale", 2.5))`.
struct NETREF_API KeywordArg {
  std::string name;
  Value value;
};

/// Makes a keyword argument; value converts like any argument.
template <class T>
KeywordArg kw(std::string name, T&& value) {
  static_assert(cannot_convert<std::decay_t<T>>::checked);
  return KeywordArg{std::move(name), Converter<std::decay_t<T>>::to_value(std::forward<T>(value), ConvertContext{})};
}

class AsyncCall;
class ItemProxy;
class PendingProxy;
class ProxyIterator;

/// A value-semantics handle: a target (a netref, a local object, or a plain value) plus a
/// path of attribute names not yet fetched. Cheap to copy. Thread-safe as its connection is.
class NETREF_API Proxy {
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

  /// The same call without waiting: the reply arrives in the returned AsyncCall (which
  /// expires after this proxy's timeout, when with_timeout set one).
  template <class... Ts>
  AsyncCall async_call(Ts&&... args) const;

  /// The same call with no reply: returns once the request is handed to the transport, and
  /// never waits on the peer, so a handler may call its client's callback this way and
  /// return at once. The callee's result and errors are not seen. Between netref peers no
  /// reply is sent (feature `oneway`); a Python peer gets the ordinary request and its reply
  /// is dropped on arrival. Throws ConnectionClosed, or ConversionError for the arguments.
  template <class... Ts>
  void oneway_call(Ts&&... args) const {
    with_arguments([this](std::span<Value> positional, Kwargs keywords) {
      invoke_oneway(positional, std::move(keywords));
    }, std::forward<Ts>(args)...);
  }

  /// This proxy, its calls waiting at most timeout for their reply:
  /// `p->attr("slow")->with_timeout(2s)->call(x)` throws Timeout after 2 s (the connection
  /// stays; a late reply is dropped), and `async_call` returns an AsyncCall that expires
  /// after 2 s. Attributes taken from it keep the timeout. Without it: sync calls wait
  /// ConnectionConfig::sync_request_timeout, async ones never expire.
  Proxy with_timeout(std::chrono::milliseconds timeout) const {
    Proxy p = *this;
    p.timeout_ = timeout;
    return p;
  }
  /// The timeout with_timeout set, if any.
  std::optional<std::chrono::milliseconds> timeout() const noexcept { return timeout_; }

  /// Fetches the attribute path's value (one round trip; a netref stays a netref).
  Proxy get() const { return Proxy(resolve()); }

  /// Sets the last attribute of the path on its parent. Throws AttributeError when the peer
  /// does not allow it.
  template <class T>
  void set(T&& value) const {
    static_assert(cannot_convert<std::decay_t<T>>::checked);
    assign(Converter<std::decay_t<T>>::to_value(std::forward<T>(value), ConvertContext{}));
  }

  /// Converts the (fetched) value to T: `.as<std::int64_t>()`, `.as<std::vector<double>>()`,
  /// `.as<MyStruct>()`. Throws ConversionError when it does not convert.
  template <class T>
  T as() const& {
    static_assert(cannot_convert<T>::checked);
    if (path_.empty()) return Converter<T>::from_value(target_, ConvertContext{});  // no copy first
    return Converter<T>::from_value(resolve(), ConvertContext{});
  }
  /// The same on a temporary (`p->call(x).as<T>()`): strings and bytes are taken, not copied.
  template <class T>
  T as() && {
    static_assert(cannot_convert<T>::checked);
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

  // Python's operators, each the request rpyc's own netref makes (one round trip), or done
  // locally for a plain value (a tuple, str or bytes a call returned) and our own objects.

  /// `p[key]`: the item; read, assign or del() it (netref/proxy/item_proxy.hpp).
  template <class K>
  ItemProxy operator[](K&& key) const;
  /// len(p).
  std::size_t size() const;
  /// `x in p`.
  template <class T>
  bool contains(T&& x) const {
    return contains_value(argument_value(std::forward<T>(x)));
  }
  /// str(p): the object's str(); a plain str is itself, other plain values their rendering.
  std::string str() const;
  /// bool(p): the peer's truth (__bool__, else __len__ != 0, else true), as Python's.
  explicit operator bool() const;
  /// hash(p): the peer's hash of the object; equal for proxies that compare equal.
  std::int64_t hash() const;
  /// Range-for over the items, fetched in batches (netref/proxy/iteration.hpp).
  ProxyIterator begin() const;
  ProxyIterator end() const;

  /// The peer's comparisons (rpyc's HANDLE_CMP with __eq__, __lt__...); between plain values,
  /// Value's own. Each is a round trip when a netref is involved; it throws what the peer raised.
  friend bool operator==(const Proxy& a, const Proxy& b) { return a.compare("__eq__", b); }
  friend bool operator!=(const Proxy& a, const Proxy& b) { return a.compare("__ne__", b); }
  friend bool operator<(const Proxy& a, const Proxy& b) { return a.compare("__lt__", b); }
  friend bool operator<=(const Proxy& a, const Proxy& b) { return a.compare("__le__", b); }
  friend bool operator>(const Proxy& a, const Proxy& b) { return a.compare("__gt__", b); }
  friend bool operator>=(const Proxy& a, const Proxy& b) { return a.compare("__ge__", b); }
  /// Prints str(p).
  friend std::ostream& operator<<(std::ostream& out, const Proxy& p);

 private:
  friend class AsyncCall;
  friend class PendingProxy;
  Proxy(Value target, detail::AttrPath path) : target_(std::move(target)), path_(std::move(path)) {}
  // attr(): the parent's target and path and one more name, each built in place.
  Proxy(const Proxy& parent, std::string_view name)
      : target_(parent.target_), path_(parent.path_.with(name)), timeout_(parent.timeout_) {}
  template <class... Ts>
  static constexpr bool has_keywords = (std::is_same_v<std::decay_t<Ts>, KeywordArg> || ...);
  /// A positional argument as the Value it travels as.
  template <class T>
  static Value argument_value(T&& arg) {
    if constexpr (std::is_same_v<std::decay_t<T>, Proxy>) {
      return arg.resolve();
    } else if constexpr (std::is_same_v<std::decay_t<T>, ItemProxy>) {
      return arg.value();  // the item's value
    } else if constexpr (std::is_same_v<std::decay_t<T>, Value>) {
      return std::forward<T>(arg);
    } else {
      static_assert(cannot_convert<std::decay_t<T>>::checked);
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
  friend class ItemProxy;
  bool compare(std::string_view op, const Proxy& other) const;
  static bool compare_values(std::string_view op, const Value& a, const Value& b, bool reflect);
  bool contains_value(Value x) const;
  // The method name of the object, called (one CALLATTR or CALLCHAIN).
  Value call_method(std::string_view name, Args args) const;
  // The arguments are the caller's: a local object's call may move them out.
  Value invoke(std::span<Value> args, Kwargs kwargs) const;
  AsyncResult invoke_async(std::span<Value> args, Kwargs kwargs) const;
  void invoke_oneway(std::span<Value> args, Kwargs kwargs) const;
  Value resolve() const;
  void assign(Value value) const;

  Value target_;
  detail::AttrPath path_;
  std::optional<std::chrono::milliseconds> timeout_;  // with_timeout's; kept by attr()
};

/// The eventual result of Proxy::async_call (AsyncResult with Proxy values).
class NETREF_API AsyncCall {
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
  /// Gives up on the reply: settles with Cancelled unless it already arrived (AsyncResult::cancel).
  bool cancel() const { return result_.cancel(); }
  /// Gives up waiting after timeout from now.
  void set_expiry(std::chrono::milliseconds timeout) const { result_.set_expiry(timeout); }
  const AsyncResult& result() const noexcept { return result_; }

  /// Itself, so a pending result reads like a proxy: `pending->attr("add")->async_call(5)`.
  const AsyncCall* operator->() const noexcept { return this; }
  /// The attribute `name` of the result, before it arrives: calls on it are pipelined
  /// (netref/proxy/pending_proxy.hpp).
  PendingProxy attr(std::string_view name) const;

 private:
  AsyncResult result_;
};

template <class... Ts>
AsyncCall Proxy::async_call(Ts&&... args) const {
  AsyncCall pending(with_arguments([this](std::span<Value> positional, Kwargs keywords) {
    return invoke_async(positional, std::move(keywords));
  }, std::forward<Ts>(args)...));
  if (timeout_) pending.set_expiry(*timeout_);
  return pending;
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

template <>
struct std::hash<netref::Proxy> {
  /// The peer's hash (one round trip for a netref), consistent with Proxy's ==.
  std::size_t operator()(const netref::Proxy& p) const { return static_cast<std::size_t>(p.hash()); }
};

#include "netref/proxy/item_proxy.hpp"
#include "netref/proxy/iteration.hpp"
#include "netref/proxy/pending_proxy.hpp"

