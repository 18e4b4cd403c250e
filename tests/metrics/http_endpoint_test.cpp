// The /metrics endpoint over real HTTP on loopback: scraped and parsed by Prometheus's own
// Python parser, and bad input (other paths, garbage) answered without harm.
#include <doctest/doctest.h>

#include <netref/metrics/metrics.hpp>

#include <string>
#include <vector>

#include "interop/child_process.hpp"
#include "metrics/metrics_lab.hpp"

using namespace netref;
using namespace netref::test;

namespace {

const char* const kPython = "/usr/bin/python3";

std::string script() { return std::string(NETREF_SOURCE_DIR) + "/tests/metrics/scrape.py"; }

bool prometheus_client_available() {
  ChildProcess probe({kPython, "-c", "import prometheus_client.parser"});
  probe.read_all();
  return probe.wait() == 0;
}

// Runs scrape.py against the endpoint; its output when it fails.
std::string scrape(std::uint16_t port, std::vector<std::string> expectations) {
  std::vector<std::string> argv{kPython, script(), "http://127.0.0.1:" + std::to_string(port) + "/metrics"};
  for (auto& e : expectations) argv.push_back(std::move(e));
  ChildProcess child(argv);
  const std::string out = child.read_all();
  return child.wait() == 0 ? std::string() : out.empty() ? std::string("scrape.py failed") : out;
}

// True once answer holds a whole response: headers and Content-Length bytes of body.
bool whole_response(const std::string& answer) {
  const auto end = answer.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  std::size_t length = 0;
  if (const auto at = answer.find("Content-Length: "); at != std::string::npos && at < end) {
    length = std::stoul(answer.substr(at + 16));
  }
  return answer.size() >= end + 4 + length;
}

// Sends raw bytes over TCP and returns what the endpoint answers: one whole response, or
// what came before it closed.
std::string raw_http(std::uint16_t port, std::string_view request) {
  auto stream = connect_tcp("127.0.0.1", port);
  const std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(request.data()), request.size());
  stream->write_all(std::span<const std::span<const std::uint8_t>>(&bytes, 1));
  std::string answer;
  std::uint8_t buffer[4096];
  try {
    for (;;) {
      const auto n = stream->read_some(buffer, std::chrono::seconds(5));
      if (n == 0) break;  // no more within the timeout: the check on the answer fails
      answer.append(reinterpret_cast<const char*>(buffer), n);
      if (whole_response(answer)) break;
    }
  } catch (const ConnectionClosed&) {
  }
  return answer;
}

std::string status_line(const std::string& answer) { return answer.substr(0, answer.find("\r\n")); }

}  // namespace

TEST_CASE("a server's /metrics, scraped over HTTP, parses with prometheus_client and holds the calls made") {
  if (!prometheus_client_available()) {
    MESSAGE("skipped: /usr/bin/python3 has no prometheus_client (Debian: python3-prometheus-client)");
    return;
  }
  auto endpoint = std::make_shared<metrics::HttpEndpoint>(metrics::HttpEndpointConfig{.port = 0});
  REQUIRE(endpoint->port() != 0);
  ServerConfig cfg = metrics_server_config();
  cfg.metrics = false;  // the exporter alone turns them on
  cfg.metrics_exporter = endpoint;
  ThreadPoolServer server(metrics_service(), cfg);
  server.start();
  auto conn = connect("127.0.0.1", server.port());
  auto root = conn->root();
  for (int i = 0; i < 5; ++i) root->attr("add")->call(i, i);
  CHECK_THROWS_AS(root->attr("fail")->call(1), ValueError);
  CHECK_THROWS_AS(root->attr("nope")->call(), AttributeError);

  const std::string failure = scrape(endpoint->port(), {
      "netref_server_calls_total{method=add}=5",
      "netref_server_calls_total{method=fail}=1",
      "netref_server_calls_total{method=echo}=0",
      "netref_server_call_errors_total{method=fail,class=ValueError}=1",
      "netref_server_call_errors_total{method=other,class=AttributeError}=1",
      "netref_server_call_duration_seconds_count{method=add}=5",
      "netref_server_call_duration_seconds_bucket{method=add,le=+Inf}=5",
      "netref_server_call_duration_seconds_sum{method=add}>=0",
      "netref_server_connections=1",
      "netref_server_connections_accepted_total=1",
      "netref_server_connections_closed_total{reason=peer}=0",
      "netref_server_frames_received_total>=8",
      "netref_server_sent_bytes_total>=1",
      "netref_server_parked_handlers=0",
      "netref_server_netrefs_held=0",
  });
  CHECK_MESSAGE(failure.empty(), failure);

  conn->close();
  server.stop();
  // The endpoint stopped with the server.
  CHECK_THROWS(connect_tcp("127.0.0.1", endpoint->port()));
}

