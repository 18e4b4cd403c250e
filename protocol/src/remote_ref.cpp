// RemoteRef: a netref's requests, and its release when the last handle goes. Arguments are
// built with values_of, never a braced list, which would copy the call's arguments deeply.
#include "netref/protocol/remote_ref.hpp"

#include "connection_impl.hpp"
#include "netref/protocol/async_result.hpp"

namespace netref {

RemoteRef::RemoteRef(std::shared_ptr<Connection> connection, IdPack id_pack)
    : connection_(std::move(connection)), id_pack_(std::move(id_pack)) {
  detail::encode_id_pack(id_pack_, wire_id_);
}

RemoteRef::~RemoteRef() {
  auto& impl = *connection_->impl_;
  {
    std::lock_guard lk(impl.tables_mutex);
    impl.imports.forget_expired(id_pack_);  // a newer RemoteRef of the object may hold the slot
  }
  impl.queue_del(id_pack_, received_.load(std::memory_order_relaxed));
}

Value RemoteRef::self_value() const {
  // Requests name their target by value; the handle itself is never mutated through it.
  return Value(std::const_pointer_cast<RemoteRef>(shared_from_this()));
}

Value RemoteRef::getattr(std::string_view name) const {
  return connection_->sync_request(Handler::getattr, values_of(self_value(), Value(name)));
}

void RemoteRef::setattr(std::string_view name, Value value) const {
  connection_->sync_request(Handler::setattr, values_of(self_value(), Value(name), std::move(value)));
}

void RemoteRef::delattr(std::string_view name) const {
  connection_->sync_request(Handler::delattr, values_of(self_value(), Value(name)));
}


Value RemoteRef::call(Args args, Kwargs kwargs) const { return call_path({}, args, std::move(kwargs)); }

Value RemoteRef::callattr(std::string_view name, Args args, Kwargs kwargs) const {
  const std::string names[] = {std::string(name)};
  return call_path(names, args, std::move(kwargs));
}

Value RemoteRef::call_path(std::span<const std::string> names, std::span<const Value> args,
                           Kwargs kwargs) const {
  const detail::CallSpec call{this, names, args, kwargs};
  return connection_->impl_->sync_request(call.handler(), detail::RequestBody{nullptr, &call}, std::nullopt);
}

Value RemoteRef::call_path_releasing(std::span<const std::string> names, std::span<Value> args,
                                     Kwargs kwargs, std::optional<std::chrono::milliseconds> timeout) const {
  const detail::CallSpec call{this, names, args, kwargs};
  return connection_->impl_->sync_request(call.handler(), detail::RequestBody{nullptr, &call, args}, timeout);
}

void RemoteRef::oneway_call_path(std::span<const std::string> names, std::span<const Value> args,
                                 Kwargs kwargs) const {
  const detail::CallSpec call{this, names, args, kwargs};
  connection_->impl_->oneway_request(call.handler(), detail::RequestBody{nullptr, &call});
}

AsyncResult RemoteRef::async_call_path(std::span<const std::string> names, std::span<const Value> args,
                                       Kwargs kwargs, std::optional<std::chrono::milliseconds> timeout) const {
  const detail::CallSpec call{this, names, args, kwargs};
  detail::RequestBody body{nullptr, &call};
  if (timeout && timeout->count() >= 0) body.deadline_ms = timeout->count();  // the call's own timeout
  return connection_->impl_->async_request(call.handler(), body);
}

std::string RemoteRef::repr() const {
  Value v = connection_->sync_request(Handler::repr, values_of(self_value()));
  if (auto* s = v.get_if<std::string>()) return *s;
  return v.debug_string();
}

std::string RemoteRef::str() const {
  Value v = connection_->sync_request(Handler::str, values_of(self_value()));
  if (auto* s = v.get_if<std::string>()) return *s;
  return v.debug_string();
}

}  // namespace netref
