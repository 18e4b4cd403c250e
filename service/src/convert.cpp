// Non-template parts of the conversions: error messages, big integers, and copying a peer's
// iterable (a Python list, dict, set... arrives as a netref) with BUFFITER.
#include "netref/service/convert.hpp"

#include <cereal/details/util.hpp>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "netref/protocol/connection.hpp"
#include "netref/service/registry.hpp"
#include "type_table.hpp"

namespace netref::detail {
namespace {

// Items per BUFFITER request: few round trips, frames far below the size limits for
// ordinary items.
constexpr std::int64_t buffiter_chunk = 1024;

// A peer's type name goes into error texts cut to this many bytes (it is the peer's text, of
// any length).
constexpr std::size_t type_name_cap = 100;

std::string got_name(const Value& got) {
  if (const auto* o = got.get_if<ObjectPtr>(); o && *o) return std::string((*o)->type_name());
  if (const auto* r = got.get_if<RemoteRefPtr>(); r && *r) {
    const std::string& name = (*r)->id_pack().type_name;
    if (name.size() <= type_name_cap) return "netref to " + name;
    return "netref to " + name.substr(0, type_name_cap) + "...";
  }
  return std::string(got.type_name());
}

// What one item costs in memory: its Value, plus its text and nested items.
std::size_t footprint(const Value& v) {
  std::size_t bytes = sizeof(Value);
  if (const auto* s = v.get_if<std::string>()) bytes += s->size();
  else if (const auto* b = v.get_if<Bytes>()) bytes += b->data.size();
  else if (const auto* big = v.get_if<BigInt>()) bytes += big->digits.size();
  else if (const auto* t = v.get_if<Tuple>()) for (const auto& item : t->items) bytes += footprint(item);
  else if (const auto* f = v.get_if<FrozenSet>()) for (const auto& item : f->items) bytes += footprint(item);
  return bytes;
}

// Counts what one drain has copied and stops it at the caps.
class DrainBudget {
 public:
  explicit DrainBudget(const DrainLimits& limits) : limits_(limits) {}

  // Appends items to out; std::length_error naming the cap once past it.
  void take(std::vector<Value>& items, std::vector<Value>& out) {
    for (auto& item : items) {
      bytes_ += footprint(item);
      if (out.size() + 1 > limits_.max_items) {
        throw std::length_error("iterable has more than " + std::to_string(limits_.max_items) +
                                " items, the limit (DrainLimits::max_items)");
      }
      if (bytes_ > limits_.max_bytes) {
        throw std::length_error("iterable's items take more than " + std::to_string(limits_.max_bytes) +
                                " bytes, the limit (DrainLimits::max_bytes)");
      }
      out.push_back(std::move(item));
    }
  }