TEST_CASE("the metrics endpoint answers other paths with 404 and garbage with 400, and keeps serving") {
  auto endpoint = std::make_shared<metrics::HttpEndpoint>(metrics::HttpEndpointConfig{.port = 0});
  ServerConfig cfg = metrics_server_config();
  cfg.metrics_exporter = endpoint;
  ThreadedServer server(metrics_service(), cfg);
  server.start();

  CHECK(status_line(raw_http(endpoint->port(), "GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")) ==
        "HTTP/1.1 404 Not Found");
  CHECK(status_line(raw_http(endpoint->port(), "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                                               "Connection: close\r\n\r\n"))
            .starts_with("HTTP/1.1 40"));
  using namespace std::string_literals;
  const std::string garbage = "\x16\x03\x01\x02\x00 not http at all\r\n\r\n"s;  // a TLS hello's start, a NUL
  const std::string after_garbage = raw_http(endpoint->port(), garbage);
  CHECK((after_garbage.empty() || status_line(after_garbage) == "HTTP/1.1 400 Bad Request"));
  CHECK(status_line(raw_http(endpoint->port(), "BREW /metrics HTCPCP/1.0\r\n\r\n")) == "HTTP/1.1 400 Bad Request");
  const std::string huge_header = "GET /metrics HTTP/1.1\r\nX: " + std::string(20000, 'a') + "\r\n\r\n";
  CHECK(status_line(raw_http(endpoint->port(), huge_header)).starts_with("HTTP/1.1 4"));

  // The canary: a well-formed scrape still works, and so does the server.
  const std::string answer = raw_http(endpoint->port(), "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK(status_line(answer) == "HTTP/1.1 200 OK");
  CHECK(answer.find("netref_server_connections_accepted_total 0") != std::string::npos);
  auto conn = connect("127.0.0.1", server.port());
  CHECK(conn->root()->attr("add")->call(2, 3).as<std::int64_t>() == 5);
  conn->close();
  server.stop();
}

TEST_CASE("a client's calls render as Prometheus text an endpoint of its own can serve") {
  ThreadPoolServer server(metrics_service(), metrics_server_config());
  server.start();
  ClientConfig client_cfg;
  auto calls = std::make_shared<CallMetrics>(std::vector<std::string>{"add"});
  client_cfg.connection.call_metrics = calls;
  auto conn = connect("127.0.0.1", server.port(), client_cfg);
  conn->root()->attr("add")->call(1, 1);
  const std::string text = metrics::client_text(calls->snapshot(), conn->connection().stats());
  CHECK(text.find("netref_client_calls_total{method=\"add\"} 1\n") != std::string::npos);
  CHECK(text.find("netref_client_call_duration_seconds_count{method=\"add\"} 1\n") != std::string::npos);
  CHECK(text.find("# TYPE netref_client_call_duration_seconds histogram\n") != std::string::npos);
  CHECK(text.find("# TYPE netref_client_netrefs_held gauge\n") != std::string::npos);

  metrics::HttpEndpoint endpoint({.port = 0});
  endpoint.start([&] { return metrics::client_text(calls->snapshot()); });
  const std::string answer = raw_http(endpoint.port(), "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK(answer.find("netref_client_calls_total{method=\"add\"} 1") != std::string::npos);
  endpoint.stop();
  conn->close();
  server.stop();
}
