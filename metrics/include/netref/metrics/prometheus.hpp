#pragma once
/// Prometheus's text exposition format (version 0.0.4) for a server's or a client's metrics,
/// for an HTTP endpoint of one's own; HttpEndpoint serves it at /metrics.
#include <string>

#include "netref/export.hpp"
#include "netref/protocol/call_metrics.hpp"
#include "netref/protocol/connection.hpp"
#include "netref/service/server.hpp"

namespace netref::metrics {

/// A server's metrics as Prometheus text: netref_server_calls_total{method},
/// netref_server_call_errors_total{method,class} (classes that occurred),
/// netref_server_call_duration_seconds{method} (a histogram), the connections (open,
/// accepted, refused, rejected, closed by reason), handlers (running, parked, refused
/// waits), lent objects, netrefs held, queued bytes, and frames and bytes each way.
NETREF_API std::string server_text(const ServerMetrics& server);

/// A client's calls (ConnectionConfig::call_metrics) as netref_client_calls_total{method},
/// netref_client_call_errors_total{method,class} and netref_client_call_duration_seconds.
NETREF_API std::string client_text(const CallMetricsSnapshot& calls);
/// The same, with one connection's counters (netref_client_lent_objects, ..._netrefs_held,
/// ..._pending_requests, ..._queued_bytes, frames and bytes each way).
NETREF_API std::string client_text(const CallMetricsSnapshot& calls, const ConnectionStats& connection);

}  // namespace netref::metrics
