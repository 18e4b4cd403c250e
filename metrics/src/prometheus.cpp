// Prometheus's text exposition format: # HELP and # TYPE, then one sample a line.
#include "netref/metrics/prometheus.hpp"

#include <charconv>
#include <string_view>
#include <type_traits>

namespace netref::metrics {
namespace {

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }

  // name{labels} value: labels are "key", "value" pairs.
  template <class V>
  void sample(std::string_view name, std::initializer_list<std::pair<std::string_view, std::string_view>> labels, V value) {
    out_ += name;
    if (labels.size() != 0) {
      out_ += '{';
      bool first = true;
      for (const auto& [key, val] : labels) {
        if (!first) out_ += ',';
        first = false;
        out_ += key;
        out_ += "=\"";
        escape(val);
        out_ += '"';
      }
      out_ += '}';
    }
    out_ += ' ';
    number(value);
    out_ += '\n';
  }

  template <class V>
  void single(std::string_view name, std::string_view type, std::string_view help, V value) {
    family(name, type, help);
    sample(name, {}, value);
  }

  static std::string text(double v) {
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return ec == std::errc() ? std::string(buf, end) : std::string("NaN");
  }

 private:
  void escape(std::string_view v) {
    for (char c : v) {
      if (c == '\\') {
        out_ += "\\\\";
      } else if (c == '"') {
        out_ += "\\\"";
      } else if (c == '\n') {
        out_ += "\\n";
      } else {
        out_ += c;
      }
    }
  }
  template <class V>
  void number(V v) {
    if constexpr (std::is_floating_point_v<V>) {
      out_ += text(v);
    } else {
      out_ += std::to_string(static_cast<unsigned long long>(v));
    }
  }

  std::string& out_;
};

void calls_text(Writer& w, const CallMetricsSnapshot& calls, const std::string& prefix, std::string_view who) {
  const std::string total = prefix + "_calls_total";
  w.family(total, "counter", std::string(who) + " calls by method (the service's names, then other).");
  for (const auto& m : calls.methods) w.sample(total, {{"method", m.method}}, m.calls);

  const std::string errors = prefix + "_call_errors_total";
  w.family(errors, "counter", std::string(who) + " calls that failed, by method and Python exception class.");
  for (const auto& m : calls.methods) {
    for (std::size_t e = 0; e < m.errors.size(); ++e) {
      if (m.errors[e] != 0) w.sample(errors, {{"method", m.method}, {"class", metric_error_classes[e]}}, m.errors[e]);
    }
  }

  const std::string duration = prefix + "_call_duration_seconds";
  w.family(duration, "histogram", std::string(who) + " call latency by method, in seconds.");
  const std::string bucket = duration + "_bucket";
  for (const auto& m : calls.methods) {
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b < latency_bucket_bounds.size(); ++b) {
      cumulative += m.buckets[b];
      w.sample(bucket, {{"method", m.method}, {"le", Writer::text(latency_bucket_bounds[b])}}, cumulative);
    }
    cumulative += m.buckets.back();
    w.sample(bucket, {{"method", m.method}, {"le", "+Inf"}}, cumulative);
    w.sample(duration + "_sum", {{"method", m.method}}, m.latency_sum_seconds);
    w.sample(duration + "_count", {{"method", m.method}}, cumulative);
  }
}

constexpr CloseReason all_reasons[] = {
    CloseReason::local,         CloseReason::peer,        CloseReason::frame,       CloseReason::message,
    CloseReason::reference,     CloseReason::budget,      CloseReason::pings,       CloseReason::frame_timeout,
    CloseReason::write_stall,   CloseReason::keepalive,   CloseReason::idle,        CloseReason::first_frame,
    CloseReason::server_stop,   CloseReason::aborted,     CloseReason::protocol,    CloseReason::timeout,
    CloseReason::error};

}  // namespace

std::string server_text(const ServerMetrics& server) {
  std::string out;
  Writer w(out);
  const ServerStats& s = server.stats;
  calls_text(w, server.calls, "netref_server", "Served");
  w.single("netref_server_connections", "gauge", "Connections open now.", s.open_connections);
  w.single("netref_server_connections_accepted_total", "counter", "Connections accepted.", s.accepted);
  w.single("netref_server_connections_refused_total", "counter", "Connections closed at accept: max_connections.",
           s.refused);
  w.single("netref_server_connections_rejected_total", "counter",
           "Connections turned away by the authenticator or on_connect.", s.rejected);
  w.single("netref_server_handshake_failures_total", "counter", "TLS handshakes that failed or timed out.",
           s.handshake_failures);
  w.family("netref_server_connections_closed_total", "counter", "Connections closed, by reason.");
  for (auto reason : all_reasons) {
    const auto it = s.closed.find(reason);
    const std::uint64_t n = it == s.closed.end() ? 0 : it->second;
    w.sample("netref_server_connections_closed_total", {{"reason", to_string(reason)}}, n);
  }
  w.single("netref_server_running_handlers", "gauge", "Requests being served now.", s.running_handlers);
  w.single("netref_server_parked_handlers", "gauge", "Handlers waiting on their peer (ThreadPoolServer).",
           s.waiting_handlers);
  w.single("netref_server_refused_waits_total", "counter", "Waits refused: the pool's bounds were reached.",
           s.refused_waits);
  w.single("netref_server_lent_objects", "gauge", "Objects lent to clients, over open connections.", s.lent_objects);
  w.single("netref_server_netrefs_held", "gauge", "Clients' objects held, over open connections.", s.netrefs_held);
  w.single("netref_server_queued_bytes", "gauge", "Bytes queued for clients, over open connections.", s.queued_bytes);
  w.single("netref_server_frames_received_total", "counter", "Frames received.", s.frames_in);
  w.single("netref_server_frames_sent_total", "counter", "Frames sent.", s.frames_out);
  w.single("netref_server_received_bytes_total", "counter", "Message bytes received (inflated).", s.bytes_in);
  w.single("netref_server_sent_bytes_total", "counter", "Message bytes sent (before compression).", s.bytes_out);
  return out;
}

std::string client_text(const CallMetricsSnapshot& calls) {
  std::string out;
  Writer w(out);
  calls_text(w, calls, "netref_client", "Sync");
  return out;
}

std::string client_text(const CallMetricsSnapshot& calls, const ConnectionStats& c) {
  std::string out = client_text(calls);
  Writer w(out);
  w.single("netref_client_lent_objects", "gauge", "Objects lent to the server.", c.lent_objects);
  w.single("netref_client_netrefs_held", "gauge", "The server's objects held.", c.netrefs_held);
  w.single("netref_client_pending_requests", "gauge", "Requests awaiting a reply.", c.pending_requests);
  w.single("netref_client_queued_bytes", "gauge", "Bytes queued for the server.", c.queued_bytes);
  w.single("netref_client_frames_received_total", "counter", "Frames received.", c.frames_in);
  w.single("netref_client_frames_sent_total", "counter", "Frames sent.", c.frames_out);
  w.single("netref_client_received_bytes_total", "counter", "Message bytes received (inflated).", c.bytes_in);
  w.single("netref_client_sent_bytes_total", "counter", "Message bytes sent (before compression).", c.bytes_out);
  return out;
}

}  // namespace netref::metrics