 private:
  DrainLimits limits_;
  std::size_t bytes_ = 0;
};

// All items of an iterator Value (a netref: BUFFITER; a local Object: next_items), within
// limits.
void drain_iterator(const Value& iterator, std::vector<Value>& out, const DrainLimits& limits) {
  DrainBudget budget(limits);
  if (const auto* remote = iterator.get_if<RemoteRefPtr>(); remote && *remote) {
    const auto& connection = (*remote)->connection();
    for (;;) {
      Value chunk = connection->sync_request(Handler::buffiter, Args{iterator, Value(buffiter_chunk)});
      auto* items = chunk.get_if<Tuple>();
      if (!items) throw ConversionError("BUFFITER returned " + std::string(chunk.type_name()) + ", not a tuple");
      if (items->items.empty()) return;
      budget.take(items->items, out);
    }
  }
  if (const auto* local = iterator.get_if<ObjectPtr>(); local && *local) {
    for (;;) {
      auto items = (*local)->next_items(static_cast<std::size_t>(buffiter_chunk));
      if (items.empty()) return;
      budget.take(items, out);
    }
  }
  if (const auto* tuple = iterator.get_if<Tuple>()) {
    std::vector<Value> items = tuple->items;
    budget.take(items, out);
    return;
  }
  throw ConversionError("__iter__ returned " + std::string(iterator.type_name()) + ", not an iterator");
}

DrainLimits limits_of(const ConvertContext& ctx) {
  return ctx.registry ? ctx.registry->drain_limits() : DrainLimits{};
}

bool is_iterable_ref(const Value& value) {
  const auto* remote = value.get_if<RemoteRefPtr>();
  const auto* local = value.get_if<ObjectPtr>();
  return (remote && *remote) || (local && *local);
}

const void* identity(const Value& value) noexcept {
  if (const auto* remote = value.get_if<RemoteRefPtr>()) return remote->get();
  if (const auto* local = value.get_if<ObjectPtr>()) return local->get();
  return nullptr;
}

Value call_method(const Value& target, std::string_view name) {
  if (const auto* remote = target.get_if<RemoteRefPtr>()) return (*remote)->callattr(name, {});
  return target.get_if<ObjectPtr>()->get()->callattr(name, {}, {});
}

}  // namespace

std::string mismatch_text(std::string_view expected, const Value& got) {
  return "expected " + std::string(expected) + ", got " + got_name(got);
}

void throw_mismatch(std::string_view expected, const Value& got) { throw ConversionError(mismatch_text(expected, got)); }

Fit no_fit(FitCheck& check, std::string_view expected, const Value& got) {
  check.reason = mismatch_text(expected, got);
  return Fit::no;
}

Fit no_fit_at(FitCheck& check, std::string_view what, std::size_t index) {
  check.reason = ordinal_prefix(what, index) + ": " + check.reason;
  return Fit::no;
}

std::string int_range_text(const Value& got, std::string_view target) {
  std::string digits;
  if (const auto* i = got.get_if<std::int64_t>()) digits = std::to_string(*i);
  else if (const auto* big = got.get_if<BigInt>()) digits = big->digits.size() > 40 ? big->digits.substr(0, 40) + "..." : big->digits;
  return "int " + digits + " does not fit in " + std::string(target);
}

void throw_int_range(const Value& got, std::string_view target) { throw ConversionError(int_range_text(got, target)); }

bool big_to_uint64(const BigInt& big, std::uint64_t& out) noexcept {
  const char* first = big.digits.data();
  const char* last = first + big.digits.size();
  if (first != last && *first == '+') ++first;
  auto [ptr, ec] = std::from_chars(first, last, out);
  return ec == std::errc() && ptr == last;
}

double big_to_double(const BigInt& big) { return std::strtod(big.digits.c_str(), nullptr); }

Value big_int_value(const BigInt& big) {
  std::string_view digits = big.digits;
  const bool negative = !digits.empty() && digits.front() == '-';
  if (negative || (!digits.empty() && digits.front() == '+')) digits.remove_prefix(1);
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    throw ConversionError("BigInt \"" + big.digits.substr(0, 40) + "\" is not a decimal integer");
  }
  digits.remove_prefix(std::min(digits.find_first_not_of('0'), digits.size() - 1));  // "000" is "0"
  std::string canonical = (negative && digits != "0" ? "-" : "") + std::string(digits);
  std::int64_t small = 0;
  const char* last = canonical.data() + canonical.size();
  if (auto [ptr, ec] = std::from_chars(canonical.data(), last, small); ec == std::errc() && ptr == last) {
    return Value(small);  // what the peer's decoder makes of it anyway
  }
  return Value(BigInt{std::move(canonical)});
}

namespace {

// The items of a netref or local object, fetched into storage.
void fetch_items(const Value& value, bool mapping, std::vector<Value>& storage, const DrainLimits& limits) {
  storage.clear();
  if (!mapping) {
    // Iterate an iterator, never the container itself: BUFFITER islices what it is given, so
    // on a list every request would start again from the first item.
    drain_iterator(call_method(value, "__iter__"), storage, limits);
    return;
  }
  // A dict: iterate its items(). A default-config Python peer refuses items() (not in its
  // safe_attrs); then iterate the keys and fetch the values with pipelined __getitem__
  // calls, one round trip's latency for all of them. Something that is not a dict (a list
  // of pairs) is iterated as it is.
  try {
    drain_iterator(call_method(call_method(value, "items"), "__iter__"), storage, limits);
    return;
  } catch (const AttributeError&) {
  }
  storage.clear();
  drain_iterator(call_method(value, "__iter__"), storage, limits);
  const auto* remote_ref = value.get_if<RemoteRefPtr>();
  const bool is_dict = remote_ref && *remote_ref &&
                       (*remote_ref)->id_pack().type_name.find("dict") != std::string::npos;
  if (!is_dict) return;
  const auto& connection = (*remote_ref)->connection();
  std::vector<AsyncResult> values;
  values.reserve(storage.size());
  for (const auto& key : storage) {
    values.push_back(connection->async_request(
        Handler::callattr, Args{value, Value("__getitem__"), Value(Tuple{{key}}), Value(Tuple{})}));
  }
  for (std::size_t i = 0; i < storage.size(); ++i) {
    Value item = values[i].value();
    storage[i] = Value(Tuple{{std::move(storage[i]), std::move(item)}});
  }
}

// The cache entry of value, fetched now if this call has not fetched it yet. A value that is
// not iterable (the peer raises AttributeError or TypeError) is remembered as such, so the
// next overload asking does not ask the peer again.
// Any other error (the cap, a lost connection) propagates and leaves no entry behind.
const DrainCache::Entry& cached_items(const Value& value, bool mapping, const ConvertContext& ctx) {
  if (const DrainCache::Entry* entry = ctx.drained->find(value, mapping)) return *entry;
  DrainCache::Entry entry{value, mapping, {}, {}};
  try {
    fetch_items(value, mapping, entry.items, limits_of(ctx));
  } catch (const AttributeError& e) {
    entry.failure = "not iterable: " + e.message();
  } catch (const TypeError& e) {
    entry.failure = "not iterable: " + e.message();
  }
  if (!entry.failure.empty()) entry.items.clear();
  return ctx.drained->add(std::move(entry));
}

}  // namespace

