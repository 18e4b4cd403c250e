#pragma once
/// Conversion between C++ values and Values, the one trait every binding goes through.
///
/// `Converter<T>` turns a Value the peer sent into a T (`from_value`) and a T into a Value
/// to send (`to_value`); `type_name()` is the Python-ish name signatures print ("int",
/// "list[str]", "Counter"). Specialise it for your own types:
/// ```cpp
/// template <> struct netref::Converter<Money> {
///   static Money from_value(const netref::Value& v, const netref::ConvertContext& ctx);
///   static netref::Value to_value(const Money& m, const netref::ConvertContext& ctx);
///   static std::string type_name() { return "Money"; }
/// };
/// ```
/// A conversion that does not fit throws netref::ConversionError naming what was expected and
/// what arrived ("expected int, got str"; "int 300 does not fit in uint8").
///
/// A Converter may also offer `static Fit fits(const Value&, FitCheck&)`, a check of the
/// value's kind that converts nothing and makes no round trip (overloads and variant
/// alternatives are chosen with it before anything converts). Without one, the conversion
/// itself decides, and when it refuses, the next overload or alternative is tried.
///
/// Built in: every integer type (range-checked; Python's bool counts as an int), BigInt (a
/// Python int of any size), float and
/// double (ints accepted), bool, char (a 1-character str), std::string / std::string_view /
/// const char* (str), Bytes and std::vector<std::uint8_t> (bytes), std::complex, enums (as
/// int), std::vector / deque / list / set / unordered_set / array / pair / tuple (tuple),
/// std::map / unordered_map (tuple of pairs), std::optional (None), std::variant (first
/// alternative that fits), Value, ObjectPtr, RemoteRefPtr, std::function (function.hpp).
/// A Python list, dict, set... arrives as a netref: copying it into a container iterates it
/// with BUFFITER (a few round trips, never one per item), at most once per call however many
/// overloads and alternatives look at it, and within DrainLimits.
///
/// Any other class type T:
/// - with a cereal `serialize` (or `save`/`load`), member or free, it travels by value as a
///   tuple of its fields in serialize order; nested structs and containers nest the same way;
/// - otherwise it is an exposed type (Registry::expose<T>): results are lent to the peer as
///   netrefs (`std::shared_ptr<T>`, `T` by value, `T&`), and an argument accepts our own
///   object coming back.
#include "netref/export.hpp"
#include <algorithm>
#include <array>
#include <charconv>
#include <complex>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include <cereal/cereal.hpp>
#include <cereal/types/base_class.hpp>

#include "netref/protocol/errors.hpp"
#include "netref/protocol/object.hpp"
#include "netref/protocol/remote_ref.hpp"
#include "netref/protocol/value.hpp"

