#pragma once
/// Function records: each `def` turns a typed C++ callable into one non-template
/// FunctionRecord {name, signature text, parameter names and defaults, check and invoke
/// functions}. Overload resolution, keyword matching and error messages are plain functions
/// working on records (service/src/function.cpp); the only per-def template code is the check
/// function that asks each argument's Converter whether it fits, and the invoke function that
/// converts the arguments and calls the callable.
///
/// Overloads are chosen in two passes, as pybind11's dispatcher does: first a kind check of
/// every argument that never leaves this process; only when it cannot tell (a netref whose
/// items decide) are the netref's items fetched, once per call, and checked; then the chosen
/// overload converts its arguments once, from those same fetched items.
#include "netref/export.hpp"
#include <algorithm>
#include <array>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "netref/service/convert.hpp"

namespace netref {

struct arg_v;

/// Names a parameter, pybind11-style: keyword arguments match it and signatures print it.
/// Give one per parameter (the object parameter of a method excluded):
/// `.def("f", &T::f, netref::arg("a"), netref::arg("b") = 2)`.
struct NETREF_API arg {
  constexpr explicit arg(const char* parameter_name) noexcept : name(parameter_name) {}
  /// The same name with a default value, used when the caller leaves the parameter out.
  template <class T>
  arg_v operator=(T&& default_value) const;

