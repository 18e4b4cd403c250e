#include "commands.hpp"

#include <chrono>
#include <iomanip>
#include <string>
#include <vector>

#include "evaluate.hpp"
#include "exit_codes.hpp"
#include "expression.hpp"
#include "introspection.hpp"
#include "netref/discovery/registry_client.hpp"
#include "netref/protocol/connection.hpp"
#if NETREF_CLI_ETCD
#include "netref/etcd/etcd_discovery.hpp"
#endif
#include "session.hpp"
#include "value_text.hpp"

namespace netref::cli {
namespace {

void print_lines(std::ostream& out, const std::vector<std::string>& lines) {
  for (const auto& line : lines) out << line << '\n';
}

int run_ls(const Options& options, std::ostream& out) {
  const auto path = options.operands.empty() ? std::vector<std::string>{} : split_path(options.operands.front());
  const Session session = open_session(options);
  print_lines(out, list_names(session.root, path));
  session.connection->close();
  return exit_success;
}

int run_describe(const Options& options, std::ostream& out) {
  const auto path = split_path(options.operands.front());
  const Session session = open_session(options);
  print_lines(out, describe_name(session.root, path));
  session.connection->close();
  return exit_success;
}

int run_call(const Options& options, std::ostream& out) {
  const Expression expression = parse_expression(options.operands.front());  // before connecting
  const Session session = open_session(options);
  const Value result = evaluate(expression, session.root);
  out << (options.json ? to_json(result) : python_repr(result)) << '\n';
  session.connection->close();
  return exit_success;
}

int run_ping(const Options& options, std::ostream& out) {
  const Session session = open_session(options);
  Connection& connection = *session.connection;
  out << options.address.host << ':' << options.address.port << ": " << describe_peer(connection) << '\n';
  const auto timeout = options.timeout.value_or(connection.config().sync_request_timeout);
  for (int i = 1; i <= options.count; ++i) {
    const auto start = std::chrono::steady_clock::now();
    connection.ping(timeout);
    const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - start;
    out << "ping " << i << ": " << std::fixed << std::setprecision(3) << took.count() << " ms\n";
  }
  connection.close();
  return exit_success;
}

/// "NAME host:port host:port ...": one service and its servers.
void print_service(std::ostream& out, const std::string& name, const std::vector<ServiceAddress>& servers) {
  out << name;
  for (const auto& server : servers) out << ' ' << server.host << ':' << server.port;
  out << '\n';
}

int run_etcd_services(const Options& options, std::ostream& out) {
#if !NETREF_CLI_ETCD
  (void)out;
  (void)options;
  throw UsageError("--etcd: this netref was built without etcd (libcurl and nlohmann-json)");
#else
  EtcdConfig etcd;
  etcd.endpoints = options.etcd;
  if (options.timeout) etcd.request_timeout = *options.timeout;
  if (!options.operands.empty()) {
    const std::string& name = options.operands.front();
    print_service(out, name, etcd_discover(name, etcd));
    return exit_success;
  }
  for (const auto& [name, servers] : etcd_services(etcd)) print_service(out, name, servers);
  return exit_success;
#endif
}

int run_services(const Options& options, std::ostream& out) {
  if (!options.etcd.empty()) return run_etcd_services(options, out);
  RegistryConfig config;
  config.transport = options.registry_tcp ? RegistryTransport::tcp : RegistryTransport::udp;
  if (options.registry) {
    const Address at = parse_registry(*options.registry);
    config.host = at.host;
    config.port = at.port;
  }
  if (options.timeout) config.timeout = *options.timeout;
  const RegistryClient registry(config);
  if (!options.operands.empty()) {
    const std::string& name = options.operands.front();
    const auto servers = registry.query(name);
    if (servers.empty()) throw ServiceNotFound("no server is registered under '" + name + "' at " + to_string(config));
    print_service(out, name, servers);
    return exit_success;
  }
  for (const auto& name : registry.list()) print_service(out, name, registry.query(name));
  return exit_success;
}

/// The expression with a caret under the column that went wrong.
void point_at(std::ostream& err, const std::string& text, std::size_t column) {
  err << "  " << text << "\n  ";
  std::size_t seen = 0;
  for (const char c : text) {  // count characters, not UTF-8 bytes, as the column does
    if ((static_cast<unsigned char>(c) & 0xC0) == 0x80) continue;
    if (++seen >= column) break;
    err << (c == '\t' ? '\t' : ' ');
  }
  err << "^\n";
}

std::string remote_class(const RemoteError& error) {
  if (error.module().empty() || error.module() == "builtins" || error.module() == "exceptions") {
    return error.class_name();
  }
  return error.module() + "." + error.class_name();
}

}  // namespace

int run_command(const Options& options, std::ostream& out, std::ostream& err) noexcept {
  try {
    try {
      switch (options.command) {
        case Command::ls: return run_ls(options, out);
        case Command::describe: return run_describe(options, out);
        case Command::call: return run_call(options, out);
        case Command::ping: return run_ping(options, out);
        case Command::services: return run_services(options, out);
        case Command::none: break;
      }
      err << "netref: no command given (try netref --help)\n";
      return exit_usage;
    } catch (const SyntaxError& e) {
      err << "netref: syntax error at column " << e.column() << ": " << e.what() << '\n';
      point_at(err, options.operands.front(), e.column());
      return exit_usage;
    } catch (const EvaluationError& e) {
      err << "netref: at column " << e.column() << ": " << e.what() << '\n';
      point_at(err, options.operands.front(), e.column());
      return exit_usage;
    } catch (const UsageError& e) {
      err << "netref: " << e.what() << '\n';
      return exit_usage;
    } catch (const ServiceNotFound& e) {  // the registry's answer: nothing under that name
      err << "netref: " << e.what() << '\n';
      return exit_remote_exception;
    } catch (const ListingForbidden& e) {
      err << "netref: " << e.what() << '\n';
      return exit_remote_exception;
    } catch (const RemoteError& e) {
      err << remote_class(e) << ": " << e.message() << '\n';
      return exit_remote_exception;
    } catch (const Timeout& e) {
      err << "netref: timed out: " << e.what() << '\n';
      return exit_timeout;
    } catch (const std::exception& e) {  // ConnectError, ConnectionClosed, ProtocolError, ...
      err << "netref: " << e.what() << '\n';
      return exit_connection;
    }
  } catch (...) {  // writing to err failed
    return exit_connection;
  }
}

}  // namespace netref::cli