namespace netref {

class Registry;

namespace detail {
class DrainCache;
}

/// Caps on copying one peer's iterable (a netref to a list, a generator...) into a container,
/// so a never-ending iterable cannot grow memory without limit. Past either cap the copy
/// stops with std::length_error naming the cap (the peer gets a ValueError). Set per
/// Registry (Registry::set_drain_limits); without a Registry the defaults apply.
struct NETREF_API DrainLimits {
  /// Most items copied from one iterable.
  std::size_t max_items = 1'000'000;
  /// Most bytes the copied items may take in memory (strings, bytes and the Values holding
  /// them, nested tuples included).
  std::size_t max_bytes = std::size_t{64} << 20;
};

/// What a conversion may need besides the value itself.
struct NETREF_API ConvertContext {
  /// Where exposed types are looked up (results lent as netrefs, our objects coming back).
  /// May be null: then exposed types do not convert.
  const Registry* registry = nullptr;
  /// The owner of the object whose method is running, if any: a result that is a reference
  /// into that object (`T&` of an exposed type) is lent with it kept alive.
  const std::shared_ptr<void>* parent = nullptr;
  /// The iterables already copied during this call (set by overload resolution and by
  /// std::variant): each netref argument is fetched at most once, however many overloads and
  /// alternatives look at its items. Null: every conversion fetches for itself.
  detail::DrainCache* drained = nullptr;
};

/// What a kind check can tell about a Value and a C++ type without converting and without a
/// round trip (the first pass of overload resolution, after pybind11's dispatcher).
enum class Fit : std::uint8_t {
  no,       ///< the Value is not something the type accepts (FitCheck::reason says why)
  unknown,  ///< a netref or local iterable whose items have not been fetched yet
  yes,      ///< the type accepts it; the conversion may still refuse what the check cannot
            ///< see (a user Converter without fits), and then the next candidate is tried
};

/// The state of one kind check. A Converter may offer
/// `static Fit fits(const Value&, FitCheck&)`; without one, the conversion itself decides.
struct NETREF_API FitCheck {
  const ConvertContext& ctx;
  /// May fetch the items of a netref or local iterable (into ctx.drained, once per call);
  /// false: the check never leaves this process and answers unknown instead.
  bool fetch = false;
  /// Why the check answered no ("expected int, got str"; "item 2: expected str, got int").
  std::string reason;
};

/// The conversion trait. The primary template handles enums, cereal structs and exposed
/// types; everything else is a specialisation. The second parameter is for enable_if in
/// users' partial specialisations.
template <class T, class Enable = void>
struct Converter;

namespace detail {

// ---- non-template helpers (service/src/convert.cpp) -------------------------------------

/// Throws ConversionError "expected <expected>, got <type of got>".
[[noreturn]] NETREF_API void throw_mismatch(std::string_view expected, const Value& got);
/// Throws ConversionError "int <value> does not fit in <target>".
[[noreturn]] NETREF_API void throw_int_range(const Value& got, std::string_view target);
/// Parses a BigInt that fits in uint64.
NETREF_API bool big_to_uint64(const BigInt& big, std::uint64_t& out) noexcept;
/// The nearest double to a BigInt.
NETREF_API double big_to_double(const BigInt& big);
/// A BigInt as it travels: an int when it fits int64, else its canonical digits (no '+', no
/// leading zeros, no "-0"). Throws ConversionError when the digits are not a decimal integer.
NETREF_API Value big_int_value(const BigInt& big);
/// The text throw_mismatch throws.
std::string mismatch_text(std::string_view expected, const Value& got);
/// Sets check.reason to mismatch_text and answers Fit::no.
NETREF_API Fit no_fit(FitCheck& check, std::string_view expected, const Value& got);
/// The text throw_int_range throws.
NETREF_API std::string int_range_text(const Value& got, std::string_view target);
/// The items of a sequence value: a Tuple's or FrozenSet's own items (no copy), or, for a
/// netref or a local object, its items fetched (BUFFITER on its iterator; with mapping, on
/// its items()) into ctx.drained when set (once per call), else into storage. Anything
/// else: ConversionError naming expected. Past ctx's DrainLimits: std::length_error.
NETREF_API const std::vector<Value>& items_of(const Value& value, bool mapping, std::string_view expected,
                                   std::vector<Value>& storage, const ConvertContext& ctx);
/// The kind check behind items_of: yes with items set to a Tuple's or FrozenSet's items or
/// to a netref's fetched ones; unknown for a netref not fetched yet when check.fetch is
/// false; no (with the reason) for anything else, or for a netref that is not iterable.
Fit items_fit(const Value& value, bool mapping, std::string_view expected, FitCheck& check,
              const std::vector<Value>*& items);
/// The worse of two answers: no before unknown before yes.
constexpr Fit worse(Fit a, Fit b) noexcept { return a < b ? a : b; }
/// Prefixes check.reason with "item 3: " (or what) and answers Fit::no.
Fit no_fit_at(FitCheck& check, std::string_view what, std::size_t index);
/// Wraps an instance of an exposed type as an Object (ConversionError if the type is not exposed in
/// ctx.registry).
NETREF_API Value lend_object(const ConvertContext& ctx, const std::type_info& type,
                  std::shared_ptr<void> instance);
/// The instance inside one of our own exposed objects, if it is a `type`; else ConversionError
/// naming expected. None gives nullptr when allow_none.
std::shared_ptr<void> unwrap_object(const Value& value, const std::type_info& type,
                                    std::string_view expected, bool allow_none);
/// A copy of *registry that outlives the call (for callbacks the user may keep).
std::shared_ptr<const Registry> retain_registry(const Registry* registry);
/// The C++ name of a type, demangled ("app::Point").
NETREF_API std::string demangle(const std::type_info& type);
/// Throws ConversionError "<prefix>: <e's message>".
[[noreturn]] NETREF_API void rethrow_with_context(const ConversionError& e, std::string_view prefix);
/// "item 3" and "field 3" style prefixes.
NETREF_API std::string ordinal_prefix(std::string_view what, std::size_t index);

template <class>
inline constexpr bool dependent_false = false;

template <class T, template <class...> class Template>
inline constexpr bool is_specialization_of = false;
template <template <class...> class Template, class... Ts>
inline constexpr bool is_specialization_of<Template<Ts...>, Template> = true;

/// Integer types that travel as Python int (not bool, not character types).
template <class T>
concept integer = std::is_integral_v<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, char> &&
                  !std::is_same_v<T, wchar_t> && !std::is_same_v<T, char8_t> &&
                  !std::is_same_v<T, char16_t> && !std::is_same_v<T, char32_t>;

template <class T>
constexpr std::string_view int_name() noexcept {
  if constexpr (std::is_signed_v<T>) {
    if constexpr (sizeof(T) == 1) return "int8";
    else if constexpr (sizeof(T) == 2) return "int16";
    else if constexpr (sizeof(T) == 4) return "int32";
    else return "int64";
  } else {
    if constexpr (sizeof(T) == 1) return "uint8";
    else if constexpr (sizeof(T) == 2) return "uint16";
    else if constexpr (sizeof(T) == 4) return "uint32";
    else return "uint64";
  }
}

/// Converts x (of any value category) with its own Converter.
template <class U>
Value to_value_of(U&& x, const ConvertContext& ctx) {
  return Converter<std::remove_cvref_t<U>>::to_value(std::forward<U>(x), ctx);
}

/// std::forward_like (C++23), for moving the elements out of an rvalue container.
template <class Container, class Item>
decltype(auto) forward_like(Item& item) noexcept {
  if constexpr (std::is_lvalue_reference_v<Container>) return static_cast<const Item&>(item);
  else return std::move(item);
}

/// The iterables copied during one call, keyed by the netref (or local object) they came
/// from. Entries never move once added, so items_of hands out references into them. Lives on
/// the stack of the call (call_records) or of a std::variant conversion; one thread.
class DrainCache {
 public:
  struct Entry {
    Value source;              ///< the netref or object iterated; keeps the key alive
    bool mapping = false;      ///< fetched as a mapping (items()), not as a sequence
    std::vector<Value> items;  ///< what was fetched
    std::string failure;       ///< set when it is not iterable: the TypeError's text
  };
  /// The entry of source fetched with this mapping, or null.
  const Entry* find(const Value& source, bool mapping) const noexcept;
  /// Keeps a fetched entry for the rest of the call.
  const Entry& add(Entry entry);

