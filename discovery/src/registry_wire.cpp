#include "netref/discovery/detail/registry_wire.hpp"

#include <algorithm>

#include "netref/protocol/brine.hpp"
#include "netref/protocol/value.hpp"

namespace netref::detail {
namespace {

// A registry message is at most a few KiB: decode it with limits to match.
constexpr brine::Limits message_limits{.max_depth = 8, .max_items = 4096, .max_bytes = 1 << 20};

WireBytes request(std::string_view command, Value args) {
  return brine::encode(tuple_of("RPYC", std::string(command), std::move(args)));
}

const Tuple* tuple_of_size(const Value& v, std::size_t size) {
  const Tuple* t = v.get_if<Tuple>();
  return t && t->items.size() == size ? t : nullptr;
}

std::optional<std::uint16_t> port_of(const Value& v) {
  const std::int64_t* p = v.get_if<std::int64_t>();
  if (!p || *p < 1 || *p > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(*p);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; });
  return s;
}

std::optional<Value> decode_or_nothing(std::span<const std::uint8_t> data) {
  try {
    return brine::decode(data, message_limits);
  } catch (const Error&) {
    return std::nullopt;
  }
}

Value decode_reply(std::span<const std::uint8_t> data, const std::string& from) {
  try {
    return brine::decode(data, message_limits);
  } catch (const Error& e) {
    throw RegistryReplyError("the registry at " + from + " sent " + std::to_string(data.size()) +
                             " bytes that are not a brine value: " + e.what());
  }
}

[[noreturn]] void wrong_shape(const Value& v, const std::string& from, std::string_view expected) {
  throw RegistryReplyError("the registry at " + from + " answered " + v.debug_string(120) + " where " +
                           std::string(expected) + " was expected");
}

// A tuple of as many items as fit in max_bytes: the items' own encodings plus the tuple's
// header (at most 5 bytes in brine). Keeps the first items, or the last ones when
// keep_last; the order stays as given.
template <class T, class ToValue>
WireBytes encode_fitting(const std::vector<T>& items, std::size_t max_bytes, bool keep_last, ToValue to_value) {
  constexpr std::size_t max_tuple_header = 5;
  std::vector<Value> kept;
  std::size_t size = max_tuple_header;
  for (std::size_t i = 0; i < items.size(); ++i) {
    Value v = to_value(items[keep_last ? items.size() - 1 - i : i]);
    size += brine::encode(v).size();
    if (size > max_bytes) break;
    kept.push_back(std::move(v));
  }
  if (keep_last) std::reverse(kept.begin(), kept.end());
  return brine::encode(Value(Tuple{std::move(kept)}));
}

}  // namespace

WireBytes encode_register_request(const std::vector<std::string>& aliases, std::uint16_t port) {
  Tuple names;
  for (const auto& a : aliases) names.items.emplace_back(a);
  return request("REGISTER", tuple_of(Value(std::move(names)), std::int64_t{port}));
}

WireBytes encode_unregister_request(std::uint16_t port) { return request("UNREGISTER", tuple_of(std::int64_t{port})); }

WireBytes encode_query_request(const std::string& name) { return request("QUERY", tuple_of(name)); }

WireBytes encode_list_request(const std::optional<std::string>& filter_host) {
  Value filter = filter_host ? Value(*filter_host) : Value(None{});
  return request("LIST", tuple_of(tuple_of(std::move(filter))));
}

