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

/// py_server.py, started here and stopped (by its PID) when this goes; port once "ready".
struct PythonServer {
  ChildProcess process;
  Generation generation;
  std::uint16_t port = 0;

  /// Debian's rpyc 5.3.
  PythonServer() : PythonServer({"/usr/bin/python3", interop_script("py_server.py")}, Generation::v5) {}
  /// The server under another rpyc: rpyc_path goes first on PYTHONPATH.
  PythonServer(const std::string& rpyc_path, Generation gen)
      : PythonServer({"/usr/bin/env", "PYTHONPATH=" + rpyc_path, "/usr/bin/python3", interop_script("py_server.py")},
                     gen) {}

  /// A client speaking the server's generation.
  Client connect() const {
    ClientConfig config;
    config.connection.generation = generation;
    return netref::connect("127.0.0.1", port, config);
  }

 private:
  PythonServer(std::vector<std::string> argv, Generation gen) : process(std::move(argv)), generation(gen) {
    std::string line;
    port = read_ready_port(process, line);
    if (port == 0) FAIL("the Python server did not start: " << line);
  }
};

}  // namespace netref::test