 private:
  // A list: an empty one allocates nothing, and every call makes a DrainCache (libstdc++'s
  // deque allocates two blocks on construction). Entries never move once added.
  std::list<Entry> entries_;
};

/// The kind check of T: its Converter's fits when it has one, else yes (the conversion
/// decides, and the next candidate is tried if it refuses).
template <class T>
Fit fits(const Value& v, FitCheck& check) {
  if constexpr (requires { { Converter<T>::fits(v, check) } -> std::same_as<Fit>; }) {
    return Converter<T>::fits(v, check);
  } else {
    return Fit::yes;
  }
}

/// Checks each item against T; the first that does not fit names its index.
template <class T>
Fit each_fits(const std::vector<Value>& items, FitCheck& check) {
  Fit out = Fit::yes;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const Fit f = fits<T>(items[i], check);
    if (f == Fit::no) return no_fit_at(check, "item", i);
    out = worse(out, f);
  }
  return out;
}

/// Converts one element, prefixing errors with "item i".
template <class T>
T item_from_value(const Value& v, const ConvertContext& ctx, std::size_t index) {
  try {
    return Converter<T>::from_value(v, ctx);
  } catch (const ConversionError& e) {
    rethrow_with_context(e, ordinal_prefix("item", index));
  }
}

// ---- cereal structs: archives that write and read Values ---------------------------------

class ValueOutputArchive;
class ValueInputArchive;

template <class T>
inline constexpr std::uint32_t cereal_version = cereal::detail::Version<T>::version;

// Free serialize/save/load are found the way a call from here finds them (ADL), so the
// detection below and the calls in save_fields/load_fields always agree.
template <class T>
concept free_serialize = requires(ValueOutputArchive& ar, T& t) { CEREAL_SERIALIZE_FUNCTION_NAME(ar, t); };
template <class T>
concept free_serialize_versioned =
    requires(ValueOutputArchive& ar, T& t) { CEREAL_SERIALIZE_FUNCTION_NAME(ar, t, std::uint32_t{}); };
template <class T>
concept free_save = requires(ValueOutputArchive& ar, const T& t) { CEREAL_SAVE_FUNCTION_NAME(ar, t); };
template <class T>
concept free_save_versioned =
    requires(ValueOutputArchive& ar, const T& t) { CEREAL_SAVE_FUNCTION_NAME(ar, t, std::uint32_t{}); };
template <class T>
concept free_load = requires(ValueInputArchive& ar, T& t) { CEREAL_LOAD_FUNCTION_NAME(ar, t); };
template <class T>
concept free_load_versioned =
    requires(ValueInputArchive& ar, T& t) { CEREAL_LOAD_FUNCTION_NAME(ar, t, std::uint32_t{}); };

template <class T>
concept member_serialize = cereal::traits::has_member_serialize<T, ValueOutputArchive>::value;
template <class T>
concept member_serialize_versioned =
    cereal::traits::has_member_versioned_serialize<T, ValueOutputArchive>::value;
template <class T>
concept member_save = cereal::traits::has_member_save<T, ValueOutputArchive>::value;
template <class T>
concept member_save_versioned = cereal::traits::has_member_versioned_save<T, ValueOutputArchive>::value;
template <class T>
concept member_load = cereal::traits::has_member_load<T, ValueInputArchive>::value;
template <class T>
concept member_load_versioned = cereal::traits::has_member_versioned_load<T, ValueInputArchive>::value;

/// A class that cereal can serialize: it travels as a tuple of its fields.
template <class T>
concept cereal_struct =
    std::is_class_v<T> &&
    (member_serialize<T> || member_serialize_versioned<T> || member_save<T> ||
     member_save_versioned<T> || free_serialize<T> || free_serialize_versioned<T> ||
     free_save<T> || free_save_versioned<T>);

template <class T>
void save_fields(ValueOutputArchive& ar, const T& t);
template <class T>
void load_fields(ValueInputArchive& ar, T& t);

/// Writes each field a serialize function hands it as one Value.
class ValueOutputArchive {
 public:
  using is_loading = std::false_type;
  using is_saving = std::true_type;

  explicit ValueOutputArchive(const ConvertContext& ctx) : ctx_(ctx) {}
  ValueOutputArchive(const ValueOutputArchive&) = delete;
  ValueOutputArchive& operator=(const ValueOutputArchive&) = delete;

  template <class... Ts>
  ValueOutputArchive& operator()(Ts&&... values) {
    (process(values), ...);
    return *this;
  }
  template <class T>
  ValueOutputArchive& operator&(T&& field) {
    process(field);
    return *this;
  }
  template <class T>
  ValueOutputArchive& operator<<(T&& field) {
    process(field);
    return *this;
  }

  std::vector<Value> fields;

 private:
  template <class T>
  void process(const T& field) {
    if constexpr (is_specialization_of<T, cereal::NameValuePair>) {
      process(field.value);
    } else if constexpr (is_specialization_of<T, cereal::SizeTag>) {
      // Sizes are implicit in a tuple.
    } else if constexpr (is_specialization_of<T, cereal::base_class> ||
                         is_specialization_of<T, cereal::virtual_base_class>) {
      save_fields(*this, *field.base_ptr);  // a base's fields come first, flattened
    } else {
      fields.push_back(Converter<T>::to_value(field, ctx_));
    }
  }

  const ConvertContext& ctx_;
};

/// Reads the fields of one tuple back in serialize order.
class ValueInputArchive {
 public:
  using is_loading = std::true_type;
  using is_saving = std::false_type;

  ValueInputArchive(const std::vector<Value>& fields, const ConvertContext& ctx)
      : fields_(fields), ctx_(ctx) {}
  ValueInputArchive(const ValueInputArchive&) = delete;
  ValueInputArchive& operator=(const ValueInputArchive&) = delete;

  template <class... Ts>
  ValueInputArchive& operator()(Ts&&... values) {
    (process(values), ...);
    return *this;
  }
  template <class T>
  ValueInputArchive& operator&(T&& field) {
    process(field);
    return *this;
  }
  template <class T>
  ValueInputArchive& operator>>(T&& field) {
    process(field);
    return *this;
  }

  /// How many fields were read so far.
  std::size_t consumed() const noexcept { return next_; }

 private:
  template <class T>
  void process(T& field) {
    if constexpr (is_specialization_of<std::remove_const_t<T>, cereal::NameValuePair>) {
      process(field.value);
    } else if constexpr (is_specialization_of<std::remove_const_t<T>, cereal::SizeTag>) {
      // Sizes are implicit in a tuple.
    } else if constexpr (is_specialization_of<std::remove_const_t<T>, cereal::base_class> ||
                         is_specialization_of<std::remove_const_t<T>, cereal::virtual_base_class>) {
      load_fields(*this, *field.base_ptr);
    } else {
      static_assert(!std::is_const_v<T>, "netref: cannot load into a const field");
      const std::size_t index = next_++;
      if (index >= fields_.size()) {
        throw ConversionError("expected more than " + std::to_string(fields_.size()) + " fields");
      }
      try {
        field = Converter<T>::from_value(fields_[index], ctx_);
      } catch (const ConversionError& e) {
        rethrow_with_context(e, ordinal_prefix("field", index));
      }
    }
  }

