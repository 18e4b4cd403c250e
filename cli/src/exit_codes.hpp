#pragma once
// The exit status of `netref`, documented in docs/CLI.md: scripts tell the failures apart.

namespace netref::cli {

enum ExitCode : int {
  exit_success = 0,
  exit_remote_exception = 1,  ///< the server raised: its class and message are on stderr
  exit_usage = 2,             ///< bad command line or expression, or a command not available
  exit_connection = 3,        ///< could not connect (refused, unreachable, TLS), or the link broke
  exit_timeout = 4,           ///< a request got no reply within --timeout
};

}  // namespace netref::cli
