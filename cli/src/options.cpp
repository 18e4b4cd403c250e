#include "options.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "netref/discovery/registry_client.hpp"

namespace netref::cli {
namespace {

constexpr std::string_view program_help = R"(netref: explore and call netref and Python rpyc servers

Usage: netref [OPTIONS] COMMAND [ARGS...]

Commands:
  ls HOST:PORT [PATH]         the names a server exposes, at its root or at PATH
  describe HOST:PORT PATH     one name's signature and documentation
  call HOST:PORT EXPR         evaluate a call written as in Python: 'add(2, 3)'
  ping HOST:PORT              round-trip time of a PING
  services                    list the services an RPyC registry or etcd knows, and their servers
  help [COMMAND]              this text, or a command's

Options (every command):
  --timeout SECONDS           bound on connecting and on each request (default: 10 s to
                              connect, 30 s per request)
  --rpyc 5|6                  the rpyc message generation to speak (default: detected)
  --tls                       connect over TLS, trusting the system's CAs
  --cacert FILE               trust the CAs in FILE (implies --tls)
  --cert FILE, --key FILE     present this certificate and key (mutual TLS; implies --tls)
  --servername NAME           the name the server's certificate must carry (default: HOST)
  --insecure                  TLS without verifying the server at all (tests only)
  -h, --help                  help; --version: the version

Exit status: 0 success, 1 the server raised an exception, 2 usage error, 3 connection
failure, 4 timeout.
)";

constexpr std::string_view ls_help = R"(Usage: netref ls [OPTIONS] HOST:PORT [PATH]

Lists the names the object at PATH exposes (the server's root when PATH is absent), one a
line, with signatures where the server gives them (a netref server gives every overload's)
and the first line of each docstring where a Python server gives one. PATH is a dotted
attribute path (`ls HOST:PORT make_counter`); an object that is only callable shows its
signature.
)";

constexpr std::string_view describe_help = R"(Usage: netref describe [OPTIONS] HOST:PORT PATH

Prints one name's signature (netref servers give it), its type and its documentation
(a Python object's __doc__). A plain value is printed with its type.
)";

constexpr std::string_view call_help = R"(Usage: netref call [OPTIONS] HOST:PORT EXPR

Evaluates EXPR, written as a Python user writes it, against the server's root and prints the
result as Python's repr() would, or as JSON with --json:

  netref call HOST:PORT 'add(2, 3)'                 5
  netref call HOST:PORT 'make_counter(10).add(5)'   15
  netref call HOST:PORT 'greet("ann", punctuation="?")'

Names are attributes of the root; chains, keyword arguments and subscripts work. Literals:
None, True, False, ints of any size (0x, 0o, 0b too), floats, imaginary numbers, str and
bytes with Python's quotes, prefixes and escapes, lists and tuples (both travel as tuples).

Options:
  --json    print the result as JSON (bytes as base64, netrefs as {"netref": type, "repr": ...})
)";

constexpr std::string_view ping_help = R"(Usage: netref ping [OPTIONS] HOST:PORT

Connects, says which kind of server answered and which rpyc generation it speaks, then sends
PING requests and prints each round-trip time.

Options:
  --count N   send N pings (default 1)
)";

constexpr std::string_view services_help = R"(Usage: netref services [OPTIONS] [NAME]

Asks an RPyC registry (Python's rpyc_registry or netref_registry), or etcd, which services it
knows and where their servers are: every name with its servers (LIST, then QUERY for each; in
etcd, the keys under netref/services/), or the servers of NAME only (QUERY). Each line is
"NAME host:port host:port ...".

Options:
  --registry HOST[:PORT]  the registry (default: UDP broadcast to 255.255.255.255:18811, as rpyc)
  --tcp                   a TCP registry (rpyc_registry -m TCP) instead of UDP
  --etcd URL[,URL...]     ask etcd (its members' client URLs, e.g. http://127.0.0.1:2379)
                          instead of a registry: what netref servers register there
  --timeout SECONDS       how long to wait for each of the registry's answers (default 2)
)";

/// --etcd's comma-separated URLs, each http:// or https://.
std::vector<std::string> split_urls(std::string_view text) {
  std::vector<std::string> urls;
  for (std::size_t start = 0; start <= text.size();) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string_view url = text.substr(start, comma - start);
    if (!url.starts_with("http://") && !url.starts_with("https://")) {
      throw UsageError("--etcd takes http:// or https:// URLs, got '" + std::string(url) + "'");
    }
    urls.emplace_back(url);
    start = comma + 1;
  }
  return urls;
}