  const std::vector<Value>& fields_;
  const ConvertContext& ctx_;
  std::size_t next_ = 0;
};

template <class T>
void save_fields(ValueOutputArchive& ar, const T& t) {
  T& m = const_cast<T&>(t);  // serialize() is non-const; cereal does the same
  if constexpr (member_save<T>) cereal::access::member_save(ar, t);
  else if constexpr (member_save_versioned<T>) cereal::access::member_save(ar, t, cereal_version<T>);
  else if constexpr (member_serialize<T>) cereal::access::member_serialize(ar, m);
  else if constexpr (member_serialize_versioned<T>) cereal::access::member_serialize(ar, m, cereal_version<T>);
  else if constexpr (free_save<T>) CEREAL_SAVE_FUNCTION_NAME(ar, t);
  else if constexpr (free_save_versioned<T>) CEREAL_SAVE_FUNCTION_NAME(ar, t, cereal_version<T>);
  else if constexpr (free_serialize<T>) CEREAL_SERIALIZE_FUNCTION_NAME(ar, m);
  else if constexpr (free_serialize_versioned<T>) CEREAL_SERIALIZE_FUNCTION_NAME(ar, m, cereal_version<T>);
  else static_assert(dependent_false<T>, "netref: type has no cereal serialize/save");
}

template <class T>
void load_fields(ValueInputArchive& ar, T& t) {
  if constexpr (member_load<T>) cereal::access::member_load(ar, t);
  else if constexpr (member_load_versioned<T>) cereal::access::member_load(ar, t, cereal_version<T>);
  else if constexpr (member_serialize<T>) cereal::access::member_serialize(ar, t);
  else if constexpr (member_serialize_versioned<T>) cereal::access::member_serialize(ar, t, cereal_version<T>);
  else if constexpr (free_load<T>) CEREAL_LOAD_FUNCTION_NAME(ar, t);
  else if constexpr (free_load_versioned<T>) CEREAL_LOAD_FUNCTION_NAME(ar, t, cereal_version<T>);
  else if constexpr (free_serialize<T>) CEREAL_SERIALIZE_FUNCTION_NAME(ar, t);
  else if constexpr (free_serialize_versioned<T>) CEREAL_SERIALIZE_FUNCTION_NAME(ar, t, cereal_version<T>);
  else static_assert(dependent_false<T>, "netref: type has no cereal serialize/load");
}

template <class T>
Value save_struct(const T& t, const ConvertContext& ctx) {
  ValueOutputArchive ar(ctx);
  save_fields(ar, t);
  return Value(Tuple{std::move(ar.fields)});
}

/// A cereal struct's kind check: a tuple (or fetched iterable); its fields are checked when
/// they are converted.
inline Fit struct_fits(const Value& v, FitCheck& check, std::string_view name) {
  const std::vector<Value>* fields = nullptr;
  return items_fit(v, false, name, check, fields);
}

template <class T>
T load_struct(const Value& v, const ConvertContext& ctx, std::string_view name) {
  static_assert(std::is_default_constructible_v<T>,
                "netref: a cereal struct received by value must be default-constructible");
  std::vector<Value> storage;
  const std::vector<Value>& fields = items_of(v, false, name, storage, ctx);
  T t{};
  ValueInputArchive ar(fields, ctx);
  try {
    load_fields(ar, t);
  } catch (const ConversionError& e) {
    rethrow_with_context(e, name);
  }
  if (ar.consumed() != fields.size()) {
    throw ConversionError(std::string(name) + ": expected " + std::to_string(ar.consumed()) +
                    " fields, got " + std::to_string(fields.size()));
  }
  return t;
}

}  // namespace detail

/// True for types that travel as netrefs (exposed classes): their references are lent, and
/// arguments of type T&, const T&, T* and std::shared_ptr<T> accept our own object back.
template <class T>
concept lends_by_reference = std::is_class_v<T> && requires {
  requires Converter<std::remove_cv_t<T>>::lends_by_reference;
};

namespace detail {
/// A shared_ptr<T> to one of our exposed objects held in v.
template <class T>
std::shared_ptr<T> object_cast(const Value& v, bool allow_none) {
  using D = std::remove_cv_t<T>;
  auto p = unwrap_object(v, typeid(D), Converter<D>::type_name(), allow_none);
  auto* raw = static_cast<D*>(p.get());
  return std::shared_ptr<T>(std::move(p), raw);
}
}  // namespace detail

// ---- the primary template: enums, cereal structs, exposed classes -------------------------

template <class T, class Enable>
struct Converter {
  static_assert(std::is_class_v<T> || std::is_enum_v<T>,
                "netref: no Converter for this type; specialise netref::Converter<T>");

  /// Exposed classes (no cereal serialize) travel by reference.
  static constexpr bool lends_by_reference = std::is_class_v<T> && !detail::cereal_struct<T>;

  static Fit fits(const Value& v, FitCheck& check) {
    if constexpr (std::is_enum_v<T>) {
      return detail::fits<std::underlying_type_t<T>>(v, check);
    } else if constexpr (detail::cereal_struct<T>) {
      return detail::struct_fits(v, check, type_name());
    } else {
      try {
        detail::object_cast<T>(v, false);  // a type check in this process
        return Fit::yes;
      } catch (const ConversionError& e) {
        check.reason = e.message();
        return Fit::no;
      }
    }
  }

  static T from_value(const Value& v, const ConvertContext& ctx) {
    if constexpr (std::is_enum_v<T>) {
      return static_cast<T>(Converter<std::underlying_type_t<T>>::from_value(v, ctx));
    } else if constexpr (detail::cereal_struct<T>) {
      return detail::load_struct<T>(v, ctx, type_name());
    } else {
      return T(*detail::object_cast<T>(v, false));  // a copy of the object the peer passed back
    }
  }

  template <class U>
  static Value to_value(U&& v, const ConvertContext& ctx) {
    if constexpr (std::is_enum_v<T>) {
      return Converter<std::underlying_type_t<T>>::to_value(static_cast<std::underlying_type_t<T>>(v), ctx);
    } else if constexpr (detail::cereal_struct<T>) {
      return detail::save_struct<T>(v, ctx);
    } else {
      // By value: the object moves (or is copied) to the heap and is lent.
      auto owned = std::make_shared<T>(std::forward<U>(v));
      return detail::lend_object(ctx, typeid(T), std::move(owned));
    }
  }

  static std::string type_name() {
    if constexpr (std::is_enum_v<T>) return "int";
    else return detail::demangle(typeid(T));
  }
};

// ---- scalars ------------------------------------------------------------------------------

template <class T>
struct Converter<T, std::enable_if_t<detail::integer<T>>> {
  static Fit fits(const Value& v, FitCheck& check) {
    if (const auto* i = v.get_if<std::int64_t>()) {
      if (std::in_range<T>(*i)) return Fit::yes;
    } else if (v.get_if<bool>()) {
      return Fit::yes;
    } else if (const auto* big = v.get_if<BigInt>()) {
      std::uint64_t u = 0;
      if (std::is_unsigned_v<T> && sizeof(T) == 8 && detail::big_to_uint64(*big, u)) return Fit::yes;
    } else {
      return detail::no_fit(check, "int", v);
    }
    check.reason = detail::int_range_text(v, detail::int_name<T>());
    return Fit::no;
  }
  static T from_value(const Value& v, const ConvertContext&) {
    if (const auto* i = v.get_if<std::int64_t>()) {
      if (std::in_range<T>(*i)) return static_cast<T>(*i);
      detail::throw_int_range(v, detail::int_name<T>());
    }
    if (const auto* b = v.get_if<bool>()) return static_cast<T>(*b);
    if (const auto* big = v.get_if<BigInt>()) {
      if constexpr (std::is_unsigned_v<T> && sizeof(T) == 8) {
        std::uint64_t u = 0;
        if (detail::big_to_uint64(*big, u)) return static_cast<T>(u);
      }
      detail::throw_int_range(v, detail::int_name<T>());
    }
    detail::throw_mismatch("int", v);
  }
  static Value to_value(T v, const ConvertContext&) {
    if constexpr (std::is_unsigned_v<T> && sizeof(T) >= 8) {
      if (v > static_cast<T>(INT64_MAX)) return Value(BigInt{std::to_string(v)});
    }
    return Value(static_cast<std::int64_t>(v));
  }
  static std::string type_name() { return "int"; }
};