const DrainCache::Entry* DrainCache::find(const Value& source, bool mapping) const noexcept {
  for (const auto& entry : entries_) {
    if (entry.mapping == mapping && identity(entry.source) == identity(source)) return &entry;
  }
  return nullptr;
}

const DrainCache::Entry& DrainCache::add(Entry entry) { return entries_.emplace_back(std::move(entry)); }

const std::vector<Value>& items_of(const Value& value, bool mapping, std::string_view expected,
                                   std::vector<Value>& storage, const ConvertContext& ctx) {
  if (const auto* t = value.get_if<Tuple>()) return t->items;
  if (const auto* s = value.get_if<FrozenSet>()) return s->items;
  if (!is_iterable_ref(value)) throw_mismatch(expected, value);
  if (!ctx.drained) {
    fetch_items(value, mapping, storage, limits_of(ctx));
    return storage;
  }
  const DrainCache::Entry& entry = cached_items(value, mapping, ctx);
  if (!entry.failure.empty()) throw ConversionError(mismatch_text(expected, value) + " (" + entry.failure + ")");
  return entry.items;
}

Fit items_fit(const Value& value, bool mapping, std::string_view expected, FitCheck& check,
              const std::vector<Value>*& items) {
  if (const auto* t = value.get_if<Tuple>()) {
    items = &t->items;
    return Fit::yes;
  }
  if (const auto* s = value.get_if<FrozenSet>()) {
    items = &s->items;
    return Fit::yes;
  }
  if (!is_iterable_ref(value)) return no_fit(check, expected, value);
  const DrainCache::Entry* entry = check.ctx.drained ? check.ctx.drained->find(value, mapping) : nullptr;
  if (!entry) {
    if (!check.fetch || !check.ctx.drained) return Fit::unknown;
    entry = &cached_items(value, mapping, check.ctx);
  }
  if (!entry->failure.empty()) {
    no_fit(check, expected, value);
    check.reason += " (" + entry->failure + ")";
    return Fit::no;
  }
  items = &entry->items;
  return Fit::yes;
}

std::shared_ptr<const Registry> retain_registry(const Registry* registry) {
  if (!registry) return nullptr;
  return std::make_shared<const Registry>(*registry);
}

std::string demangle(const std::type_info& type) {
  // Signatures read like Python's: "Point", not "app::(anonymous namespace)::Point".
  const std::string full = cereal::util::demangle(type.name());
  constexpr std::string_view anonymous = "(anonymous namespace)";
  std::string out;
  for (std::size_t i = 0; i < full.size(); ++i) {
    if (full.compare(i, 2, "::") == 0) {
      if (out.size() >= anonymous.size() && out.compare(out.size() - anonymous.size(), anonymous.size(), anonymous) == 0) {
        out.resize(out.size() - anonymous.size());
      }
      const auto cut = out.find_last_of("<, ");
      out.erase(cut == std::string::npos ? 0 : cut + 1);
      ++i;
      continue;
    }
    out += full[i];
  }
  return out;
}

void rethrow_with_context(const ConversionError& e, std::string_view prefix) {
  throw ConversionError(std::string(prefix) + ": " + e.message());
}

std::string ordinal_prefix(std::string_view what, std::size_t index) {
  return std::string(what) + " " + std::to_string(index);
}

}  // namespace netref::detail
