#pragma once
/// Choosing a server per connection among the instances discovery lists. A netref belongs to
/// the connection it came through (object ids are per connection), so balancing is per
/// session, not per call: each connect() opens one connection to one instance.
///
///   netref::Balancer balancer(netref::registry_instances("CALCULATOR"),
///                             {.policy = netref::BalancePolicy::round_robin});
///   netref::Client calc = balancer.connect();  // the next instance that accepts
///
/// An instance that fails to connect is skipped for a while, on gRPC's connection backoff.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "netref/discovery/registry_client.hpp"
#include "netref/export.hpp"
#include "netref/proxy/client.hpp"

namespace netref {

/// gRPC's connection backoff: after an instance's n-th failure in a row it is skipped for
/// min(initial * multiplier^(n-1), max), each delay spread by a random +-jitter fraction.
struct NETREF_API Backoff {
  std::chrono::milliseconds initial = std::chrono::seconds(1);
  double multiplier = 1.6;
  double jitter = 0.2;
  std::chrono::milliseconds max = std::chrono::seconds(120);
};

/// How a Balancer orders the instances for each connect().
enum class BalancePolicy {
  pick_first,   ///< discovery's order: the first that accepts (rpyc's connect_by_service)
  round_robin,  ///< the instance after the one picked last, in discovery's order
};

/// The instances of a service as discovery lists them now. Called at each connect();
/// what it throws (RegistryUnreachable...) is what connect() throws.
using InstanceSource = std::function<std::vector<ServiceAddress>()>;

/// An RPyC registry's answer for name (rpyc's discover()), asked at each connect().
NETREF_API InstanceSource registry_instances(std::string name, RegistryConfig registry = {});

struct NETREF_API BalancerConfig {
  BalancePolicy policy = BalancePolicy::pick_first;
  Backoff backoff;
  /// How each connection is made (TLS, timeouts, the service offered back).
  ClientConfig client;
  /// The clock backoff runs on; empty: std::chrono::steady_clock::now. (Tests set one.)
  std::function<std::chrono::steady_clock::time_point()> now;
};

/// One instance's standing with a Balancer (state()).
struct NETREF_API InstanceState {
  ServiceAddress address;
  unsigned failures = 0;                             ///< connect failures in a row
  std::chrono::steady_clock::time_point retry_at{};  ///< skipped until then (failures > 0)
  std::string last_error;
};

/// Opens connections to the instances an InstanceSource lists, by policy, skipping those
/// backing off. Thread-safe: several threads may connect() at once.
class NETREF_API Balancer {
 public:
  explicit Balancer(InstanceSource source, BalancerConfig config = {});

  /// A new connection to one instance. Throws ServiceNotFound when discovery lists none, and
  /// ServiceUnavailable when none accepted or every one is backing off; its message names
  /// each instance and why (the connect error, or how long it still backs off).
  Client connect();

  /// The instance the last successful connect() reached.
  std::optional<ServiceAddress> last_instance() const;
  /// The instances that failed lately (a success or a list without them forgets them).
  std::vector<InstanceState> state() const;

 private:
  using Clock = std::chrono::steady_clock;
  Clock::time_point now() const;
  std::chrono::milliseconds next_delay(unsigned failures);

  InstanceSource source_;
  BalancerConfig config_;
  mutable std::mutex mutex_;
  std::map<ServiceAddress, InstanceState> failing_;
  std::optional<ServiceAddress> last_;
  std::size_t next_ = 0;  // round_robin: where the next turn starts
  std::minstd_rand random_;
};

namespace detail {
/// The delay after the failures-th failure in a row, before jitter; unit in [0, 1) spreads it
/// over [delay * (1 - jitter), delay * (1 + jitter)).
NETREF_API std::chrono::milliseconds backoff_delay(const Backoff& backoff, unsigned failures, double unit) noexcept;
}  // namespace detail

}  // namespace netref