/// Python ints of any size: an int64 on the wire arrives as its digits, and a BigInt that fits
/// int64 leaves as a plain int (what Python's decoder makes of either).
template <>
struct Converter<BigInt> {
  static Fit fits(const Value& v, FitCheck& check) {
    if (v.get_if<BigInt>() || v.get_if<std::int64_t>() || v.get_if<bool>()) return Fit::yes;
    return detail::no_fit(check, "int", v);
  }
  static BigInt from_value(const Value& v, const ConvertContext&) {
    if (const auto* big = v.get_if<BigInt>()) return *big;
    if (const auto* i = v.get_if<std::int64_t>()) return BigInt{std::to_string(*i)};
    if (const auto* b = v.get_if<bool>()) return BigInt{*b ? "1" : "0"};
    detail::throw_mismatch("int", v);
  }
  static BigInt from_value(Value&& v, const ConvertContext& ctx) {
    if (auto* big = v.get_if<BigInt>()) return std::move(*big);
    return from_value(static_cast<const Value&>(v), ctx);
  }
  static Value to_value(const BigInt& v, const ConvertContext&) { return detail::big_int_value(v); }
  static std::string type_name() { return "int"; }
};

template <class T>
struct Converter<T, std::enable_if_t<std::is_floating_point_v<T>>> {
  static Fit fits(const Value& v, FitCheck& check) {
    if (v.get_if<double>() || v.get_if<std::int64_t>() || v.get_if<bool>() || v.get_if<BigInt>()) return Fit::yes;
    return detail::no_fit(check, "float", v);
  }
  static T from_value(const Value& v, const ConvertContext&) {
    if (const auto* d = v.get_if<double>()) return static_cast<T>(*d);
    if (const auto* i = v.get_if<std::int64_t>()) return static_cast<T>(*i);
    if (const auto* b = v.get_if<bool>()) return static_cast<T>(*b);
    if (const auto* big = v.get_if<BigInt>()) return static_cast<T>(detail::big_to_double(*big));
    detail::throw_mismatch("float", v);
  }
  static Value to_value(T v, const ConvertContext&) { return Value(static_cast<double>(v)); }
  static std::string type_name() { return "float"; }
};

template <>
struct Converter<bool> {
  static Fit fits(const Value& v, FitCheck& check) {
    return v.get_if<bool>() ? Fit::yes : detail::no_fit(check, "bool", v);
  }
  static bool from_value(const Value& v, const ConvertContext&) {
    if (const auto* b = v.get_if<bool>()) return *b;
    detail::throw_mismatch("bool", v);
  }
  static Value to_value(bool v, const ConvertContext&) { return Value(v); }
  static std::string type_name() { return "bool"; }
};

/// char is a str of exactly one byte.
template <>
struct Converter<char> {
  static Fit fits(const Value& v, FitCheck& check) {
    const auto* s = v.get_if<std::string>();
    return s && s->size() == 1 ? Fit::yes : detail::no_fit(check, "str of length 1", v);
  }
  static char from_value(const Value& v, const ConvertContext&) {
    if (const auto* s = v.get_if<std::string>(); s && s->size() == 1) return (*s)[0];
    detail::throw_mismatch("str of length 1", v);
  }
  static Value to_value(char c, const ConvertContext&) { return Value(std::string(1, c)); }
  static std::string type_name() { return "str"; }
};

template <class T>
struct Converter<std::complex<T>> {
  static Fit fits(const Value& v, FitCheck& check) {
    if (v.get_if<std::complex<double>>()) return Fit::yes;
    if (v.get_if<double>() || v.get_if<std::int64_t>() || v.get_if<bool>() || v.get_if<BigInt>()) return Fit::yes;
    return detail::no_fit(check, "complex", v);
  }
  static std::complex<T> from_value(const Value& v, const ConvertContext& ctx) {
    if (const auto* c = v.get_if<std::complex<double>>()) return std::complex<T>(c->real(), c->imag());
    if (v.get_if<double>() || v.get_if<std::int64_t>() || v.get_if<bool>() || v.get_if<BigInt>()) {
      return std::complex<T>(Converter<T>::from_value(v, ctx), T{});
    }
    detail::throw_mismatch("complex", v);
  }
  static Value to_value(const std::complex<T>& c, const ConvertContext&) {
    return Value(std::complex<double>(c.real(), c.imag()));
  }
  static std::string type_name() { return "complex"; }
};

// ---- strings and bytes --------------------------------------------------------------------

template <>
struct Converter<std::string> {
  static Fit fits(const Value& v, FitCheck& check) {
    return v.get_if<std::string>() ? Fit::yes : detail::no_fit(check, "str", v);
  }
  static std::string from_value(const Value& v, const ConvertContext&) {
    if (const auto* s = v.get_if<std::string>()) return *s;
    detail::throw_mismatch("str", v);
  }
  /// Takes the string out of a Value the caller no longer needs (no copy).
  static std::string from_value(Value&& v, const ConvertContext&) {
    if (auto* s = v.get_if<std::string>()) return std::move(*s);
    detail::throw_mismatch("str", v);
  }
  static Value to_value(const std::string& s, const ConvertContext&) { return Value(s); }
  static Value to_value(std::string&& s, const ConvertContext&) { return Value(std::move(s)); }
  static std::string type_name() { return "str"; }
};

/// A view into the Value's own string: valid while that Value lives (a call's arguments do).
template <>
struct Converter<std::string_view> {
  static Fit fits(const Value& v, FitCheck& check) { return Converter<std::string>::fits(v, check); }
  static std::string_view from_value(const Value& v, const ConvertContext&) {
    if (const auto* s = v.get_if<std::string>()) return *s;
    detail::throw_mismatch("str", v);
  }
  static Value to_value(std::string_view s, const ConvertContext&) { return Value(std::string(s)); }
  static std::string type_name() { return "str"; }
};