Command command_of(std::string_view word) {
  if (word == "ls") return Command::ls;
  if (word == "describe") return Command::describe;
  if (word == "call") return Command::call;
  if (word == "ping") return Command::ping;
  if (word == "services") return Command::services;
  throw UsageError("unknown command '" + std::string(word) + "' (try netref --help)");
}

bool takes_value(std::string_view name) {
  return name == "--timeout" || name == "--rpyc" || name == "--cacert" || name == "--cert" || name == "--key" ||
         name == "--servername" || name == "--count" || name == "--registry" || name == "--etcd";
}

std::chrono::milliseconds parse_seconds(const std::string& text) {
  char* end = nullptr;
  const double seconds = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(seconds) || seconds <= 0 ||
      seconds > 1e6) {
    throw UsageError("--timeout takes a positive number of seconds, not '" + text + "'");
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(seconds * 1000)));
}

int parse_count(const std::string& text) {
  int value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < 1) {
    throw UsageError("--count takes a positive whole number, not '" + text + "'");
  }
  return value;
}

void apply_option(Options& options, std::string_view name, const std::string& value) {
  if (name == "--help") {
    options.help = true;
  } else if (name == "--version") {
    options.version = true;
  } else if (name == "--timeout") {
    options.timeout = parse_seconds(value);
  } else if (name == "--rpyc") {
    if (value == "5") {
      options.generation = Generation::v5;
    } else if (value == "6") {
      options.generation = Generation::v6;
    } else {
      throw UsageError("--rpyc takes 5 (rpyc 4.1 to 5.3) or 6 (rpyc 6.x), not '" + value + "'");
    }
  } else if (name == "--tls") {
    options.tls.enabled = true;
  } else if (name == "--cacert") {
    options.tls.enabled = true;
    options.tls.ca_file = value;
  } else if (name == "--cert") {
    options.tls.enabled = true;
    options.tls.cert_file = value;
  } else if (name == "--key") {
    options.tls.enabled = true;
    options.tls.key_file = value;
  } else if (name == "--servername") {
    options.tls.enabled = true;
    options.tls.server_name = value;
  } else if (name == "--insecure") {
    options.tls.enabled = true;
    options.tls.insecure = true;
  } else if (name == "--json") {
    options.json = true;
  } else if (name == "--registry") {
    options.registry = value;
  } else if (name == "--tcp") {
    options.registry_tcp = true;
  } else if (name == "--etcd") {
    options.etcd = split_urls(value);
  } else if (name == "--count") {
    options.count = parse_count(value);
  } else {
    throw UsageError("unknown option '" + std::string(name) + "' (try netref --help)");
  }
}