  const char* name;
};

/// A named parameter with a default value (`arg("b") = 2`). The default is converted to a
/// Value once, at def time, and converted to the parameter type at each call that omits it.
struct NETREF_API arg_v {
  const char* name;
  Value value;
};

template <class T>
arg_v arg::operator=(T&& default_value) const {
  return arg_v{name, detail::to_value_of(std::forward<T>(default_value), ConvertContext{})};
}

//! \cond detail (internals: not in the API reference)
namespace detail {

/// One parameter as signatures and keyword matching see it.
struct ParamInfo {
  std::string name;                   ///< empty unless given with netref::arg
  std::string type;                   ///< "int", "list[str]"...
  std::optional<Value> default_value;  ///< set by `arg("x") = value`
};

/// The state of one call while records are tried. Lives on the caller's stack.
struct CallFrame {
  void* self;                  ///< the exposed instance (methods), else null
  Args& args;
  Kwargs& kwargs;
  const ConvertContext& ctx;   ///< ctx.drained holds what this call fetched (call_records)
  Value result;                ///< set when a record matched and ran
  std::string mismatch;        ///< why the record just tried did not match
  /// The record being tried is the last candidate: it may take (move) the contents of args
  /// and kwargs while converting them, since no other overload will read them again.
  bool consume = false;
  /// The argument slots check bound for bound_record, kept so that invoke, which follows
  /// for the same record, need not bind them again (records of up to kKeptSlots - 1
  /// parameters).
  static constexpr std::size_t kKeptSlots = 8;
  std::array<const Value*, kKeptSlots> bound{};
  const struct FunctionRecord* bound_record = nullptr;
};

/// One bound callable. Immutable once made; shared by every call on every thread.
struct FunctionRecord {
  std::string name;
  std::string signature;           ///< "add(a: int, b: int = 2) -> int"
  std::vector<ParamInfo> params;   ///< the converted parameters (a method's object excluded)
  /// Binds and checks each argument's kind (FitCheck, fetch as given) without converting.
  /// Fit::no sets frame.mismatch. Without fetch it never makes a round trip.
  Fit (*check)(const FunctionRecord&, CallFrame&, bool fetch) = nullptr;
  /// Binds, converts and calls. False (frame.mismatch says why) when the arguments do not
  /// fit; anything the callable throws propagates.
  bool (*invoke)(const FunctionRecord&, CallFrame&) = nullptr;
  std::shared_ptr<void> callable;  ///< the user's callable, type-erased
};

/// A parameter name (and maybe default) given at def time.
struct ParamAnnotation {
  const char* name;
  std::optional<Value> default_value;
};

// ---- non-template parts (service/src/function.cpp) ----------------------------------------

/// Points slots[i] at the Value for parameter i: positional, keyword or default. False with
/// frame.mismatch set when the call does not fit the parameter list.
NETREF_API bool bind_arguments(const FunctionRecord& record, CallFrame& frame, const Value** slots);
/// Records in frame.mismatch that argument index did not convert.
NETREF_API void note_argument_mismatch(const FunctionRecord& record, CallFrame& frame, std::size_t index,
                            const ConversionError& error);
/// Records in frame.mismatch that argument index does not fit (reason from its FitCheck).
NETREF_API void note_argument_misfit(const FunctionRecord& record, CallFrame& frame, std::size_t index,
                          std::string_view reason);
/// Fills params and signature; throws std::invalid_argument when annotations do not match
/// the parameter count.
NETREF_API void describe_record(FunctionRecord& record, std::vector<std::string> param_types,
                     std::string result_type, std::vector<ParamAnnotation> annotations);
/// Chooses the first record whose arguments fit (kind checks first, a netref argument's items
/// fetched at most once for the whole call) and runs it. None matching: TypeError listing
/// every signature and why it did not fit, capped in size however large the arguments.
Value call_records(const std::vector<FunctionRecord>& records, void* self,
                   const ConvertContext& ctx, Args& args, Kwargs& kwargs);
/// A callable Object ("builtins.builtin_function_or_method") around one record.
NETREF_API ObjectPtr make_function_object(FunctionRecord record, const Registry* registry);

// ---- callable traits ----------------------------------------------------------------------

template <class... Ts>
struct type_list {};

template <class F>
struct fn_traits : fn_traits<decltype(&F::operator())> {};  // lambdas and functors
template <class R, class... A>
struct fn_traits<R(A...)> {
  using result = R;
  using args = type_list<A...>;
  static constexpr bool is_const = false;
};
template <class R, class... A>
struct fn_traits<R(A...) noexcept> : fn_traits<R(A...)> {};
template <class R, class... A>
struct fn_traits<R (*)(A...)> : fn_traits<R(A...)> {};
template <class R, class... A>
struct fn_traits<R (*)(A...) noexcept> : fn_traits<R(A...)> {};
#define NETREF_DETAIL_MEMBER_TRAITS(QUALS, CONST)                  \
  template <class C, class R, class... A>                          \
  struct fn_traits<R (C::*)(A...) QUALS> : fn_traits<R(A...)> {    \
    using klass = C;                                               \
    static constexpr bool is_const = CONST;                        \
  };
NETREF_DETAIL_MEMBER_TRAITS(, false)
NETREF_DETAIL_MEMBER_TRAITS(const, true)
NETREF_DETAIL_MEMBER_TRAITS(noexcept, false)
NETREF_DETAIL_MEMBER_TRAITS(const noexcept, true)
NETREF_DETAIL_MEMBER_TRAITS(&, false)
NETREF_DETAIL_MEMBER_TRAITS(const&, true)
NETREF_DETAIL_MEMBER_TRAITS(& noexcept, false)
NETREF_DETAIL_MEMBER_TRAITS(const& noexcept, true)
#undef NETREF_DETAIL_MEMBER_TRAITS

template <class F>
concept plain_callable = std::is_function_v<std::remove_pointer_t<F>> ||
                         std::is_member_function_pointer_v<F> || requires { &F::operator(); };

// ---- arguments ----------------------------------------------------------------------------

/// The kind check of an exposed-type reference or pointer: our own object of that type (or
/// None when allow_none). A type check in this process.
template <class T>
Fit object_fits(const Value& v, bool allow_none, FitCheck& check) {
  try {
    object_cast<T>(v, allow_none);
    return Fit::yes;
  } catch (const ConversionError& e) {
    check.reason = e.message();
    return Fit::no;
  }
}

/// Holds one converted argument for the duration of a call.
template <class P>
struct ArgCaster {
  using D = std::remove_cvref_t<P>;
  std::optional<D> value;
  static Fit fits(const Value& v, FitCheck& check) { return detail::fits<D>(v, check); }
  void load(const Value& v, const ConvertContext& ctx) { value.emplace(Converter<D>::from_value(v, ctx)); }
  /// load from a Value nobody reads afterwards: a converter with a from_value(Value&&)
  /// (strings, bytes) takes its contents instead of copying them.
  void take(Value& v, const ConvertContext& ctx) { value.emplace(Converter<D>::from_value(std::move(v), ctx)); }
  P get() {
    if constexpr (std::is_lvalue_reference_v<P>) return *value;
    else return std::move(*value);
  }
};

/// T& and const T& of an exposed type: our own object, passed back.
template <class P>
  requires(std::is_lvalue_reference_v<P> && lends_by_reference<std::remove_cvref_t<P>>)
struct ArgCaster<P> {
  std::shared_ptr<std::remove_reference_t<P>> object;
  static Fit fits(const Value& v, FitCheck& check) { return object_fits<std::remove_reference_t<P>>(v, false, check); }
  void load(const Value& v, const ConvertContext&) { object = object_cast<std::remove_reference_t<P>>(v, false); }
  P get() { return *object; }
};

/// T* of an exposed type: our own object or None.
template <class P>
  requires(std::is_pointer_v<P> && lends_by_reference<std::remove_cv_t<std::remove_pointer_t<P>>>)
struct ArgCaster<P> {
  std::shared_ptr<std::remove_pointer_t<P>> object;
  static Fit fits(const Value& v, FitCheck& check) { return object_fits<std::remove_pointer_t<P>>(v, true, check); }
  void load(const Value& v, const ConvertContext&) { object = object_cast<std::remove_pointer_t<P>>(v, true); }
  P get() { return object.get(); }
};

/// Read-only strings and Values are used in place, without a copy.
template <>
struct ArgCaster<const std::string&> {
  const std::string* value = nullptr;
  static Fit fits(const Value& v, FitCheck& check) { return Converter<std::string>::fits(v, check); }
  void load(const Value& v, const ConvertContext&) {
    value = v.get_if<std::string>();
    if (!value) throw_mismatch("str", v);
  }
  const std::string& get() { return *value; }
};
template <>
struct ArgCaster<const Value&> {
  const Value* value = nullptr;
  static Fit fits(const Value&, FitCheck&) { return Fit::yes; }
  void load(const Value& v, const ConvertContext&) { value = &v; }
  const Value& get() { return *value; }
};

template <class P>
std::string param_type_name() {
  using D = std::remove_cvref_t<P>;
  if constexpr (std::is_void_v<D>) return "None";
  else if constexpr (std::is_pointer_v<D> && lends_by_reference<std::remove_cv_t<std::remove_pointer_t<D>>>)
    return Converter<std::remove_cv_t<std::remove_pointer_t<D>>>::type_name();
  else return Converter<D>::type_name();
}

// ---- results ------------------------------------------------------------------------------

/// Lends a reference into an object: kept alive through ctx.parent (a method's object), or
/// not at all for free functions (the referent must outlive the peer's use).
template <class T>
Value lend_reference(T* p, const ConvertContext& ctx) {
  using D = std::remove_cv_t<T>;
  std::shared_ptr<void> owner = ctx.parent ? *ctx.parent : std::shared_ptr<void>();
  return lend_object(ctx, typeid(D), std::shared_ptr<void>(std::move(owner), const_cast<D*>(p)));
}

template <class R>
Value result_to_value(std::type_identity_t<R&&> r, const ConvertContext& ctx) {
  using D = std::remove_cvref_t<R>;
  if constexpr (std::is_lvalue_reference_v<R> && lends_by_reference<D>) {
    return lend_reference(&r, ctx);
  } else if constexpr (std::is_pointer_v<D> && lends_by_reference<std::remove_cv_t<std::remove_pointer_t<D>>>) {
    if (!r) return Value();
    return lend_reference(r, ctx);
  } else {
    return Converter<D>::to_value(std::forward<R>(r), ctx);
  }
}

// ---- invoking -----------------------------------------------------------------------------

/// The object parameter of a method (T&, const T&, T*, shared_ptr<T>, or a base of T).
template <class S, class Klass>
decltype(auto) self_from(CallFrame& frame) {
  Klass& object = *static_cast<Klass*>(frame.self);
  using P = std::remove_cvref_t<S>;
  if constexpr (std::is_pointer_v<P>) {
    return static_cast<P>(&object);
  } else if constexpr (is_specialization_of<P, std::shared_ptr>) {
    using E = typename P::element_type;
    static const std::shared_ptr<void> none;
    return P(frame.ctx.parent ? *frame.ctx.parent : none, static_cast<E*>(&object));
  } else {
    return static_cast<S>(object);
  }
}

/// Converts one argument; owned: the Value is the call's own (not a default) and no later
/// overload needs it, so the caster may take its contents.
template <class Caster>
void load_argument(Caster& caster, const Value& v, bool owned, const ConvertContext& ctx) {
  if constexpr (requires(Value& x) { caster.take(x, ctx); }) {
    // The slots point into the CallFrame's args and kwargs, which are not const.
    if (owned) return caster.take(const_cast<Value&>(v), ctx);
  }
  caster.load(v, ctx);
}

template <class Casters, std::size_t... I>
bool load_arguments(const FunctionRecord& record, CallFrame& frame, Casters& casters,
                    const Value* const* slots, std::index_sequence<I...>) {
  [[maybe_unused]] auto owned = [&](std::size_t i) {
    const auto& fallback = record.params[i].default_value;
    return frame.consume && !(fallback && slots[i] == &*fallback);
  };
  std::size_t index = 0;
  try {
    ((index = I, load_argument(std::get<I>(casters), *slots[I], owned(I), frame.ctx)), ...);
  } catch (const ConversionError& e) {
    note_argument_mismatch(record, frame, index, e);
    return false;
  }
  return true;
}

/// The kind check of every argument of a record; the first that does not fit names itself.
template <class... A>
Fit check_record(const FunctionRecord& record, CallFrame& frame, bool fetch) {
  std::array<const Value*, sizeof...(A) + 1> slots{};
  frame.bound_record = nullptr;
  if (!bind_arguments(record, frame, slots.data())) return Fit::no;
  if constexpr (sizeof...(A) + 1 <= CallFrame::kKeptSlots) {
    std::copy(slots.begin(), slots.end(), frame.bound.begin());
    frame.bound_record = &record;
  }
  FitCheck check{frame.ctx, fetch, {}};
  Fit out = Fit::yes;
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    [[maybe_unused]] auto one = [&]<class P>(std::type_identity<P>, std::size_t index) {
      if (out == Fit::no) return;
      const Fit f = ArgCaster<P>::fits(*slots[index], check);
      if (f == Fit::no) note_argument_misfit(record, frame, index, check.reason);
      out = worse(out, f);
    };
    (one(std::type_identity<A>{}, I), ...);
  }(std::index_sequence_for<A...>{});
  return out;
}

template <class Fn, class R, class Klass, class Self, class... A>
bool invoke_record(const FunctionRecord& record, CallFrame& frame) {
  std::array<const Value*, sizeof...(A) + 1> own_slots{};
  const Value** slots = own_slots.data();
  if constexpr (sizeof...(A) + 1 <= CallFrame::kKeptSlots) {
    if (frame.bound_record == &record) slots = frame.bound.data();  // check bound them just now
  }
  if (slots == own_slots.data() && !bind_arguments(record, frame, slots)) return false;
  std::tuple<ArgCaster<A>...> casters;
  if (!load_arguments(record, frame, casters, slots, std::index_sequence_for<A...>{})) return false;
  Fn& fn = *static_cast<Fn*>(record.callable.get());
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    if constexpr (std::is_void_v<Self>) {
      if constexpr (std::is_void_v<R>) fn(std::get<I>(casters).get()...);
      else frame.result = result_to_value<R>(fn(std::get<I>(casters).get()...), frame.ctx);
    } else {
      if constexpr (std::is_void_v<R>) fn(self_from<Self, Klass>(frame), std::get<I>(casters).get()...);
      else frame.result = result_to_value<R>(fn(self_from<Self, Klass>(frame), std::get<I>(casters).get()...), frame.ctx);
    }
  }(std::index_sequence_for<A...>{});
  return true;
}

