#pragma once
/// CallMetrics: calls, errors by class and a latency histogram per method, for one side of a
/// set of connections (the requests a server serves, or the sync calls a client makes).
///
/// The labels are fixed when the object is made: the method names given, plus "other" for
/// every request that names none of them, so a peer cannot grow the label set. Recording is
/// lock-free and allocation-free (relaxed atomic adds on the method's own cache line); a
/// snapshot reads the counters without stopping anyone.
/// ```cpp
/// auto calls = std::make_shared<netref::CallMetrics>(std::vector<std::string>{"add", "echo"});
/// netref::ClientConfig cfg;
/// cfg.connection.call_metrics = calls;  // every sync call of this connection is counted
/// auto conn = netref::connect("127.0.0.1", server.port(), cfg);
/// conn->root()->attr("add")->call(2, 3);
/// const netref::CallMetricsSnapshot snap = calls->snapshot();
/// const std::uint64_t adds = snap.find("add")->calls;  // 1
/// ```
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "netref/export.hpp"

namespace netref {

/// The error classes counted apart (the Python class a failure travels as, or a client's
/// TimeoutError and ConnectionError); every other class counts as "other".
inline constexpr std::array<std::string_view, 16> metric_error_classes = {
    "AttributeError", "TypeError",       "ValueError",   "KeyError",
    "IndexError",     "StopIteration",   "RuntimeError", "NotImplementedError",
    "PermissionError", "ConnectionRefusedError", "RecursionError", "TimeoutError",
    "ConnectionError", "OverflowError",  "MemoryError",  "other"};

/// Upper bounds of the latency buckets, in seconds (Prometheus's `le`); a last bucket, +Inf,
/// takes the rest.
inline constexpr std::array<double, 17> latency_bucket_bounds = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,    0.1,    0.25,    0.5,    1.0,   2.5,    5.0,   10.0};

/// One method's counters at the time of a snapshot.
struct NETREF_API MethodMetrics {
  std::string method;          ///< a name given to CallMetrics, or "other"
  std::uint64_t calls = 0;     ///< calls that ended (with a reply or an error)
  /// Failed calls by class, in metric_error_classes' order (same size).
  std::array<std::uint64_t, metric_error_classes.size()> errors{};
  /// Calls per latency bucket (not cumulative): buckets[i] took at most
  /// latency_bucket_bounds[i] and more than the bound before; the last is +Inf's.
  std::array<std::uint64_t, latency_bucket_bounds.size() + 1> buckets{};
  double latency_sum_seconds = 0;
  /// Failed calls of every class.
  std::uint64_t error_count() const noexcept;
};

/// Every method's counters, in the order the names were given, "other" last.
struct NETREF_API CallMetricsSnapshot {
  std::vector<MethodMetrics> methods;
  /// The entry of method, or null.
  const MethodMetrics* find(std::string_view method) const noexcept;
};

/// Counters of calls by method. Share one between connections (ConnectionConfig::call_metrics
/// or served_metrics); every member is thread-safe.
class NETREF_API CallMetrics {
 public:
  /// The methods to count apart (duplicates and "other" are dropped); all else is "other".
  explicit CallMetrics(std::vector<std::string> methods);
  ~CallMetrics();
  CallMetrics(const CallMetrics&) = delete;
  CallMetrics& operator=(const CallMetrics&) = delete;

  /// The slot of method, or other_slot(). No allocation, no lock.
  std::size_t slot_of(std::string_view method) const noexcept;
  std::size_t other_slot() const noexcept { return names_.size() - 1; }
  /// The index of a Python class name in metric_error_classes ("other" when not listed).
  static std::size_t error_class_of(std::string_view python_class) noexcept;
  /// "No error" for record().
  static constexpr std::size_t no_error = metric_error_classes.size();

  /// Counts one call of slot that took latency and failed with error_class (no_error: it
  /// did not). Relaxed atomic adds only.
  void record(std::size_t slot, std::size_t error_class, std::chrono::nanoseconds latency) noexcept;

  /// The counters now. Each counter is read once, so a snapshot taken while calls run may
  /// show a call's latency without its error, never a torn number.
  CallMetricsSnapshot snapshot() const;
  /// The labels: the given names, then "other".
  const std::vector<std::string>& methods() const noexcept { return names_; }

 private:
  struct Slot;
  std::vector<std::string> names_;           // the labels, "other" last
  std::vector<std::string_view> sorted_;     // names_ without "other", sorted (slot_of)
  std::vector<std::size_t> sorted_slot_;     // the slot of each sorted_ entry
  std::unique_ptr<Slot[]> slots_;
};

}  // namespace netref