std::optional<RegistryRequest> parse_registry_request(std::span<const std::uint8_t> data) {
  const auto message = decode_or_nothing(data);
  if (!message) return std::nullopt;
  const Tuple* parts = tuple_of_size(*message, 3);
  if (!parts) return std::nullopt;
  const auto* magic = parts->items[0].get_if<std::string>();
  const auto* command = parts->items[1].get_if<std::string>();
  const Tuple* args = parts->items[2].get_if<Tuple>();
  if (!magic || *magic != "RPYC" || !command || !args) return std::nullopt;

  RegistryRequest req;
  const std::string cmd = lower(*command);
  if (cmd == "register" && args->items.size() == 2) {
    const Tuple* aliases = args->items[0].get_if<Tuple>();
    const auto port = port_of(args->items[1]);
    if (!aliases || !port) return std::nullopt;
    for (const Value& alias : aliases->items) {
      const auto* name = alias.get_if<std::string>();
      if (!name) return std::nullopt;
      req.names.push_back(*name);
    }
    req.command = RegistryCommand::register_service;
    req.port = *port;
  } else if (cmd == "unregister" && args->items.size() == 1) {
    const auto port = port_of(args->items[0]);
    if (!port) return std::nullopt;
    req.command = RegistryCommand::unregister_service;
    req.port = *port;
  } else if (cmd == "query" && args->items.size() == 1) {
    const auto* name = args->items[0].get_if<std::string>();
    if (!name) return std::nullopt;
    req.command = RegistryCommand::query;
    req.names.push_back(*name);
  } else if (cmd == "list" && args->items.size() == 1) {
    const Tuple* filter = tuple_of_size(args->items[0], 1);
    if (!filter) return std::nullopt;
    if (const auto* host = filter->items[0].get_if<std::string>(); host && !host->empty()) {
      req.filter_host = *host;
    } else if (!filter->items[0].is_none() && !host) {
      return std::nullopt;
    }
    req.command = RegistryCommand::list;
  } else {
    return std::nullopt;
  }
  return req;
}

bool holds_one_value(std::span<const std::uint8_t> data) { return decode_or_nothing(data).has_value(); }

WireBytes encode_ok_reply() { return brine::encode(Value("OK")); }

WireBytes encode_none_reply() { return brine::encode(Value(None{})); }

WireBytes encode_query_reply(const std::vector<ServiceAddress>& servers, std::size_t max_bytes) {
  // rpyc lists the oldest registration first; when they do not all fit, keep the newest
  // (those most likely alive), still oldest first.
  return encode_fitting(servers, max_bytes, true, [](const ServiceAddress& s) {
    return tuple_of(s.host, std::int64_t{s.port});
  });
}

WireBytes encode_list_reply(const std::vector<std::string>& names, std::size_t max_bytes) {
  return encode_fitting(names, max_bytes, false, [](const std::string& n) { return Value(n); });
}

bool is_ok_reply(std::span<const std::uint8_t> data) {
  const auto v = decode_or_nothing(data);
  const auto* s = v ? v->get_if<std::string>() : nullptr;
  return s && *s == "OK";
}

std::vector<ServiceAddress> decode_query_reply(std::span<const std::uint8_t> data, const std::string& from) {
  const Value reply = decode_reply(data, from);
  const Tuple* servers = reply.get_if<Tuple>();
  if (!servers) wrong_shape(reply, from, "a tuple of (host, port)");
  std::vector<ServiceAddress> out;
  for (const Value& server : servers->items) {
    const Tuple* pair = tuple_of_size(server, 2);
    const auto* host = pair ? pair->items[0].get_if<std::string>() : nullptr;
    const auto port = pair ? port_of(pair->items[1]) : std::nullopt;
    if (!host || host->empty() || !port) wrong_shape(reply, from, "a tuple of (host, port)");
    out.push_back({*host, *port});
  }
  return out;
}

std::optional<std::vector<std::string>> decode_list_reply(std::span<const std::uint8_t> data, const std::string& from) {
  const Value reply = decode_reply(data, from);
  if (reply.is_none()) return std::nullopt;
  const Tuple* names = reply.get_if<Tuple>();
  if (!names) wrong_shape(reply, from, "a tuple of names or None");
  std::vector<std::string> out;
  for (const Value& name : names->items) {
    const auto* s = name.get_if<std::string>();
    if (!s) wrong_shape(reply, from, "a tuple of names or None");
    out.push_back(*s);
  }
  return out;
}

std::string registry_name(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(), [](char c) { return c >= 'a' && c <= 'z' ? char(c - 'a' + 'A') : c; });
  return name;
}

}  // namespace netref::detail
