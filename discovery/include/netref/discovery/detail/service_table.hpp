#pragma once
// The registry's table: which servers serve which names, and when each last registered.
// Bounded (names, entries) and pruned by age. Not thread-safe: the registry server owns it
// on its one thread. Not for users.
#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "netref/discovery/registry_client.hpp"

namespace netref::detail {

class ServiceTable {
 public:
  using Clock = std::chrono::steady_clock;

  struct Limits {
    std::size_t max_names = 1024;     ///< distinct names
    std::size_t max_entries = 4096;   ///< (name, server) pairs over every name
    std::size_t max_name_bytes = 256;
  };

  ServiceTable(Limits limits, std::chrono::milliseconds prune_timeout);

  /// Registers server under every name (upper-cased), refreshing those it had: all or
  /// nothing. False, and nothing changed, when a name is empty or too long, or the new
  /// names or entries would pass a limit.
  bool add(const std::vector<std::string>& names, const ServiceAddress& server, Clock::time_point now);
  /// Removes server from every name (UNREGISTER); the count removed.
  std::size_t remove(const ServiceAddress& server);
  /// The fresh servers of name (any case), oldest registration first.
  std::vector<ServiceAddress> query(const std::string& name, Clock::time_point now) const;
  /// Every name, or those with a server on host; sorted.
  std::vector<std::string> names(const std::optional<std::string>& host) const;
  /// Drops entries not refreshed within the prune timeout; the count dropped.
  std::size_t prune(Clock::time_point now);

  std::size_t name_count() const noexcept { return by_name_.size(); }
  std::size_t entry_count() const noexcept { return entries_; }

 private:
  bool stale(Clock::time_point refreshed, Clock::time_point now) const { return now - refreshed > prune_timeout_; }

  Limits limits_;
  std::chrono::milliseconds prune_timeout_;
  // name -> server -> last registration. Set by add, cleared by remove and prune; a name
  // with no servers left is erased at once.
  std::map<std::string, std::map<ServiceAddress, Clock::time_point>> by_name_;
  std::size_t entries_ = 0;
};

}  // namespace netref::detail