/// Results only need this; as a parameter it points into the Value like string_view.
template <>
struct Converter<const char*> {
  static Fit fits(const Value& v, FitCheck& check) {
    return v.is_none() || v.get_if<std::string>() ? Fit::yes : detail::no_fit(check, "str", v);
  }
  static const char* from_value(const Value& v, const ConvertContext&) {
    if (v.is_none()) return nullptr;
    if (const auto* s = v.get_if<std::string>()) return s->c_str();
    detail::throw_mismatch("str", v);
  }
  static Value to_value(const char* s, const ConvertContext&) {
    return s ? Value(std::string(s)) : Value();
  }
  static std::string type_name() { return "str"; }
};
template <>
struct Converter<char*> : Converter<const char*> {};
template <std::size_t N>
struct Converter<char[N]> {
  static Value to_value(const char (&s)[N], const ConvertContext&) { return Value(std::string(s)); }
  static std::string type_name() { return "str"; }
};

template <>
struct Converter<Bytes> {
  static Fit fits(const Value& v, FitCheck& check) {
    return v.get_if<Bytes>() ? Fit::yes : detail::no_fit(check, "bytes", v);
  }
  static Bytes from_value(const Value& v, const ConvertContext&) {
    if (const auto* b = v.get_if<Bytes>()) return *b;
    detail::throw_mismatch("bytes", v);
  }
  /// Takes the bytes out of a Value the caller no longer needs (no copy).
  static Bytes from_value(Value&& v, const ConvertContext&) {
    if (auto* b = v.get_if<Bytes>()) return std::move(*b);
    detail::throw_mismatch("bytes", v);
  }
  static Value to_value(const Bytes& b, const ConvertContext&) { return Value(b); }
  static Value to_value(Bytes&& b, const ConvertContext&) { return Value(std::move(b)); }
  static std::string type_name() { return "bytes"; }
};

template <class Alloc>
struct Converter<std::vector<std::uint8_t, Alloc>> {
  static Fit fits(const Value& v, FitCheck& check) { return Converter<Bytes>::fits(v, check); }
  static std::vector<std::uint8_t, Alloc> from_value(const Value& v, const ConvertContext&) {
    if (const auto* b = v.get_if<Bytes>()) {
      return std::vector<std::uint8_t, Alloc>(b->data.begin(), b->data.end());
    }
    detail::throw_mismatch("bytes", v);
  }
  static Value to_value(const std::vector<std::uint8_t, Alloc>& b, const ConvertContext&) {
    return Value(Bytes{std::string(b.begin(), b.end())});
  }
  static std::string type_name() { return "bytes"; }
};

// ---- Values and references ----------------------------------------------------------------

/// Pass-through: the function sees exactly what arrived.
template <>
struct Converter<Value> {
  static Value from_value(const Value& v, const ConvertContext&) { return v; }
  static Value from_value(Value&& v, const ConvertContext&) { return std::move(v); }
  static Value to_value(const Value& v, const ConvertContext&) { return v; }
  static Value to_value(Value&& v, const ConvertContext&) { return std::move(v); }
  static std::string type_name() { return "object"; }
};

template <>
struct Converter<None> {
  static Fit fits(const Value& v, FitCheck& check) {
    return v.is_none() ? Fit::yes : detail::no_fit(check, "None", v);
  }
  static None from_value(const Value& v, const ConvertContext&) {
    if (v.is_none()) return None{};
    detail::throw_mismatch("None", v);
  }
  static Value to_value(None, const ConvertContext&) { return Value(); }
  static std::string type_name() { return "None"; }
};
template <>
struct Converter<std::nullptr_t> {
  static Value to_value(std::nullptr_t, const ConvertContext&) { return Value(); }
  static std::string type_name() { return "None"; }
};

/// One of our own local objects (lent earlier and passed back); None is a null pointer.
template <>
struct Converter<ObjectPtr> {
  static Fit fits(const Value& v, FitCheck& check) {
    return v.is_none() || v.get_if<ObjectPtr>() ? Fit::yes : detail::no_fit(check, "local object", v);
  }
  static ObjectPtr from_value(const Value& v, const ConvertContext&) {
    if (v.is_none()) return nullptr;
    if (const auto* o = v.get_if<ObjectPtr>()) return *o;
    detail::throw_mismatch("local object", v);
  }
  static Value to_value(const ObjectPtr& o, const ConvertContext&) { return o ? Value(o) : Value(); }
  static std::string type_name() { return "object"; }
};

/// A netref (an object the peer lends); None is a null pointer.
template <>
struct Converter<RemoteRefPtr> {
  static Fit fits(const Value& v, FitCheck& check) {
    return v.is_none() || v.get_if<RemoteRefPtr>() ? Fit::yes : detail::no_fit(check, "netref", v);
  }
  static RemoteRefPtr from_value(const Value& v, const ConvertContext&) {
    if (v.is_none()) return nullptr;
    if (const auto* r = v.get_if<RemoteRefPtr>()) return *r;
    detail::throw_mismatch("netref", v);
  }
  static Value to_value(const RemoteRefPtr& r, const ConvertContext&) { return r ? Value(r) : Value(); }
  static std::string type_name() { return "netref"; }
};

/// Exposed types are lent (None for null); for value types the pointee converts by value.
template <class T>
struct Converter<std::shared_ptr<T>> {
  static Fit fits(const Value& v, FitCheck& check) {
    if (v.is_none()) return Fit::yes;
    return detail::fits<std::remove_cv_t<T>>(v, check);
  }
  static std::shared_ptr<T> from_value(const Value& v, const ConvertContext& ctx) {
    if constexpr (lends_by_reference<T>) {
      return detail::object_cast<T>(v, true);
    } else {
      if (v.is_none()) return nullptr;
      return std::make_shared<T>(Converter<std::remove_cv_t<T>>::from_value(v, ctx));
    }
  }
  static Value to_value(const std::shared_ptr<T>& p, const ConvertContext& ctx) {
    if (!p) return Value();
    if constexpr (lends_by_reference<T>) {
      using D = std::remove_cv_t<T>;
      return detail::lend_object(ctx, typeid(D), std::const_pointer_cast<D>(p));
    } else {
      return Converter<std::remove_cv_t<T>>::to_value(*p, ctx);
    }
  }
  static std::string type_name() { return Converter<std::remove_cv_t<T>>::type_name(); }
};

/// Results only: ownership passes to the lent object.
template <class T, class D>
struct Converter<std::unique_ptr<T, D>> {
  static Value to_value(std::unique_ptr<T, D>&& p, const ConvertContext& ctx) {
    return Converter<std::shared_ptr<T>>::to_value(std::shared_ptr<T>(std::move(p)), ctx);
  }
  static std::string type_name() { return Converter<std::remove_cv_t<T>>::type_name(); }
};

