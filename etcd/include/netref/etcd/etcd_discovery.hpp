#pragma once
/// Finding servers registered in etcd (by etcd_registrar, or anything that writes etcd's
/// endpoint JSON under `netref/services/<NAME>/`): once, or kept current by a watch.
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "netref/discovery/balancer.hpp"
#include "netref/export.hpp"
#include "netref/discovery/registry_client.hpp"
#include "netref/etcd/etcd_client.hpp"
#include "netref/proxy/client.hpp"

namespace netref {

/// The servers of name (any case) in etcd, in key order. Throws ServiceNotFound when there
/// are none, or what EtcdClient throws.
NETREF_API std::vector<ServiceAddress> etcd_discover(const std::string& name, const EtcdConfig& etcd = {});

/// Every service registered in etcd (the keys under `netref/services/`), by name in key
/// order, each with its servers. Keys or values that are not a server's are left out.
/// Throws what EtcdClient throws.
NETREF_API std::vector<std::pair<std::string, std::vector<ServiceAddress>>> etcd_services(const EtcdConfig& etcd = {});

/// Connects to the first server of name that accepts. Throws what etcd_discover throws, or
/// ServiceUnavailable listing each server and why it failed.
NETREF_API Client etcd_connect_by_service(const std::string& name, const EtcdConfig& etcd = {},
                               const ClientConfig& config = {});

/// The servers of one name, kept current on a thread of its own: a range read, then a watch
/// from the revision after it; when the watch ends (a member died, etcd compacted, the
/// connection dropped) it reads again and watches again, on the next member if need be.
/// While etcd is away the last list is kept and it retries every retry_interval.
///
/// For whatever chooses among servers: instances() is a snapshot; on_change is called (on
/// the watcher's thread, never two at once) with each new list.
class NETREF_API EtcdServiceWatcher {
 public:
  using ChangeHandler = std::function<void(const std::vector<ServiceAddress>& instances)>;

  /// Starts watching at once. on_change may be empty.
  EtcdServiceWatcher(std::string name, EtcdConfig etcd, ChangeHandler on_change = {},
                     std::chrono::milliseconds retry_interval = std::chrono::seconds(1));
  /// Stops the thread (a request in flight is abandoned).
  ~EtcdServiceWatcher();
  EtcdServiceWatcher(const EtcdServiceWatcher&) = delete;
  EtcdServiceWatcher& operator=(const EtcdServiceWatcher&) = delete;

  /// The servers now, in key order.
  std::vector<ServiceAddress> instances() const;
  /// Waits until condition holds for the list (checked now and at each change), at most
  /// timeout; returns whether it holds.
  bool wait_until(const std::function<bool(const std::vector<ServiceAddress>&)>& condition,
                  std::chrono::milliseconds timeout) const;
  /// Why the last read or watch failed; empty once one succeeded since.
  std::string last_error() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

/// The watcher's list now, as a Balancer's source: `Balancer(etcd_instances(watcher))`.
NETREF_API InstanceSource etcd_instances(std::shared_ptr<const EtcdServiceWatcher> watcher);

}  // namespace netref
