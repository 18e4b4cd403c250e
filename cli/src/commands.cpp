#include "commands.hpp"

#include <chrono>
#include <iomanip>
#include <string>
#include <vector>

#include "evaluate.hpp"
#include "exit_codes.hpp"
#include "expression.hpp"
#include "introspection.hpp"
#include "netref/protocol/connection.hpp"
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
        case Command::services:
          err << "netref services: not available yet: needs the discovery support\n";
          return exit_usage;
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
