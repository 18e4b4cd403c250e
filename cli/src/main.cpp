// netref: a command line for netref and Python rpyc servers (docs/CLI.md).
#include <iostream>
#include <string_view>
#include <vector>

#include "commands.hpp"
#include "exit_codes.hpp"
#include "options.hpp"

int main(int argc, char** argv) {
  using namespace netref::cli;
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  Options options;
  try {
    options = parse_options(args);
  } catch (const UsageError& e) {
    std::cerr << "netref: " << e.what() << '\n';
    return exit_usage;
  }
  if (options.version) {
    std::cout << "netref " << NETREF_VERSION << '\n';
    return exit_success;
  }
  if (options.help) {
    std::cout << help_text(options.command);
    return exit_success;
  }
  return run_command(options, std::cout, std::cerr);
}
