// Proxy: turning a recorded attribute path into the fewest requests.
#include "netref/proxy/proxy.hpp"

#include "netref/proxy/client.hpp"

namespace netref {
namespace {

Value names_tuple(const std::vector<std::string>& names, std::size_t count) {
  Tuple t;
  t.items.reserve(count);
  for (std::size_t i = 0; i < count; ++i) t.items.emplace_back(names[i]);
  return Value(std::move(t));
}

[[noreturn]] void no_attributes(const Value& v, const std::string& name) {
  throw AttributeError("'" + std::string(v.type_name()) + "' value has no attribute '" + name + "'");
}

/// Follows names[0..count) one GETATTR at a time (or locally for our own objects).
Value walk(Value current, const std::vector<std::string>& names, std::size_t count) {
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

Proxy Proxy::attr(std::string_view name) const {
  Proxy next(*this);
  next.path_.emplace_back(name);
  return next;
}

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
      return conn->sync_request(Handler::getchain, values_of(target_, names_tuple(path_, path_.size())));
    }
  }
  return walk(target_, path_, path_.size());
}

Value Proxy::invoke(Args args, Kwargs kwargs) const {
  if (path_.empty()) return call_value(target_, std::move(args), std::move(kwargs));
  if (auto* remote = target_.get_if<RemoteRefPtr>(); remote != nullptr && *remote) {
    auto& conn = (*remote)->connection();
    if (path_.size() > 1 && conn->peer_is_netref()) {
      // One round trip for the whole chain.
      return conn->sync_request(Handler::callchain,
                                values_of(target_, names_tuple(path_, path_.size()), Value(Tuple{std::move(args)}),
                                          kwargs_to_value(std::move(kwargs))));
    }
    Value parent = walk(target_, path_, path_.size() - 1);
    if (auto* r = parent.get_if<RemoteRefPtr>(); r != nullptr && *r) {
      return (*r)->callattr(path_.back(), std::move(args), std::move(kwargs));
    }
    if (auto* l = parent.get_if<ObjectPtr>(); l != nullptr && *l) {
      return (*l)->callattr(path_.back(), std::move(args), std::move(kwargs));
    }
    no_attributes(parent, path_.back());
  }
  Value parent = walk(target_, path_, path_.size() - 1);
  if (auto* l = parent.get_if<ObjectPtr>(); l != nullptr && *l) {
    return (*l)->callattr(path_.back(), std::move(args), std::move(kwargs));
  }
  no_attributes(parent, path_.back());
}

AsyncResult Proxy::invoke_async(Args args, Kwargs kwargs) const {
  Value parent = path_.empty() ? target_ : walk(target_, path_, path_.size() - 1);
  auto* remote = parent.get_if<RemoteRefPtr>();
  if (remote == nullptr || !*remote) throw TypeError("async_call needs a netref, got " + std::string(parent.type_name()));
  auto& conn = (*remote)->connection();
  if (path_.empty()) {
    return conn->async_request(Handler::call, values_of(parent, Value(Tuple{std::move(args)}),
                                                        kwargs_to_value(std::move(kwargs))));
  }
  return conn->async_request(Handler::callattr, values_of(parent, Value(path_.back()),
                                                          Value(Tuple{std::move(args)}), kwargs_to_value(std::move(kwargs))));
}

void Proxy::assign(Value value) const {
  if (path_.empty()) throw AttributeError("set() needs an attribute: use p->attr(\"name\")->set(value)");
  Value parent = walk(target_, path_, path_.size() - 1);
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
