// Non-template parts of the conversions: error messages, big integers, and copying a peer's
// iterable (a Python list, dict, set... arrives as a netref) with BUFFITER.
#include "netref/service/convert.hpp"

#include <cereal/details/util.hpp>

#include <charconv>
#include <cstdlib>
#include <string>

#include "netref/protocol/connection.hpp"
#include "netref/service/registry.hpp"
#include "type_table.hpp"

namespace netref::detail {
namespace {

// Items per BUFFITER request: few round trips, frames far below the size limits for
// ordinary items.
constexpr std::int64_t buffiter_chunk = 1024;

std::string got_name(const Value& got) {
  if (const auto* o = got.get_if<ObjectPtr>(); o && *o) return std::string((*o)->type_name());
  if (const auto* r = got.get_if<RemoteRefPtr>(); r && *r) return "netref to " + (*r)->id_pack().type_name;
  return std::string(got.type_name());
}

// All items of an iterator Value (a netref: BUFFITER; a local Object: next_items).
void drain_iterator(const Value& iterator, std::vector<Value>& out) {
  if (const auto* remote = iterator.get_if<RemoteRefPtr>(); remote && *remote) {
    const auto& connection = (*remote)->connection();
    for (;;) {
      Value chunk = connection->sync_request(Handler::buffiter, Args{iterator, Value(buffiter_chunk)});
      auto* items = chunk.get_if<Tuple>();
      if (!items) throw TypeError("BUFFITER returned " + std::string(chunk.type_name()) + ", not a tuple");
      if (items->items.empty()) return;
      for (auto& item : items->items) out.push_back(std::move(item));
    }
  }
  if (const auto* local = iterator.get_if<ObjectPtr>(); local && *local) {
    for (;;) {
      auto items = (*local)->next_items(static_cast<std::size_t>(buffiter_chunk));
      if (items.empty()) return;
      for (auto& item : items) out.push_back(std::move(item));
    }
  }
  if (const auto* tuple = iterator.get_if<Tuple>()) {
    out.insert(out.end(), tuple->items.begin(), tuple->items.end());
    return;
  }
  throw TypeError("__iter__ returned " + std::string(iterator.type_name()) + ", not an iterator");
}

Value call_method(const Value& target, std::string_view name) {
  if (const auto* remote = target.get_if<RemoteRefPtr>()) return (*remote)->callattr(name, {});
  return target.get_if<ObjectPtr>()->get()->callattr(name, {}, {});
}

}  // namespace

void throw_mismatch(std::string_view expected, const Value& got) {
  throw TypeError("expected " + std::string(expected) + ", got " + got_name(got));
}

void throw_int_range(const Value& got, std::string_view target) {
  std::string digits;
  if (const auto* i = got.get_if<std::int64_t>()) digits = std::to_string(*i);
  else if (const auto* big = got.get_if<BigInt>()) digits = big->digits.size() > 40 ? big->digits.substr(0, 40) + "..." : big->digits;
  throw TypeError("int " + digits + " does not fit in " + std::string(target));
}

bool big_to_uint64(const BigInt& big, std::uint64_t& out) noexcept {
  const char* first = big.digits.data();
  const char* last = first + big.digits.size();
  if (first != last && *first == '+') ++first;
  auto [ptr, ec] = std::from_chars(first, last, out);
  return ec == std::errc() && ptr == last;
}

double big_to_double(const BigInt& big) { return std::strtod(big.digits.c_str(), nullptr); }

const std::vector<Value>& items_of(const Value& value, bool mapping, std::string_view expected,
                                   std::vector<Value>& storage) {
  if (const auto* t = value.get_if<Tuple>()) return t->items;
  if (const auto* s = value.get_if<FrozenSet>()) return s->items;
  const bool remote = value.get_if<RemoteRefPtr>() && *value.get_if<RemoteRefPtr>();
  const bool local = value.get_if<ObjectPtr>() && *value.get_if<ObjectPtr>();
  if (!remote && !local) throw_mismatch(expected, value);
  storage.clear();
  if (!mapping) {
    // Iterate an iterator, never the container itself: BUFFITER islices what it is given, so
    // on a list every request would start again from the first item.
    drain_iterator(call_method(value, "__iter__"), storage);
    return storage;
  }
  // A dict: iterate its items(). A default-config Python peer refuses items() (not in its
  // safe_attrs); then iterate the keys and fetch the values with pipelined __getitem__
  // calls, one round trip's latency for all of them. Something that is not a dict (a list
  // of pairs) is iterated as it is.
  try {
    drain_iterator(call_method(call_method(value, "items"), "__iter__"), storage);
    return storage;
  } catch (const AttributeError&) {
  }
  drain_iterator(call_method(value, "__iter__"), storage);
  const auto* remote_ref = value.get_if<RemoteRefPtr>();
  const bool is_dict = remote_ref && *remote_ref &&
                       (*remote_ref)->id_pack().type_name.find("dict") != std::string::npos;
  if (!is_dict) return storage;
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
  return storage;
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

void rethrow_with_context(const TypeError& e, std::string_view prefix) {
  throw TypeError(std::string(prefix) + ": " + e.message());
}

std::string ordinal_prefix(std::string_view what, std::size_t index) {
  return std::string(what) + " " + std::to_string(index);
}

}  // namespace netref::detail
