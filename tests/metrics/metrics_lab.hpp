#pragma once
// A small service for the metrics and logging tests: add, fail (raises ValueError), echo.
#include <netref/netref.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace netref::test {

inline Service metrics_service() {
  Service service;
  service.def("add", [](std::int64_t a, std::int64_t b) { return a + b; });
  service.def("fail", [](std::int64_t) -> std::int64_t { throw std::invalid_argument("fail was asked to fail"); });
  service.def("echo", [](std::string s) { return s; });
  return service;
}

inline ServerConfig metrics_server_config() {
  ServerConfig cfg;
  cfg.port = 0;
  cfg.worker_threads = 2;
  cfg.metrics = true;
  return cfg;
}

inline std::uint64_t error_count(const MethodMetrics& m, std::string_view python_class) {
  return m.errors[CallMetrics::error_class_of(python_class)];
}

}  // namespace netref::test