template <bool Method, class Klass, class Fn, class R, class Params>
struct RecordBuilder;
template <class Klass, class Fn, class R, class... A>
struct RecordBuilder<false, Klass, Fn, R, type_list<A...>> {
  static constexpr auto check = &check_record<A...>;
  static constexpr auto invoke = &invoke_record<Fn, R, void, void, A...>;
  static std::vector<std::string> param_types() { return {param_type_name<A>()...}; }
};
template <class Klass, class Fn, class R>
struct RecordBuilder<true, Klass, Fn, R, type_list<>> {
  static_assert(dependent_false<Fn>,
                "netref: a method's first parameter must be the object (T&, const T&, T* or std::shared_ptr<T>)");
};
template <class Klass, class Fn, class R, class S, class... A>
struct RecordBuilder<true, Klass, Fn, R, type_list<S, A...>> {
  static constexpr auto check = &check_record<A...>;
  static constexpr auto invoke = &invoke_record<Fn, R, Klass, S, A...>;
  static std::vector<std::string> param_types() { return {param_type_name<A>()...}; }
};

inline void add_annotation(std::vector<ParamAnnotation>& out, const arg& a) { out.push_back({a.name, std::nullopt}); }
inline void add_annotation(std::vector<ParamAnnotation>& out, const arg_v& a) { out.push_back({a.name, a.value}); }

