// The command line of `netref`: commands, operands, options in any place, and the usage
// errors that name what is wrong.
#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include "netref/discovery/registry_client.hpp"
#include "options.hpp"

using namespace netref;
using namespace netref::cli;

namespace {

Options parse(std::vector<std::string_view> args) { return parse_options(args); }

std::string usage_error(std::vector<std::string_view> args) {
  try {
    parse_options(args);
  } catch (const UsageError& e) {
    return e.what();
  }
  FAIL("no usage error");
  return {};
}

}  // namespace

TEST_CASE("call takes an address and an expression") {
  const Options o = parse({"call", "127.0.0.1:18861", "add(2, 3)"});
  CHECK(o.command == Command::call);
  CHECK(o.address.host == "127.0.0.1");
  CHECK(o.address.port == 18861);
  REQUIRE(o.operands.size() == 1);
  CHECK(o.operands[0] == "add(2, 3)");
  CHECK_FALSE(o.json);
  CHECK_FALSE(o.tls.enabled);
  CHECK_FALSE(o.timeout.has_value());
  CHECK_FALSE(o.generation.has_value());
}

TEST_CASE("options go before or after the command, with = or a separate value") {
  const Options o = parse({"--timeout=2.5", "call", "--json", "h:1", "--rpyc", "5", "x()"});
  CHECK(o.json);
  CHECK(o.timeout == std::chrono::milliseconds(2500));
  CHECK(o.generation == Generation::v5);
  CHECK(o.operands == std::vector<std::string>{"x()"});
}

TEST_CASE("after -- an expression may start with a dash") {
  const Options o = parse({"call", "h:1", "--", "-5"});
  CHECK(o.operands == std::vector<std::string>{"-5"});
}

TEST_CASE("TLS options turn TLS on, and --cert needs --key") {
  const Options o = parse({"ping", "--cacert", "ca.pem", "--cert", "c.pem", "--key", "k.pem", "h:1"});
  CHECK(o.tls.enabled);
  CHECK(o.tls.ca_file == "ca.pem");
  CHECK(o.tls.cert_file == "c.pem");
  CHECK(o.tls.key_file == "k.pem");
  CHECK_FALSE(o.tls.insecure);
  CHECK(parse({"ping", "--insecure", "h:1"}).tls.insecure);
  CHECK(parse({"ping", "--tls", "h:1"}).tls.enabled);
  CHECK(usage_error({"ping", "--cert", "c.pem", "h:1"}) == "--cert and --key go together (a client certificate needs its key)");
}

TEST_CASE("help: --help, -h and `help COMMAND`, with or without a command") {
  CHECK(parse({"--help"}).help);
  CHECK(parse({"-h"}).help);
  const Options call_help = parse({"call", "--help"});
  CHECK(call_help.help);
  CHECK(call_help.command == Command::call);
  const Options help_ls = parse({"help", "ls"});
  CHECK(help_ls.help);
  CHECK(help_ls.command == Command::ls);
  CHECK(help_text(Command::ls).starts_with("Usage: netref ls"));
  CHECK(help_text(Command::none).find("Exit status") != std::string_view::npos);
}

TEST_CASE("addresses: HOST:PORT and [IPv6]:PORT") {
  CHECK(parse_address("localhost:1").host == "localhost");
  const Address v6 = parse_address("[::1]:18861");
  CHECK(v6.host == "::1");
  CHECK(v6.port == 18861);
  CHECK(usage_error({"ping", "localhost"}) == "'localhost' is not HOST:PORT (write an IPv6 address as [::1]:PORT)");
  CHECK(usage_error({"ping", "::1:80"}) == "'::1:80' is not HOST:PORT (write an IPv6 address as [::1]:PORT)");
  CHECK(usage_error({"ping", "h:0"}) == "'0' is not a port (1 to 65535)");
  CHECK(usage_error({"ping", "h:65536"}) == "'65536' is not a port (1 to 65535)");
  CHECK(usage_error({"ping", ":80"}) == "':80' names no host");
}

