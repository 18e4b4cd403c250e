#pragma once
// Running one parsed command line: connect, ask, print, and turn what went wrong into the
// documented exit status.
#include <ostream>

#include "options.hpp"

namespace netref::cli {

/// Runs options.command, printing results to out and errors to err; returns the exit
/// status (exit_codes.hpp). Never throws.
int run_command(const Options& options, std::ostream& out, std::ostream& err) noexcept;

}  // namespace netref::cli