/// Builds the record for a callable. Method: the callable's first parameter is the object
/// (a Klass, supplied by the bound object), not an argument.
template <bool Method, class Klass, class F, class... Extra>
FunctionRecord make_record(std::string name, F&& f, const Extra&... extra) {
  using Fn = std::decay_t<F>;
  static_assert(plain_callable<Fn>,
                "netref: def() needs a function, a member function or a lambda with one fixed "
                "signature (no generic lambdas or overloaded functors)");
  using Traits = fn_traits<Fn>;
  using R = typename Traits::result;
  static_assert(!std::is_rvalue_reference_v<R>, "netref: a bound function cannot return an rvalue reference");
  using Builder = RecordBuilder<Method, Klass, Fn, R, typename Traits::args>;
  FunctionRecord record;
  record.name = std::move(name);
  record.check = Builder::check;
  record.invoke = Builder::invoke;
  record.callable = std::make_shared<Fn>(std::forward<F>(f));
  std::vector<ParamAnnotation> annotations;
  annotations.reserve(sizeof...(Extra));
  (add_annotation(annotations, extra), ...);
  describe_record(record, Builder::param_types(), param_type_name<R>(), std::move(annotations));
  return record;
}

/// `&T::f` as a callable taking the object first; other callables pass through.
template <class T, class M, class R, class... A>
auto bind_member(M pm, type_list<A...>) {
  using Self = std::conditional_t<fn_traits<M>::is_const, const T&, T&>;
  return [pm](Self self, A... a) -> R { return (self.*pm)(std::forward<A>(a)...); };
}
template <class T, class F>
decltype(auto) as_method(F&& f) {
  using Fn = std::decay_t<F>;
  if constexpr (std::is_member_function_pointer_v<Fn>) {
    static_assert(std::is_base_of_v<typename fn_traits<Fn>::klass, T>,
                  "netref: member function of another class");
    return bind_member<T, Fn, typename fn_traits<Fn>::result>(f, typename fn_traits<Fn>::args{});
  } else {
    return std::forward<F>(f);
  }
}

