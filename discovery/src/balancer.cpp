// Balancer: one instance per connection, by policy, with gRPC's backoff for those failing.
#include "netref/discovery/balancer.hpp"

#include <algorithm>
#include <cmath>

#include "netref/discovery/connect_by_service.hpp"
#include "netref/discovery/errors.hpp"

namespace netref {
namespace {

std::string address_text(const ServiceAddress& a) { return a.host + ":" + std::to_string(a.port); }

}  // namespace

std::chrono::milliseconds detail::backoff_delay(const Backoff& backoff, unsigned failures, double unit) noexcept {
  const double max_ms = static_cast<double>(backoff.max.count());
  double ms = static_cast<double>(backoff.initial.count());
  for (unsigned i = 1; i < failures && ms < max_ms; ++i) ms *= backoff.multiplier;
  ms = std::min(ms, max_ms);
  ms *= 1.0 + backoff.jitter * (2.0 * std::clamp(unit, 0.0, 1.0) - 1.0);
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(std::max(ms, 0.0))));
}

InstanceSource registry_instances(std::string name, RegistryConfig registry) {
  return [name = std::move(name), registry = std::move(registry)] { return discover(name, registry); };
}

Balancer::Balancer(InstanceSource source, BalancerConfig config)
    : source_(std::move(source)), config_(std::move(config)), random_(std::random_device{}()) {}

Balancer::Clock::time_point Balancer::now() const { return config_.now ? config_.now() : Clock::now(); }

std::chrono::milliseconds Balancer::next_delay(unsigned failures) {
  const double unit = std::uniform_real_distribution<double>(0.0, 1.0)(random_);
  return detail::backoff_delay(config_.backoff, failures, unit);
}

Client Balancer::connect() {
  const std::vector<ServiceAddress> instances = source_();
  if (instances.empty()) throw ServiceNotFound("discovery lists no instance of the service");
  // The order to try them in, this turn; instances discovery no longer lists are forgotten.
  std::vector<std::size_t> order(instances.size());
  {
    std::lock_guard lk(mutex_);
    std::erase_if(failing_, [&](const auto& entry) {
      return std::find(instances.begin(), instances.end(), entry.first) == instances.end();
    });
    const std::size_t first = config_.policy == BalancePolicy::round_robin ? next_ % instances.size() : 0;
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = (first + i) % instances.size();
  }
  std::string reasons;
  for (const std::size_t index : order) {
    const ServiceAddress& address = instances[index];
    {
      std::lock_guard lk(mutex_);
      auto it = failing_.find(address);
      const auto at = now();
      if (it != failing_.end() && at < it->second.retry_at) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(it->second.retry_at - at);
        reasons += "\n  " + address_text(address) + ": backing off for " + std::to_string(left.count()) +
                   " ms more after " + std::to_string(it->second.failures) + " failure(s): " + it->second.last_error;
        continue;
      }
    }
    try {
      Client client = netref::connect(address.host, address.port, config_.client);
      std::lock_guard lk(mutex_);
      failing_.erase(address);
      last_ = address;
      next_ = index + 1;
      return client;
    } catch (const Error& e) {  // refused, unreachable, a failed handshake, closed during the hello
      std::lock_guard lk(mutex_);
      InstanceState& state = failing_[address];
      state.address = address;
      ++state.failures;
      state.last_error = e.what();
      state.retry_at = now() + next_delay(state.failures);
      reasons += "\n  " + address_text(address) + ": " + e.what();
    }
  }
  throw ServiceUnavailable("no instance of the service accepted a connection:" + reasons);
}

std::optional<ServiceAddress> Balancer::last_instance() const {
  std::lock_guard lk(mutex_);
  return last_;
}

std::vector<InstanceState> Balancer::state() const {
  std::lock_guard lk(mutex_);
  std::vector<InstanceState> all;
  all.reserve(failing_.size());
  for (const auto& [address, state] : failing_) all.push_back(state);
  return all;
}

}  // namespace netref
