#pragma once
// A stock Python rpyc server (py_server.py) run as a child process for our client's tests:
// Debian's rpyc 5.3 by default, rpyc 6.0.1 from beside the project when it is there.
#include <doctest/doctest.h>

#include <netref/netref.hpp>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "child_process.hpp"

namespace netref::test {

/// rpyc 6.0.1's sources beside the project (../shared/rpyc-6.0.1), or "" when absent.
inline std::string rpyc6_path() {
  const auto path = std::filesystem::path(NETREF_SOURCE_DIR).parent_path() / "shared" / "rpyc-6.0.1";
  return std::filesystem::exists(path / "rpyc") ? path.string() : std::string();
}

/// rpyc 6.0.1's sources, or "" after telling the test log the case is skipped (it returns).
inline std::string rpyc6_or_skip() {
  std::string path = rpyc6_path();
  if (path.empty()) MESSAGE("skipped: rpyc 6.0.1's sources are not beside the project (../shared/rpyc-6.0.1)");
  return path;
}

/// /usr/bin/python3 with rpyc_path first on PYTHONPATH, as a child's argv prefix.
inline std::vector<std::string> python3_with(const std::string& rpyc_path) {
  return {"/usr/bin/env", "PYTHONPATH=" + rpyc_path, "/usr/bin/python3"};
}

/// py_server.py, started here and stopped (by its PID) when this goes; port once "ready".
struct PythonServer {
  ChildProcess process;
  Generation generation;
  std::uint16_t port = 0;

  /// Debian's rpyc 5.3.
  PythonServer() : PythonServer({"/usr/bin/python3", interop_script("py_server.py")}, Generation::v5) {}
  /// The server under another rpyc: rpyc_path goes first on PYTHONPATH.
  PythonServer(const std::string& rpyc_path, Generation gen)
      : PythonServer(with_script(python3_with(rpyc_path), interop_script("py_server.py")), gen) {}

  /// A client speaking the server's generation.
  Client connect() const {
    ClientConfig config;
    config.connection.generation = generation;
    return netref::connect("127.0.0.1", port, config);
  }

 private:
  static std::vector<std::string> with_script(std::vector<std::string> argv, std::string script) {
    argv.push_back(std::move(script));
    return argv;
  }
  PythonServer(std::vector<std::string> argv, Generation gen) : process(std::move(argv)), generation(gen) {
    std::string line;
    port = read_ready_port(process, line);
    if (port == 0) FAIL("the Python server did not start: " << line);
  }
};

}  // namespace netref::test
