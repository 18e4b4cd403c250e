#include "netref/discovery/detail/service_table.hpp"

#include <algorithm>
#include <set>

#include "netref/discovery/detail/registry_wire.hpp"

namespace netref::detail {

ServiceTable::ServiceTable(Limits limits, std::chrono::milliseconds prune_timeout)
    : limits_(limits), prune_timeout_(prune_timeout) {}

bool ServiceTable::add(const std::vector<std::string>& names, const ServiceAddress& server, Clock::time_point now) {
  std::set<std::string> keys;
  for (const auto& name : names) {
    if (name.empty() || name.size() > limits_.max_name_bytes) return false;
    keys.insert(registry_name(name));
  }
  std::size_t new_names = 0, new_entries = 0;
  for (const auto& key : keys) {
    const auto it = by_name_.find(key);
    if (it == by_name_.end()) {
      ++new_names;
      ++new_entries;
    } else if (!it->second.contains(server)) {
      ++new_entries;
    }
  }
  if (by_name_.size() + new_names > limits_.max_names || entries_ + new_entries > limits_.max_entries) return false;
  for (const auto& key : keys) by_name_[key][server] = now;
  entries_ += new_entries;
  return true;
}

std::size_t ServiceTable::remove(const ServiceAddress& server) {
  std::size_t removed = 0;
  for (auto it = by_name_.begin(); it != by_name_.end();) {
    removed += it->second.erase(server);
    it = it->second.empty() ? by_name_.erase(it) : std::next(it);
  }
  entries_ -= removed;
  return removed;
}

std::vector<ServiceAddress> ServiceTable::query(const std::string& name, Clock::time_point now) const {
  const auto it = by_name_.find(registry_name(name));
  if (it == by_name_.end()) return {};
  std::vector<std::pair<Clock::time_point, ServiceAddress>> fresh;
  for (const auto& [server, refreshed] : it->second) {
    if (!stale(refreshed, now)) fresh.emplace_back(refreshed, server);
  }
  std::sort(fresh.begin(), fresh.end());
  std::vector<ServiceAddress> out;
  for (auto& [refreshed, server] : fresh) out.push_back(std::move(server));
  return out;
}

std::vector<std::string> ServiceTable::names(const std::optional<std::string>& host) const {
  std::vector<std::string> out;
  for (const auto& [name, servers] : by_name_) {
    const bool match = !host || std::any_of(servers.begin(), servers.end(),
                                            [&](const auto& entry) { return entry.first.host == *host; });
    if (match) out.push_back(name);
  }
  return out;
}

std::size_t ServiceTable::prune(Clock::time_point now) {
  std::size_t removed = 0;
  for (auto it = by_name_.begin(); it != by_name_.end();) {
    removed += std::erase_if(it->second, [&](const auto& entry) { return stale(entry.second, now); });
    it = it->second.empty() ? by_name_.erase(it) : std::next(it);
  }
  entries_ -= removed;
  return removed;
}

}  // namespace netref::detail
