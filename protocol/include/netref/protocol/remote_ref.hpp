#pragma once
/// RemoteRef: our handle on an object the peer lends us (a netref). One RemoteRef exists per
/// id_pack per connection; when the last handle goes, one DEL carrying the number of times the
/// peer boxed the object to us is queued.
#include "netref/export.hpp"
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "netref/protocol/object.hpp"
#include "netref/protocol/value.hpp"

namespace netref {

class AsyncResult;
class Connection;
namespace detail { struct ConnectionImpl; }

/// The peer's identity for one of its objects: (type name, type id, object id).
struct NETREF_API IdPack {
  std::string type_name;
  std::uint64_t type_id = 0;
  std::uint64_t object_id = 0;  ///< 0 for a class object (Python's convention)
  friend bool operator==(const IdPack&, const IdPack&) = default;
};

/// A netref. Holds its connection alive; the connection's import table holds it weakly.
/// Thread-safe; the destructor never blocks, throws or makes a round trip.
class NETREF_API RemoteRef : public std::enable_shared_from_this<RemoteRef> {
 public:
  RemoteRef(std::shared_ptr<Connection> connection, IdPack id_pack);
  ~RemoteRef();
  RemoteRef(const RemoteRef&) = delete;
  RemoteRef& operator=(const RemoteRef&) = delete;

  const IdPack& id_pack() const noexcept { return id_pack_; }
  /// The connection this netref lives on (it may be closed: requests then throw
  /// ConnectionClosed "stale reference").
  const std::shared_ptr<Connection>& connection() const noexcept { return connection_; }

  /// How many times the peer has sent us this object and we have not released it yet.
  std::uint64_t received() const noexcept { return received_.load(std::memory_order_relaxed); }

  // The standard operations, as one sync request each. Throw what the peer raised.
  Value getattr(std::string_view name) const;
  void setattr(std::string_view name, Value value) const;
  void delattr(std::string_view name) const;
  Value call(Args args, Kwargs kwargs = {}) const;
  Value callattr(std::string_view name, Args args, Kwargs kwargs = {}) const;
  std::string repr() const;
  std::string str() const;

  /// Calls the object's attribute path `names` (none: the object itself) with args and
  /// kwargs: CALL, CALLATTR, or for two names or more one CALLCHAIN round trip, which only a
  /// netref peer understands (Connection::peer_is_netref). The request is encoded straight
  /// from the arguments, which are neither copied nor gathered into a tuple first.
  Value call_path(std::span<const std::string> names, std::span<const Value> args,
                  Kwargs kwargs = {}) const;
  /// call_path that takes the arguments: each is released (left None) once the request is
  /// sent, before the wait, so a large argument's memory is free before the reply arrives.
  /// Proxy::call uses it.
  /// timeout: how long to wait for the reply (nullopt: ConnectionConfig::sync_request_timeout);
  /// past it, Timeout.
  Value call_path_releasing(std::span<const std::string> names, std::span<Value> args,
                            Kwargs kwargs = {},
                            std::optional<std::chrono::milliseconds> timeout = std::nullopt) const;
  /// The same request without waiting for its reply. timeout: the result settles with
  /// Timeout after it (and a netref peer that listed `deadline` is sent it as the request's
  /// deadline); nullopt: no expiry, unless the handler this thread serves has a deadline.
  AsyncResult async_call_path(std::span<const std::string> names, std::span<const Value> args,
                              Kwargs kwargs = {},
                              std::optional<std::chrono::milliseconds> timeout = std::nullopt) const;
  /// The same request with no reply at all: returns once it is handed to the transport.
  /// To a peer that listed `oneway` it goes flagged and the peer answers nothing (nor an
  /// error); to a Python peer it is the ordinary request, its reply dropped on arrival.
  /// Throws ConnectionClosed, or what converting the arguments throws.
  void oneway_call_path(std::span<const std::string> names, std::span<const Value> args,
                        Kwargs kwargs = {}) const;

 private:
  friend class Connection;
  friend struct detail::ConnectionImpl;
  Value self_value() const;
  std::shared_ptr<Connection> connection_;
  IdPack id_pack_;
  std::vector<std::uint8_t> wire_id_;  // id_pack_ in brine, encoded once: every call sends it
  std::atomic<std::uint64_t> received_{1};
};

}  // namespace netref