// ---- containers ---------------------------------------------------------------------------

namespace detail {

/// Sequences and sets: a tuple out; a tuple, frozenset or iterable netref in.
template <class C, class T>
struct SequenceConverter {
  static Fit fits(const Value& v, FitCheck& check) {
    const std::vector<Value>* items = nullptr;
    const Fit f = items_fit(v, false, Converter<C>::type_name(), check, items);
    return f == Fit::yes ? detail::each_fits<T>(*items, check) : f;
  }
  static C from_value(const Value& v, const ConvertContext& ctx) {
    std::vector<Value> storage;
    const std::vector<Value>& items = items_of(v, false, Converter<C>::type_name(), storage, ctx);
    C out;
    if constexpr (requires { out.reserve(items.size()); }) out.reserve(items.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
      if constexpr (requires { out.push_back(std::declval<T>()); }) {
        out.push_back(item_from_value<T>(items[i], ctx, i));
      } else {
        out.insert(item_from_value<T>(items[i], ctx, i));
      }
    }
    return out;
  }
  template <class V>
  static Value to_value(V&& c, const ConvertContext& ctx) {
    Tuple t;
    t.items.reserve(std::size(c));
    for (auto&& x : c) {
      if constexpr (std::is_same_v<T, bool>) t.items.emplace_back(static_cast<bool>(x));
      else t.items.push_back(Converter<T>::to_value(forward_like<V>(x), ctx));
    }
    return Value(std::move(t));
  }
};

/// Maps: a tuple of (key, value) tuples out; that, or a dict netref (via items()), in.
template <class M, class K, class V>
struct MapConverter {
  static Fit fits(const Value& v, FitCheck& check) {
    const std::vector<Value>* items = nullptr;
    Fit out = items_fit(v, true, Converter<M>::type_name(), check, items);
    if (out != Fit::yes) return out;
    for (std::size_t i = 0; i < items->size(); ++i) {
      const auto* pair = (*items)[i].get_if<Tuple>();
      if (!pair || pair->items.size() != 2) {
        no_fit(check, "(key, value) pair", (*items)[i]);
        return no_fit_at(check, "item", i);
      }
      const Fit f = detail::fits<K>(pair->items[0], check);
      if (f == Fit::no) return no_fit_at(check, "item", i);
      const Fit g = detail::fits<V>(pair->items[1], check);
      if (g == Fit::no) return no_fit_at(check, "item", i);
      out = worse(out, worse(f, g));
    }
    return out;
  }
  static M from_value(const Value& v, const ConvertContext& ctx) {
    std::vector<Value> storage;
    const std::vector<Value>& items = items_of(v, true, Converter<M>::type_name(), storage, ctx);
    M out;
    for (std::size_t i = 0; i < items.size(); ++i) {
      const auto* pair = items[i].get_if<Tuple>();
      if (!pair || pair->items.size() != 2) {
        try {
          throw_mismatch("(key, value) pair", items[i]);
        } catch (const ConversionError& e) {
          rethrow_with_context(e, ordinal_prefix("item", i));
        }
      }
      out.emplace(item_from_value<K>(pair->items[0], ctx, i), item_from_value<V>(pair->items[1], ctx, i));
    }
    return out;
  }
  template <class Map>
  static Value to_value(Map&& m, const ConvertContext& ctx) {
    Tuple t;
    t.items.reserve(m.size());
    for (auto&& [key, value] : m) {
      Tuple pair;
      pair.items.reserve(2);
      pair.items.push_back(Converter<K>::to_value(key, ctx));
      pair.items.push_back(Converter<V>::to_value(forward_like<Map>(value), ctx));
      t.items.emplace_back(std::move(pair));
    }
    return Value(std::move(t));
  }
  static std::string type_name() {
    return "dict[" + Converter<K>::type_name() + ", " + Converter<V>::type_name() + "]";
  }
};

}  // namespace detail

template <class T, class A>
struct Converter<std::vector<T, A>> : detail::SequenceConverter<std::vector<T, A>, T> {
  static std::string type_name() { return "list[" + Converter<T>::type_name() + "]"; }
};
template <class T, class A>
struct Converter<std::deque<T, A>> : detail::SequenceConverter<std::deque<T, A>, T> {
  static std::string type_name() { return "list[" + Converter<T>::type_name() + "]"; }
};
template <class T, class A>
struct Converter<std::list<T, A>> : detail::SequenceConverter<std::list<T, A>, T> {
  static std::string type_name() { return "list[" + Converter<T>::type_name() + "]"; }
};
template <class T, class C, class A>
struct Converter<std::set<T, C, A>> : detail::SequenceConverter<std::set<T, C, A>, T> {
  static std::string type_name() { return "set[" + Converter<T>::type_name() + "]"; }
};
template <class T, class C, class A>
struct Converter<std::multiset<T, C, A>> : detail::SequenceConverter<std::multiset<T, C, A>, T> {
  static std::string type_name() { return "list[" + Converter<T>::type_name() + "]"; }
};
template <class T, class H, class E, class A>
struct Converter<std::unordered_set<T, H, E, A>>
    : detail::SequenceConverter<std::unordered_set<T, H, E, A>, T> {
  static std::string type_name() { return "set[" + Converter<T>::type_name() + "]"; }
};
template <class K, class V, class C, class A>
struct Converter<std::map<K, V, C, A>> : detail::MapConverter<std::map<K, V, C, A>, K, V> {};
template <class K, class V, class H, class E, class A>
struct Converter<std::unordered_map<K, V, H, E, A>>
    : detail::MapConverter<std::unordered_map<K, V, H, E, A>, K, V> {};

template <class T, std::size_t N>
struct Converter<std::array<T, N>> {
  static Fit fits(const Value& v, FitCheck& check) {
    const std::vector<Value>* items = nullptr;
    const Fit f = detail::items_fit(v, false, type_name(), check, items);
    if (f != Fit::yes) return f;
    if (items->size() != N) {
      check.reason = "expected " + type_name() + " of " + std::to_string(N) + " items, got " + std::to_string(items->size());
      return Fit::no;
    }
    return detail::each_fits<T>(*items, check);
  }
  static std::array<T, N> from_value(const Value& v, const ConvertContext& ctx) {
    std::vector<Value> storage;
    const std::vector<Value>& items = detail::items_of(v, false, type_name(), storage, ctx);
    if (items.size() != N) {
      throw ConversionError("expected " + type_name() + " of " + std::to_string(N) + " items, got " +
                      std::to_string(items.size()));
    }
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return std::array<T, N>{detail::item_from_value<T>(items[I], ctx, I)...};
    }(std::make_index_sequence<N>{});
  }
  template <class V>
  static Value to_value(V&& a, const ConvertContext& ctx) {
    return detail::SequenceConverter<std::array<T, N>, T>::to_value(std::forward<V>(a), ctx);
  }
  static std::string type_name() { return "tuple[" + Converter<T>::type_name() + ", ...]"; }
};

