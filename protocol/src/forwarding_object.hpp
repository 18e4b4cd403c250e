#pragma once
// ForwardingObject: lends a netref of one connection to the peer of another (RPyC-over-RPyC).
// Every operation is a request on the netref's own connection.
#include <string>

#include "netref/protocol/object.hpp"
#include "netref/protocol/remote_ref.hpp"

namespace netref::detail {

class ForwardingObject final : public Object {
 public:
  explicit ForwardingObject(RemoteRefPtr target) : target_(std::move(target)) {}

  std::string_view type_name() const noexcept override { return target_->id_pack().type_name; }
  std::uint64_t type_id() const noexcept override { return target_->id_pack().type_id; }
  Value getattr(std::string_view name) override { return target_->getattr(name); }
  void setattr(std::string_view name, Value value) override { target_->setattr(name, std::move(value)); }
  void delattr(std::string_view name) override { target_->delattr(name); }
  Value call(Args args, Kwargs kwargs) override { return target_->call(std::move(args), std::move(kwargs)); }
  Value callattr(std::string_view name, Args args, Kwargs kwargs) override {
    return target_->callattr(name, std::move(args), std::move(kwargs));
  }
  std::string repr() override { return target_->repr(); }
  std::string str() override { return target_->str(); }

  const RemoteRefPtr& target() const noexcept { return target_; }

 private:
  RemoteRefPtr target_;
};

}  // namespace netref::detail