/// The record of a method of T: `&T::f` or a callable taking T&/const T& first.
template <class T, class F, class... Extra>
FunctionRecord make_method_record(std::string name, F&& f, const Extra&... extra) {
  return make_record<true, T>(std::move(name), as_method<T>(std::forward<F>(f)), extra...);
}

}  // namespace detail
//! \endcond

/// A peer's callable (netref) or a local Object as a std::function: each call converts the
/// arguments, makes the call (a CALL request for a netref, on the calling thread, which
/// serves the connection meanwhile) and converts the result back. None gives an empty
/// function. As a result, a std::function is lent as a callable object.
template <class R, class... A>
struct Converter<std::function<R(A...)>> {
  static_assert(!std::is_reference_v<R>, "netref: a callback cannot return a reference");

  static Fit fits(const Value& v, FitCheck& check) {
    return v.is_none() || v.is_ref() ? Fit::yes : detail::no_fit(check, type_name(), v);
  }
  static std::function<R(A...)> from_value(const Value& v, const ConvertContext& ctx) {
    if (v.is_none()) return {};
    if (!v.is_ref()) detail::throw_mismatch(type_name(), v);
    return [callee = v, registry = detail::retain_registry(ctx.registry)](A... a) -> R {
      const ConvertContext c{registry.get(), nullptr};
      Args args;
      args.reserve(sizeof...(A));
      (args.push_back(detail::to_value_of(std::forward<A>(a), c)), ...);
      Value result = call_value(callee, std::move(args));
      if constexpr (!std::is_void_v<R>) return Converter<std::remove_cv_t<R>>::from_value(result, c);
    };
  }
  static Value to_value(const std::function<R(A...)>& f, const ConvertContext& ctx) {
    if (!f) return Value();
    return Value(detail::make_function_object(detail::make_record<false, void>("function", f), ctx.registry));
  }
  static std::string type_name() {
    std::string s = "Callable[[";
    bool first = true;
    ((s += (first ? "" : ", ") + detail::param_type_name<A>(), first = false), ...);
    return s + "], " + detail::param_type_name<R>() + "]";
  }
};

}  // namespace netref
