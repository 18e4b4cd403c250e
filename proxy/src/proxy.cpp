// Proxy: turning a recorded attribute path into the fewest requests.
#include "netref/proxy/proxy.hpp"

#include <iterator>

#include "netref/proxy/client.hpp"

namespace netref {
namespace {

Value names_tuple(std::span<const std::string> names) {
  Tuple t;
  t.items.reserve(names.size());
  for (const auto& name : names) t.items.emplace_back(name);
  return Value(std::move(t));
}

/// The caller's arguments, moved into the Args a local object's call takes.
Args moved_args(std::span<Value> args) {
  return Args(std::make_move_iterator(args.begin()), std::make_move_iterator(args.end()));
}

[[noreturn]] void no_attributes(const Value& v, const std::string& name) {
  throw AttributeError("'" + std::string(v.type_name()) + "' value has no attribute '" + name + "'");
}

/// Follows names[0..count) one GETATTR at a time (or locally for our own objects).
Value walk(Value current, std::span<const std::string> names, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    if (auto* remote = current.get_if<RemoteRefPtr>(); remote != nullptr && *remote) {
      current = (*remote)->getattr(names[i]);
    } else if (auto* local = current.get_if<ObjectPtr>(); local != nullptr && *local) {
      current = (*local)->getattr(names[i]);
    } else {
      no_attributes(current, names[i]);
    }
  }
  return current;
}

}  // namespace

Proxy Proxy::attr(std::string_view name) const { return Proxy(*this, name); }

RemoteRefPtr Proxy::remote() const {
  Value v = resolve();
  if (auto* r = v.get_if<RemoteRefPtr>()) return *r;
  return nullptr;
}

std::string Proxy::repr() const {
  Value v = resolve();
  if (auto* r = v.get_if<RemoteRefPtr>(); r != nullptr && *r) return (*r)->repr();
  if (auto* l = v.get_if<ObjectPtr>(); l != nullptr && *l) return (*l)->repr();
  return v.debug_string();
}

Value Proxy::resolve() const {
  if (path_.empty()) return target_;
  if (auto* remote = target_.get_if<RemoteRefPtr>(); remote != nullptr && *remote && path_.size() > 1) {
    auto& conn = (*remote)->connection();
    if (conn->peer_is_netref()) {
      return conn->sync_request(Handler::getchain, values_of(target_, names_tuple(path_.names())));
    }
  }
  return walk(target_, path_.names(), path_.size());
}

Value Proxy::invoke(std::span<Value> args, Kwargs kwargs) const {
  const auto* remote = target_.get_if<RemoteRefPtr>();
  if (remote != nullptr && *remote && (path_.size() <= 1 || (*remote)->connection()->peer_is_netref())) {
    return (*remote)->call_path_releasing(path_.names(), args, std::move(kwargs), timeout_);  // one round trip, the chain included
  }
  if (path_.empty()) return call_value(target_, moved_args(args), std::move(kwargs));
  Value parent = walk(target_, path_.names(), path_.size() - 1);
  if (auto* r = parent.get_if<RemoteRefPtr>(); r != nullptr && *r) {
    return (*r)->call_path_releasing(path_.names().last(1), args, std::move(kwargs), timeout_);
  }
  if (auto* l = parent.get_if<ObjectPtr>(); l != nullptr && *l) {
    return (*l)->callattr(path_.back(), moved_args(args), std::move(kwargs));
  }
  no_attributes(parent, path_.back());
}

AsyncResult Proxy::invoke_async(std::span<Value> args, Kwargs kwargs) const {
  const auto* remote = target_.get_if<RemoteRefPtr>();
  if (remote != nullptr && *remote && (path_.size() <= 1 || (*remote)->connection()->peer_is_netref())) {
    return (*remote)->async_call_path(path_.names(), args, std::move(kwargs), timeout_);
  }
  Value parent = path_.empty() ? target_ : walk(target_, path_.names(), path_.size() - 1);
  auto* parent_remote = parent.get_if<RemoteRefPtr>();
  if (parent_remote == nullptr || !*parent_remote) {
    throw ConversionError("async_call needs a netref, got " + std::string(parent.type_name()));
  }
  return (*parent_remote)->async_call_path(path_.names().last(path_.empty() ? 0 : 1), args, std::move(kwargs),
                                          timeout_);
}

void Proxy::invoke_oneway(std::span<Value> args, Kwargs kwargs) const {
  const auto* remote = target_.get_if<RemoteRefPtr>();
  if (remote != nullptr && *remote && (path_.size() <= 1 || (*remote)->connection()->peer_is_netref())) {
    (*remote)->oneway_call_path(path_.names(), args, std::move(kwargs));
    return;
  }
  if (path_.empty()) {  // our own object or a plain value: called here, its result dropped
    call_value(target_, moved_args(args), std::move(kwargs));
    return;
  }
  Value parent = walk(target_, path_.names(), path_.size() - 1);
  if (auto* r = parent.get_if<RemoteRefPtr>(); r != nullptr && *r) {
    (*r)->oneway_call_path(path_.names().last(1), args, std::move(kwargs));
    return;
  }
  if (auto* l = parent.get_if<ObjectPtr>(); l != nullptr && *l) {
    (*l)->callattr(path_.back(), moved_args(args), std::move(kwargs));
    return;
  }
  no_attributes(parent, path_.back());
}

void Proxy::assign(Value value) const {
  if (path_.empty()) throw AttributeError("set() needs an attribute: use p->attr(\"name\")->set(value)");
  Value parent = walk(target_, path_.names(), path_.size() - 1);
  if (auto* r = parent.get_if<RemoteRefPtr>(); r != nullptr && *r) {
    (*r)->setattr(path_.back(), std::move(value));
    return;
  }
  if (auto* l = parent.get_if<ObjectPtr>(); l != nullptr && *l) {
    (*l)->setattr(path_.back(), std::move(value));
    return;
  }
  no_attributes(parent, path_.back());
}

Client connect(const std::string& host, std::uint16_t port, const ClientConfig& config) {
  return Client(open_connection(host, port, config));
}

Client connect_unix(const std::string& path, const ClientConfig& config) {
  return Client(open_unix_connection(path, config));
}

}  // namespace netref
