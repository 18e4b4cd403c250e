// CallMetrics: one cache line group per method, relaxed atomic adds, read without locks.
#include "netref/protocol/call_metrics.hpp"

#include <algorithm>

namespace netref {
namespace {

// The bucket bounds in nanoseconds, so a call picks its bucket with integer compares.
constexpr std::array<std::int64_t, latency_bucket_bounds.size()> bounds_ns = [] {
  std::array<std::int64_t, latency_bucket_bounds.size()> out{};
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::int64_t>(latency_bucket_bounds[i] * 1e9 + 0.5);
  return out;
}();

}  // namespace

// Its own cache lines: two methods called from two threads do not share one.
struct alignas(64) CallMetrics::Slot {
  std::array<std::atomic<std::uint64_t>, latency_bucket_bounds.size() + 1> buckets{};
  std::atomic<std::uint64_t> sum_ns{0};
  std::array<std::atomic<std::uint64_t>, metric_error_classes.size()> errors{};
};

std::uint64_t MethodMetrics::error_count() const noexcept {
  std::uint64_t n = 0;
  for (auto e : errors) n += e;
  return n;
}

const MethodMetrics* CallMetricsSnapshot::find(std::string_view method) const noexcept {
  for (const auto& m : methods) {
    if (m.method == method) return &m;
  }
  return nullptr;
}

CallMetrics::CallMetrics(std::vector<std::string> methods) {
  for (auto& m : methods) {
    if (m == "other" || std::find(names_.begin(), names_.end(), m) != names_.end()) continue;
    names_.push_back(std::move(m));
  }
  names_.emplace_back("other");
  std::vector<std::size_t> order(names_.size() - 1);
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return names_[a] < names_[b]; });
  for (auto i : order) {
    sorted_.emplace_back(names_[i]);
    sorted_slot_.push_back(i);
  }
  slots_ = std::make_unique<Slot[]>(names_.size());
}

CallMetrics::~CallMetrics() = default;

std::size_t CallMetrics::slot_of(std::string_view method) const noexcept {
  const auto it = std::lower_bound(sorted_.begin(), sorted_.end(), method);
  if (it == sorted_.end() || *it != method) return other_slot();
  return sorted_slot_[static_cast<std::size_t>(it - sorted_.begin())];
}

std::size_t CallMetrics::error_class_of(std::string_view python_class) noexcept {
  for (std::size_t i = 0; i + 1 < metric_error_classes.size(); ++i) {
    if (metric_error_classes[i] == python_class) return i;
  }
  return metric_error_classes.size() - 1;
}

void CallMetrics::record(std::size_t slot, std::size_t error_class, std::chrono::nanoseconds latency) noexcept {
  Slot& s = slots_[slot];
  const auto ns = std::max<std::int64_t>(0, latency.count());
  std::size_t bucket = 0;
  while (bucket < bounds_ns.size() && ns > bounds_ns[bucket]) ++bucket;
  s.buckets[bucket].fetch_add(1, std::memory_order_relaxed);
  s.sum_ns.fetch_add(static_cast<std::uint64_t>(ns), std::memory_order_relaxed);
  if (error_class < s.errors.size()) s.errors[error_class].fetch_add(1, std::memory_order_relaxed);
}

CallMetricsSnapshot CallMetrics::snapshot() const {
  CallMetricsSnapshot snap;
  snap.methods.resize(names_.size());
  for (std::size_t i = 0; i < names_.size(); ++i) {
    const Slot& s = slots_[i];
    MethodMetrics& m = snap.methods[i];
    m.method = names_[i];
    for (std::size_t b = 0; b < s.buckets.size(); ++b) {
      m.buckets[b] = s.buckets[b].load(std::memory_order_relaxed);
      m.calls += m.buckets[b];  // calls is the buckets' sum: _count always equals +Inf's
    }
    m.latency_sum_seconds = static_cast<double>(s.sum_ns.load(std::memory_order_relaxed)) / 1e9;
    for (std::size_t e = 0; e < s.errors.size(); ++e) m.errors[e] = s.errors[e].load(std::memory_order_relaxed);
  }
  return snap;
}

}  // namespace netref
