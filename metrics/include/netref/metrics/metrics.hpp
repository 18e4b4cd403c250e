#pragma once
/// netref's metrics: what a server and a client count (netref/protocol/call_metrics.hpp,
/// ServerConfig::metrics, ConnectionConfig::call_metrics), Prometheus text, and an HTTP
/// endpoint. Target netref::metrics.
#include "netref/metrics/http_endpoint.hpp"
#include "netref/metrics/prometheus.hpp"
