#pragma once
/// Value: what crosses the wire. Every brine type, plus the two kinds of reference the
/// protocol boxes (a local object we lend, a netref to an object the peer lends us).
#include "netref/export.hpp"
#include <complex>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace netref {

class Object;     // protocol/object.hpp: a local object the peer may reach
class RemoteRef;  // protocol/remote_ref.hpp: our handle on an object the peer lends

class Value;

/// Python's None.
struct NETREF_API None {
  friend bool operator==(None, None) = default;
};
/// Python's Ellipsis (`...`).
struct NETREF_API Ellipsis {
  friend bool operator==(Ellipsis, Ellipsis) = default;
};
/// Python's NotImplemented.
struct NETREF_API NotImplemented {
  friend bool operator==(NotImplemented, NotImplemented) = default;
};
/// An integer outside int64, kept losslessly as its decimal text ("-123...").
struct NETREF_API BigInt {
  std::string digits;
  friend bool operator==(const BigInt&, const BigInt&) = default;
};
/// Python bytes (str is std::string, UTF-8).
struct NETREF_API Bytes {
  std::string data;
  friend bool operator==(const Bytes&, const Bytes&) = default;
};
/// Python tuple; also what C++ containers and cereal structs travel as.
struct NETREF_API Tuple {
  std::vector<Value> items;
  friend bool operator==(const Tuple&, const Tuple&);
};
/// Python frozenset, items in wire order.
struct NETREF_API FrozenSet {
  std::vector<Value> items;
  friend bool operator==(const FrozenSet&, const FrozenSet&);
};
/// Python slice(start, stop, step); parts has exactly three values.
struct NETREF_API Slice {
  std::vector<Value> parts;
  friend bool operator==(const Slice&, const Slice&);
};

using ObjectPtr = std::shared_ptr<Object>;
using RemoteRefPtr = std::shared_ptr<RemoteRef>;

/// The alternatives, in this order; Value::Kind mirrors them.
using ValueStorage = std::variant<None, bool, std::int64_t, BigInt, double, std::complex<double>,
                                  Bytes, std::string, Tuple, FrozenSet, Slice, Ellipsis,
                                  NotImplemented, ObjectPtr, RemoteRefPtr>;

/// A value by copy. Cheap to move; copies deep-copy tuples (references are shared).
class NETREF_API Value {
 public:
  enum class Kind : std::uint8_t {
    none, boolean, integer, big_integer, floating, complex, bytes, string, tuple, frozenset,
    slice, ellipsis, not_implemented, local_object, remote_ref
  };

  Value() = default;
  Value(None) {}
  Value(bool b) : storage_(b) {}
  Value(std::int64_t i) : storage_(i) {}
  Value(int i) : storage_(std::int64_t{i}) {}
  Value(BigInt b) : storage_(std::move(b)) {}
  Value(double d) : storage_(d) {}
  Value(std::complex<double> c) : storage_(c) {}
  Value(Bytes b) : storage_(std::move(b)) {}
  Value(std::string s) : storage_(std::move(s)) {}
  Value(std::string_view s) : storage_(std::string(s)) {}
  Value(const char* s) : storage_(std::string(s)) {}
  Value(Tuple t) : storage_(std::move(t)) {}
  Value(FrozenSet f) : storage_(std::move(f)) {}
  Value(Slice s) : storage_(std::move(s)) {}
  Value(Ellipsis e) : storage_(e) {}
  Value(NotImplemented n) : storage_(n) {}
  Value(ObjectPtr o) : storage_(std::move(o)) {}
  Value(RemoteRefPtr r) : storage_(std::move(r)) {}

  Kind kind() const noexcept { return static_cast<Kind>(storage_.index()); }
  bool is_none() const noexcept { return kind() == Kind::none; }
  /// True for the two reference kinds (they are boxed, never brine-encoded).
  bool is_ref() const noexcept { return kind() == Kind::local_object || kind() == Kind::remote_ref; }

  /// The alternative, or nullptr when the value holds another kind.
  template <class T> const T* get_if() const& noexcept { return std::get_if<T>(&storage_); }
  template <class T> T* get_if() & noexcept { return std::get_if<T>(&storage_); }
  /// Not on a temporary (`proxy.value().get_if<T>()`): the pointer would dangle at the `;`.
  /// Keep the value first: `Value v = proxy.value(); v.get_if<T>()`.
  template <class T> const T* get_if() const&& = delete;

  const ValueStorage& storage() const noexcept { return storage_; }
  ValueStorage& storage() noexcept { return storage_; }

  /// Python-ish type name for error messages: "int", "str", "tuple", "netref"...
  std::string_view type_name() const noexcept;

  /// A short, bounded, side-effect-free rendering for logs and error messages. Never makes
  /// a remote call.
  std::string debug_string(std::size_t max_chars = 200) const;

  friend bool operator==(const Value& a, const Value& b) { return a.storage_ == b.storage_; }

 private:
  ValueStorage storage_;
};

inline bool operator==(const Tuple& a, const Tuple& b) { return a.items == b.items; }
inline bool operator==(const FrozenSet& a, const FrozenSet& b) { return a.items == b.items; }
inline bool operator==(const Slice& a, const Slice& b) { return a.parts == b.parts; }

/// Builds a vector of values (a request's Args) by moving each one in. A braced list
/// `{a, b}` copies every element instead (deeply, for tuples): use this on hot paths.
template <class... Ts>
std::vector<Value> values_of(Ts&&... values) {
  std::vector<Value> out;
  out.reserve(sizeof...(Ts));
  (out.emplace_back(std::forward<Ts>(values)), ...);
  return out;
}

/// Builds a Tuple from values: tuple_of(1, "a", None{}).
template <class... Ts>
Value tuple_of(Ts&&... values) {
  Tuple t;
  t.items.reserve(sizeof...(Ts));
  (t.items.emplace_back(std::forward<Ts>(values)), ...);
  return Value(std::move(t));
}

}  // namespace netref