/// Checks what the command was given, now that all of it is known.
void check(Options& options, const std::vector<std::string>& words, bool count_given) {
  if (options.help || options.version) return;
  if (options.command == Command::none) throw UsageError("no command given (try netref --help)");
  const std::string name(command_name(options.command));
  if (options.json && options.command != Command::call) throw UsageError("--json applies to call only");
  if (count_given && options.command != Command::ping) throw UsageError("--count applies to ping only");
  if (options.tls.cert_file.empty() != options.tls.key_file.empty()) {
    throw UsageError("--cert and --key go together (a client certificate needs its key)");
  }
  if ((options.registry || options.registry_tcp || !options.etcd.empty()) && options.command != Command::services) {
    throw UsageError("--registry, --tcp and --etcd apply to services only");
  }
  if (!options.etcd.empty() && (options.registry || options.registry_tcp)) {
    throw UsageError("--etcd asks etcd, --registry and --tcp a registry: give one or the other");
  }
  if (options.command == Command::services) {
    if (words.size() > 1) throw UsageError("services takes at most one NAME");
    if (options.registry) (void)parse_registry(*options.registry);  // checked now, used later
    options.operands = words;
    return;
  }
  if (words.empty()) throw UsageError(name + " needs HOST:PORT (try netref " + name + " --help)");
  options.address = parse_address(words.front());
  options.operands.assign(words.begin() + 1, words.end());
  const std::size_t n = options.operands.size();
  switch (options.command) {
    case Command::ls:
      if (n > 1) throw UsageError("ls takes HOST:PORT and at most one PATH");
      break;
    case Command::describe:
      if (n != 1) throw UsageError("describe takes HOST:PORT and one PATH");
      break;
    case Command::call:
      if (n != 1) throw UsageError("call takes HOST:PORT and one expression (quote it: 'add(2, 3)')");
      break;
    case Command::ping:
      if (n != 0) throw UsageError("ping takes HOST:PORT only");
      break;
    default: break;
  }
}

}  // namespace

Address parse_registry(std::string_view text) {
  if (text.find(':') == std::string_view::npos || (text.front() == '[' && text.back() == ']')) {
    return parse_address(std::string(text) + ":" + std::to_string(default_registry_port));
  }
  return parse_address(text);
}

Address parse_address(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      throw UsageError("'" + std::string(text) + "' is not [IPv6]:PORT");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) {
      throw UsageError("'" + std::string(text) + "' is not HOST:PORT (write an IPv6 address as [::1]:PORT)");
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (host.empty()) throw UsageError("'" + std::string(text) + "' names no host");
  unsigned value = 0;
  const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || error != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
    throw UsageError("'" + std::string(port) + "' is not a port (1 to 65535)");
  }
  return Address{std::string(host), static_cast<std::uint16_t>(value)};
}

Options parse_options(std::span<const std::string_view> args) {
  Options options;
  std::vector<std::string> words;  // the command's operands, the address first
  bool options_ended = false;
  bool count_given = false;
  bool help_command = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    const bool looks_like_option = !options_ended && arg.size() > 1 && arg.front() == '-';
    if (!looks_like_option) {
      if (options.command == Command::none && !help_command) {
        if (arg == "help") {
          help_command = true;
          options.help = true;
        } else {
          options.command = command_of(arg);
        }
      } else if (help_command && options.command == Command::none) {
        options.command = command_of(arg);
      } else {
        words.emplace_back(arg);
      }
      continue;
    }
    if (arg == "--") {
      options_ended = true;
      continue;
    }
    if (arg == "-h") {
      options.help = true;
      continue;
    }
    if (arg.substr(0, 2) != "--") {
      throw UsageError("unknown option '" + std::string(arg) + "' (an expression starting with '-' goes after --)");
    }
    const auto equals = arg.find('=');
    const std::string_view name = arg.substr(0, equals);
    std::string value;
    if (equals != std::string_view::npos) {
      if (!takes_value(name)) throw UsageError("option " + std::string(name) + " takes no value");
      value = std::string(arg.substr(equals + 1));
    } else if (takes_value(name)) {
      if (i + 1 >= args.size()) throw UsageError("option " + std::string(name) + " needs a value");
      value = std::string(args[++i]);
    }
    count_given |= name == "--count";
    apply_option(options, name, value);
  }
  check(options, words, count_given);
  return options;
}

std::string_view help_text(Command command) {
  switch (command) {
    case Command::ls: return ls_help;
    case Command::describe: return describe_help;
    case Command::call: return call_help;
    case Command::ping: return ping_help;
    case Command::services: return services_help;
    case Command::none: break;
  }
  return program_help;
}

std::string_view command_name(Command command) {
  switch (command) {
    case Command::ls: return "ls";
    case Command::describe: return "describe";
    case Command::call: return "call";
    case Command::ping: return "ping";
    case Command::services: return "services";
    case Command::none: break;
  }
  return "netref";
}

}  // namespace netref::cli
