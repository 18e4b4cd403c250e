#pragma once
// The command line of `netref`: a command, its operands and the options every command takes.
// Hand-written (no dependency): `--name value`, `--name=value`, `--` ends the options, and
// options may come before or after the command.
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "netref/protocol/consts.hpp"

namespace netref::cli {

enum class Command { none, ls, describe, call, ping, services };

/// A command line that cannot be run; the message says what is wrong.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Where to connect: "HOST:PORT", or "[IPv6]:PORT".
struct Address {
  std::string host;
  std::uint16_t port = 0;
};

struct TlsOptions {
  bool enabled = false;      ///< --tls, or implied by any option below
  std::string ca_file;       ///< --cacert: trusted CAs (empty: the system's store)
  std::string cert_file;     ///< --cert: our certificate, for mutual TLS
  std::string key_file;      ///< --key: its private key
  std::string server_name;   ///< --servername: the name the certificate must carry
  bool insecure = false;     ///< --insecure: no verification of the server at all
};

struct Options {
  Command command = Command::none;
  bool help = false;                  ///< --help, -h, or `netref help [COMMAND]`
  bool version = false;               ///< --version
  Address address;                    ///< every command but services
  std::vector<std::string> operands;  ///< after the address: PATH or EXPR
  std::optional<std::chrono::milliseconds> timeout;  ///< --timeout SECONDS
  std::optional<Generation> generation;              ///< --rpyc 5|6; detected when absent
  TlsOptions tls;
  bool json = false;                  ///< --json (call)
  int count = 1;                      ///< --count N (ping)
  std::optional<std::string> registry;  ///< --registry HOST[:PORT] (services); rpyc's broadcast when absent
  bool registry_tcp = false;            ///< --tcp (services): a TCP registry
  std::vector<std::string> etcd;        ///< --etcd URL[,URL...] (services): ask etcd instead
};

/// Parses the arguments after the program name. Throws UsageError.
Options parse_options(std::span<const std::string_view> args);

/// Parses "HOST:PORT" or "[IPv6]:PORT". Throws UsageError.
Address parse_address(std::string_view text);

/// Parses --registry's "HOST[:PORT]" (rpyc's port 18811 when none). Throws UsageError.
Address parse_registry(std::string_view text);

/// The --help text of a command, or of the program for Command::none.
std::string_view help_text(Command command);

/// The command's name as typed ("ls").
std::string_view command_name(Command command);

}  // namespace netref::cli