TEST_CASE("services: --registry HOST[:PORT] with rpyc's port by default, checked before asking") {
  CHECK(parse_registry("127.0.0.1").port == default_registry_port);
  CHECK(parse_registry("127.0.0.1:1234").port == 1234);
  CHECK(parse_registry("[::1]").host == "::1");
  const Options o = parse({"services", "--registry", "reg.example:9", "--tcp", "COUNTER"});
  CHECK(o.registry == "reg.example:9");
  CHECK(o.registry_tcp);
  CHECK(o.operands == std::vector<std::string>{"COUNTER"});
  CHECK(usage_error({"services", "--registry", "h:0"}) == "'0' is not a port (1 to 65535)");
  CHECK(usage_error({"services", "--registry", ""}) == "':18811' names no host");
  CHECK(usage_error({"services", "A", "B"}) == "services takes at most one NAME");
  CHECK(usage_error({"ls", "--tcp", "h:1"}) == "--registry, --tcp and --etcd apply to services only");
}

TEST_CASE("services: --etcd takes comma-separated http(s) URLs, and not beside --registry") {
  const Options o = parse({"services", "--etcd", "http://127.0.0.1:2379,https://10.0.0.6:2379", "COUNTER"});
  CHECK(o.etcd == std::vector<std::string>{"http://127.0.0.1:2379", "https://10.0.0.6:2379"});
  CHECK(o.operands == std::vector<std::string>{"COUNTER"});
  CHECK(usage_error({"services", "--etcd", "127.0.0.1:2379"}) == "--etcd takes http:// or https:// URLs, got '127.0.0.1:2379'");
  CHECK(usage_error({"services", "--etcd", "http://a:1,"}) == "--etcd takes http:// or https:// URLs, got ''");
  CHECK(usage_error({"services", "--etcd", "http://a:1", "--tcp"}) ==
        "--etcd asks etcd, --registry and --tcp a registry: give one or the other");
  CHECK(usage_error({"ping", "--etcd", "http://a:1", "h:1"}) == "--registry, --tcp and --etcd apply to services only");
}

TEST_CASE("each mistake on the command line has its own message") {
  CHECK(usage_error({}) == "no command given (try netref --help)");
  CHECK(usage_error({"cal", "h:1"}) == "unknown command 'cal' (try netref --help)");
  CHECK(usage_error({"call", "h:1"}) == "call takes HOST:PORT and one expression (quote it: 'add(2, 3)')");
  CHECK(usage_error({"call", "h:1", "add(2,", "3)"}) == "call takes HOST:PORT and one expression (quote it: 'add(2, 3)')");
  CHECK(usage_error({"describe", "h:1"}) == "describe takes HOST:PORT and one PATH");
  CHECK(usage_error({"ls", "h:1", "a", "b"}) == "ls takes HOST:PORT and at most one PATH");
  CHECK(usage_error({"ping"}) == "ping needs HOST:PORT (try netref ping --help)");
  CHECK(usage_error({"ping", "h:1", "--json"}) == "--json applies to call only");
  CHECK(usage_error({"call", "h:1", "x", "--count", "2"}) == "--count applies to ping only");
  CHECK(usage_error({"ping", "h:1", "--count", "0"}) == "--count takes a positive whole number, not '0'");
  CHECK(usage_error({"ping", "h:1", "--timeout", "soon"}) == "--timeout takes a positive number of seconds, not 'soon'");
  CHECK(usage_error({"ping", "h:1", "--timeout"}) == "option --timeout needs a value");
  CHECK(usage_error({"ping", "h:1", "--rpyc", "4"}) == "--rpyc takes 5 (rpyc 4.1 to 5.3) or 6 (rpyc 6.x), not '4'");
  CHECK(usage_error({"ping", "h:1", "--insecure=yes"}) == "option --insecure takes no value");
  CHECK(usage_error({"ping", "h:1", "--frobnicate"}) == "unknown option '--frobnicate' (try netref --help)");
  CHECK(usage_error({"call", "h:1", "-5"}) == "unknown option '-5' (an expression starting with '-' goes after --)");
}