template <class... Ts>
struct Converter<std::tuple<Ts...>> {
  static Fit fits(const Value& v, FitCheck& check) {
    const std::vector<Value>* items = nullptr;
    Fit out = detail::items_fit(v, false, type_name(), check, items);
    if (out != Fit::yes) return out;
    if (items->size() != sizeof...(Ts)) {
      check.reason = "expected " + type_name() + ", got a tuple of " + std::to_string(items->size()) + " items";
      return Fit::no;
    }
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      // Stops at the first item that does not fit, whose reason names it.
      ((out = out == Fit::no ? out : item_fits<Ts>((*items)[I], check, I, out)), ...);
    }(std::index_sequence_for<Ts...>{});
    return out;
  }
  static std::tuple<Ts...> from_value(const Value& v, const ConvertContext& ctx) {
    std::vector<Value> storage;
    const std::vector<Value>& items = detail::items_of(v, false, type_name(), storage, ctx);
    if (items.size() != sizeof...(Ts)) {
      throw ConversionError("expected " + type_name() + ", got a tuple of " + std::to_string(items.size()) +
                      " items");
    }
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return std::tuple<Ts...>{detail::item_from_value<Ts>(items[I], ctx, I)...};
    }(std::index_sequence_for<Ts...>{});
  }
  template <class V>
  static Value to_value(V&& t, const ConvertContext& ctx) {
    Tuple out;
    out.items.reserve(sizeof...(Ts));
    std::apply([&](auto&&... x) { (out.items.push_back(detail::to_value_of(detail::forward_like<V>(x), ctx)), ...); }, t);
    return Value(std::move(out));
  }
  static std::string type_name() {
    std::string s = "tuple[";
    bool first = true;
    ((s += (first ? "" : ", ") + Converter<Ts>::type_name(), first = false), ...);
    return s + "]";
  }

 private:
  template <class T>
  static Fit item_fits(const Value& item, FitCheck& check, std::size_t index, Fit so_far) {
    const Fit f = detail::fits<T>(item, check);
    return f == Fit::no ? detail::no_fit_at(check, "item", index) : detail::worse(so_far, f);
  }
};

template <class A, class B>
struct Converter<std::pair<A, B>> {
  static Fit fits(const Value& v, FitCheck& check) { return detail::fits<std::tuple<A, B>>(v, check); }
  static std::pair<A, B> from_value(const Value& v, const ConvertContext& ctx) {
    auto t = Converter<std::tuple<A, B>>::from_value(v, ctx);
    return {std::move(std::get<0>(t)), std::move(std::get<1>(t))};
  }
  template <class V>
  static Value to_value(V&& p, const ConvertContext& ctx) {
    Tuple out;
    out.items.reserve(2);
    out.items.push_back(detail::to_value_of(detail::forward_like<V>(p.first), ctx));
    out.items.push_back(detail::to_value_of(detail::forward_like<V>(p.second), ctx));
    return Value(std::move(out));
  }
  static std::string type_name() { return Converter<std::tuple<A, B>>::type_name(); }
};

template <class T>
struct Converter<std::optional<T>> {
  static Fit fits(const Value& v, FitCheck& check) { return v.is_none() ? Fit::yes : detail::fits<T>(v, check); }
  static std::optional<T> from_value(const Value& v, const ConvertContext& ctx) {
    if (v.is_none()) return std::nullopt;
    return Converter<T>::from_value(v, ctx);
  }
  template <class V>
  static Value to_value(V&& o, const ConvertContext& ctx) {
    if (!o) return Value();
    return Converter<T>::to_value(detail::forward_like<V>(*o), ctx);
  }
  static std::string type_name() { return "Optional[" + Converter<T>::type_name() + "]"; }
};

/// The first alternative that fits wins (list them most specific first). Alternatives are
/// chosen by their kind check; a netref's items are fetched once for all of them.
template <class... Ts>
struct Converter<std::variant<Ts...>> {
  static Fit fits(const Value& v, FitCheck& check) {
    Fit best = Fit::no;
    ((best = best == Fit::yes ? best : std::max(best, detail::fits<Ts>(v, check))), ...);
    if (best == Fit::no) return detail::no_fit(check, type_name(), v);
    return best;
  }
  static std::variant<Ts...> from_value(const Value& v, const ConvertContext& ctx) {
    if (ctx.drained) return choose(v, ctx);
    detail::DrainCache drained;  // one fetch for every alternative
    ConvertContext with_cache = ctx;
    with_cache.drained = &drained;
    return choose(v, with_cache);
  }
  template <class V>
  static Value to_value(V&& var, const ConvertContext& ctx) {
    return std::visit([&](auto&& x) { return detail::to_value_of(detail::forward_like<V>(x), ctx); }, var);
  }
  static std::string type_name() {
    std::string s = "Union[";
    bool first = true;
    ((s += (first ? "" : ", ") + Converter<Ts>::type_name(), first = false), ...);
    return s + "]";
  }

 private:
  // ctx.drained is set: the checks fetch into it and the conversion reads it back.
  static std::variant<Ts...> choose(const Value& v, const ConvertContext& ctx) {
    std::optional<std::variant<Ts...>> out;
    FitCheck check{ctx, true, {}};
    auto attempt = [&]<class T>(std::type_identity<T>) {
      if (out || detail::fits<T>(v, check) == Fit::no) return;
      try {
        out.emplace(std::in_place_type<T>, Converter<T>::from_value(v, ctx));
      } catch (const ConversionError&) {
        // A refusal the kind check could not see (a user Converter without fits).
      }
    };
    (attempt(std::type_identity<Ts>{}), ...);
    if (!out) detail::throw_mismatch(type_name(), v);
    return std::move(*out);
  }
};

template <>
struct Converter<std::monostate> {
  static Fit fits(const Value& v, FitCheck& check) { return Converter<None>::fits(v, check); }
  static std::monostate from_value(const Value& v, const ConvertContext&) {
    if (v.is_none()) return {};
    detail::throw_mismatch("None", v);
  }
  static Value to_value(std::monostate, const ConvertContext&) { return Value(); }
  static std::string type_name() { return "None"; }
};

}  // namespace netref
