// Discovery against stock Python rpyc, both ways: rpyc's registry with a netref server and
// client; a Python server and client with netref_registry. Each case runs with Debian's rpyc
// 5.3, and again with rpyc 6.0.1 when its sources are at $NETREF_RPYC6 (default
// ../shared/rpyc-6.0.1 beside the project); without them those cases print "SKIP:" and ctest reports them
// skipped.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <cstdlib>
#include <optional>

#include "discovery/registry_lab.hpp"
#include "interop/child_process.hpp"
#include "netref/netref.hpp"

using namespace netref;
using namespace netref::test;
using namespace std::chrono_literals;

namespace {

struct Rpyc {
  const char* version;
  std::string pythonpath;  // empty: Debian's python3-rpyc
};

// Which rpyc to run; nullopt (and a SKIP line) when 6.0.1's sources are absent.
std::optional<Rpyc> rpyc(bool six) {
  if (!six) return Rpyc{"5.3", ""};
  const char* env = std::getenv("NETREF_RPYC6");
  // Default: beside the project, where a checkout with its ../shared has them.
  const std::string path = env ? env : std::string(NETREF_SOURCE_DIR) + "/../shared/rpyc-6.0.1";
  struct stat info {};
  if (::stat((path + "/rpyc").c_str(), &info) != 0) {
    MESSAGE("SKIP: rpyc 6.0.1 sources not found at " << path << " (set NETREF_RPYC6)");
    return std::nullopt;
  }
  return Rpyc{"6.0.1", path};
}

std::string script() { return std::string(NETREF_SOURCE_DIR) + "/tests/discovery/py_discovery.py"; }

// python3 with exactly this rpyc on its path.
ChildProcess python(const Rpyc& r, std::vector<std::string> args) {
  std::vector<std::string> argv{"/usr/bin/env", "-u", "PYTHONPATH"};
  if (!r.pythonpath.empty()) argv.push_back("PYTHONPATH=" + r.pythonpath);
  argv.push_back("/usr/bin/python3");
  argv.push_back(script());
  argv.insert(argv.end(), args.begin(), args.end());
  return ChildProcess(argv);
}

// The port a child printed as "ready PORT" (or "... on HOST:PORT").
std::uint16_t ready_port(ChildProcess& child) {
  std::string line;
  while (child.read_line(line)) {
    if (line.rfind("ready ", 0) == 0) return static_cast<std::uint16_t>(std::stoi(line.substr(6)));
    if (line.rfind("netref_registry: serving ", 0) == 0) {
      return static_cast<std::uint16_t>(std::stoi(line.substr(line.rfind(':') + 1)));
    }
  }
  FAIL("the child did not start: " << line);
  return 0;
}

ClientConfig client_for(const Rpyc& r) {
  ClientConfig config;
  if (std::string(r.version) == "5.3") config.connection.generation = Generation::v5;
  return config;
}

void netref_server_found_by_python(bool six, RegistryTransport transport) {
  const auto r = rpyc(six);
  if (!r) return;
  const std::string mode = transport == RegistryTransport::udp ? "UDP" : "TCP";
  auto registry = python(*r, {"registry", mode});
  const auto where = registry_at(transport, ready_port(registry));

  Service svc;
  svc.def("add", [](std::int64_t a, std::int64_t b) { return a + b; });
  ServerConfig config;
  config.port = 0;
  config.registrar = registry_registrar({.aliases = {"NETREFCALC"}, .registry = where});
  ThreadedServer server(svc, config);
  server.start();
  REQUIRE(eventually([&] { return RegistryClient(where).query("NETREFCALC").size() == 1; }));

  auto client = python(*r, {"client", mode, std::to_string(where.port), "netrefcalc"});
  const std::string output = client.read_all();
  INFO(output);
  CHECK(client.wait() == 0);
  CHECK(output.find("result 5") != std::string::npos);
}

void python_server_found_by_netref(bool six, RegistryTransport transport) {
  const auto r = rpyc(six);
  if (!r) return;
  const std::string mode = transport == RegistryTransport::udp ? "UDP" : "TCP";
  auto registry = python(*r, {"registry", mode});
  const auto where = registry_at(transport, ready_port(registry));
  auto server = python(*r, {"server", mode, std::to_string(where.port), "PYCALC"});
  const auto server_port = ready_port(server);
  REQUIRE(eventually([&] { return RegistryClient(where).query("pycalc").size() == 1; }));
  CHECK(discover("pycalc", where) == std::vector<ServiceAddress>{{"127.0.0.1", server_port}});
  auto conn = connect_by_service("pycalc", where, client_for(*r));
  CHECK(conn->root()->attr("add")->call(2, 3).as<std::int64_t>() == 5);
  conn->close();
}

void netref_registry_serves_python(bool six, RegistryTransport transport) {
  const auto r = rpyc(six);
  if (!r) return;
  const std::string mode = transport == RegistryTransport::udp ? "UDP" : "TCP";
  ChildProcess registry({std::string(NETREF_BINARY_DIR) + "/discovery/netref_registry", "--host", "127.0.0.1",
                         "--port", "0", "--mode", mode, "--quiet"});
  const auto port = ready_port(registry);
  auto server = python(*r, {"server", mode, std::to_string(port), "PYREG"});
  ready_port(server);
  auto client = python(*r, {"client", mode, std::to_string(port), "pyreg"});
  const std::string output = client.read_all();
  INFO(output);
  CHECK(client.wait() == 0);
  CHECK(output.find("result 5") != std::string::npos);
}

}  // namespace

TEST_CASE("rpyc 5.3's registry: a netref server registers and Python's connect_by_service reaches it (UDP)") {
  netref_server_found_by_python(false, RegistryTransport::udp);
}
TEST_CASE("rpyc 6.0.1's registry: a netref server registers and Python's connect_by_service reaches it (TCP)") {
  netref_server_found_by_python(true, RegistryTransport::tcp);
}
TEST_CASE("rpyc 5.3's registry: a Python ThreadedServer(auto_register=True) is reached by netref's connect_by_service (TCP)") {
  python_server_found_by_netref(false, RegistryTransport::tcp);
}
TEST_CASE("rpyc 6.0.1's registry: a Python ThreadedServer(auto_register=True) is reached by netref's connect_by_service (UDP)") {
  python_server_found_by_netref(true, RegistryTransport::udp);
}
TEST_CASE("netref_registry serves a Python rpyc 5.3 server and client (UDP)") {
  netref_registry_serves_python(false, RegistryTransport::udp);
}
TEST_CASE("netref_registry serves a Python rpyc 6.0.1 server and client (TCP)") {
  netref_registry_serves_python(true, RegistryTransport::tcp);
}
