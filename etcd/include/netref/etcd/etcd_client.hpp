#pragma once
/// A client of etcd's v3 JSON gateway (the HTTP API every etcd 3.4+ serves beside gRPC):
/// keys, leases and watches, each request bounded by a timeout, over several cluster members
/// with failover, with etcd's user/password tokens and TLS. What the etcd registrar and
/// discovery are built on; use it directly for anything else kept in etcd.
///
///   netref::EtcdClient etcd({.endpoints = {"http://10.0.0.5:2379", "http://10.0.0.6:2379"}});
///   etcd.put("config/answer", "42");
///   auto range = etcd.range_prefix("config/");
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "netref/export.hpp"
#include "netref/discovery/errors.hpp"

namespace netref {

/// etcd answered, with an error of its own (gRPC status code and etcd's message): a lease
/// that does not exist, a failed authentication, a permission denied. Unreachable members
/// are RegistryUnreachable; answers that are not etcd's JSON are RegistryReplyError.
class NETREF_API EtcdError : public DiscoveryError {
 public:
  EtcdError(int code, const std::string& message) : DiscoveryError(message), code_(code) {}
  /// The gRPC status code etcd sent (5 not found, 16 unauthenticated, 7 permission denied...).
  int code() const noexcept { return code_; }

 private:
  int code_;
};

/// Which etcd, and how long to wait for it.
struct EtcdConfig {
  /// Client URLs of the cluster's members ("http://host:2379" or "https://..."). Requests go
  /// to the member that answered last and move on to the next one when it does not answer.
  std::vector<std::string> endpoints = {"http://127.0.0.1:2379"};
  /// etcd's authentication: when username is set, the client asks for a token
  /// (/v3/auth/authenticate), sends it with every request, and asks again when it expires.
  std::string username;
  std::string password;
  /// TLS (https endpoints): the CA file that signed the members' certificates (empty: the
  /// system's), and a client certificate and key for etcd's --client-cert-auth.
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  /// Connecting to one member, and one whole request to one member (a watch: until etcd
  /// confirms it; then it runs until ended).
  std::chrono::milliseconds connect_timeout = std::chrono::seconds(1);
  std::chrono::milliseconds request_timeout = std::chrono::seconds(2);
  /// The largest reply (or line of a watch) accepted; more is a RegistryReplyError.
  std::size_t max_reply_bytes = std::size_t{16} << 20;
};

/// One key and what etcd keeps with it.
struct EtcdKeyValue {
  std::string key;
  std::string value;
  std::int64_t mod_revision = 0;  ///< the revision that last changed it
  std::int64_t lease = 0;         ///< the lease it is attached to; 0: none
};

/// The result of a range read: the keys, in key order, and the store's revision at the read
/// (watch from revision + 1 to miss nothing).
struct EtcdRange {
  std::vector<EtcdKeyValue> kvs;
  std::int64_t revision = 0;
};

/// One change seen by a watch. A delete carries the key only.
struct EtcdEvent {
  enum class Type { put, del };
  Type type = Type::put;
  EtcdKeyValue kv;
};

/// A lease granted: its id, and the TTL etcd chose (never below its minimum, often 2 s).
struct EtcdLease {
  std::int64_t id = 0;
  std::chrono::seconds ttl{0};
};

/// Thread-safe: every call is one request (or one watch) of its own; share one client.
/// Every call throws RegistryUnreachable when no member answered within the timeouts,
/// RegistryReplyError when an answer was not etcd's, EtcdError when etcd refused.
class NETREF_API EtcdClient {
 public:
  explicit EtcdClient(EtcdConfig config = {});
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  /// Sets key to value, attached to lease (0: none). Returns the revision of the change.
  std::int64_t put(std::string_view key, std::string_view value, std::int64_t lease = 0);
  /// The keys in [key, range_end); range_end empty: key alone.
  EtcdRange range(std::string_view key, std::string_view range_end = {});
  /// The keys that start with prefix.
  EtcdRange range_prefix(std::string_view prefix);
  /// Deletes the keys in [key, range_end) (range_end empty: key alone). Returns how many.
  std::int64_t delete_range(std::string_view key, std::string_view range_end = {});

  /// Grants a lease of ttl (etcd may raise it to its minimum).
  EtcdLease lease_grant(std::chrono::seconds ttl);
  /// Renews lease; returns its TTL again, or nullopt when etcd no longer has it (expired or
  /// revoked: grant a new one).
  std::optional<std::chrono::seconds> lease_keepalive(std::int64_t lease);
  /// Ends lease and deletes every key attached to it. A lease already gone is not an error.
  void lease_revoke(std::int64_t lease);

  using WatchHandler = std::function<void(const std::vector<EtcdEvent>& events, std::int64_t revision)>;
  /// Watches [key, range_end) from start_revision, calling on_events (on this thread) with
  /// each batch of changes and the revision it reached. Blocks until stop is requested
  /// (returns), or the watch ends: the member went away or etcd cancelled the watch (a
  /// start_revision already compacted), which throw as the other calls do. Either way, read
  /// again and watch from the new revision + 1.
  void watch(std::string_view key, std::string_view range_end, std::int64_t start_revision,
             const WatchHandler& on_events, std::stop_token stop = {});

  /// One POST of a JSON body to a gateway path ("/v3/..."), through the same failover,
  /// authentication and error checks; returns etcd's JSON reply as text. For what the calls
  /// above do not cover (cluster membership, user management).
  std::string request(std::string_view path, std::string_view json_body);

  const EtcdConfig& config() const noexcept;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

/// The end of the range of every key that starts with prefix (etcd's "prefix + 1").
NETREF_API std::string etcd_prefix_end(std::string_view prefix);

}  // namespace netref
