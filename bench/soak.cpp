// Soak runs of docs/FAULTS.md K1-K3 (issue 5, item 5): long workloads against a netref
// ThreadPoolServer that check nothing leaks, in the server or in this client.
//   K1  N calls of make_counter(i), each returning a fresh netref that is dropped at once
//   K2  N calls of fail(i), each a C++ exception in the handler that arrives here as the
//       IndexError "no item <i>", caught and checked
//   K3  M short connections, each: connect, five times make_counter then add() on it (10
//       netref calls), close with the five counters still held, so the server must free
//       them when the connection ends
// Every workload gets a server of its own: netref_soak_server, started as a child process
// (this program's directory, or --server PATH), so /proc/<pid>/ shows the server's own
// memory, threads and descriptors. Its stats() method hands over the server's counters
// (ServerStats). At the end of each workload the program prints a table and checks:
//   - the server's lent objects are back to the baseline (the root this client holds),
//   - this client holds no netref but the root, and no request is pending,
//   - no handler runs on the server but the stats() call asking,
//   - the server's VmRSS at the end is at most 5% above its VmRSS at the checkpoint: after
//     the first 100,000 calls (K1, K2) or 10,000 connections (K3), or a tenth of a shorter run,
//   - K3: the server's descriptors and threads as before, one connection open (this
//     client's observer), every connection closed as "peer" (no protocol error); and this
//     client's descriptors as before.
// The RSS ratio is judged only when the checkpoint is the full run's (N >= 1,000,000,
// M >= 100,000): a few thousand calls in, the allocator's arenas and caches are still
// growing to their working size, so a short run reports the ratio without judging it.
// A progress line goes to standard error (on a terminal four times a second, otherwise a
// line every 10 s). Exit status: 0 when every judged check passes, 1 naming each one that
// failed, 2 for a usage error.
//
// Usage: netref_soak [--short] [--only k1|k2|k3] [--calls N] [--connections M] [--server PATH]
//   --calls        K1 and K2 calls (default 1,000,000)
//   --connections  K3 connections (default 100,000)
//   --short        20,000 calls and 2,000 connections: the CI run, a few seconds each
//   --only         one workload (default: all three, one after the other)
//   --server       the netref_soak_server executable
// scripts/soak.sh builds and runs them; figures in bench/RESULTS.md, "Soak (issue 5, K1-K3)".
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <tuple>
#include <vector>

#include <netref/netref.hpp>

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr long kFullCalls = 1'000'000;
constexpr long kFullConnections = 100'000;
constexpr long kShortCalls = 20'000;
constexpr long kShortConnections = 2'000;
// RSS is compared with its value at this point (or a tenth of a shorter run).
constexpr long kCallsCheckpoint = 100'000;
constexpr long kConnectionsCheckpoint = 10'000;
constexpr double kRssGrowthLimit = 1.05;
// K3: what each short connection does.
constexpr int kCountersPerConnection = 5;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

/// 1234567 as "1,234,567".
std::string grouped(long long n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  for (int at = static_cast<int>(digits.size()) - 3; at > 0; at -= 3) digits.insert(static_cast<std::size_t>(at), ",");
  return n < 0 ? "-" + digits : digits;
}

/// Checks cond every 5 ms until it holds (true) or limit passes (false): for counters that
/// settle on the server's own threads (a DEL served, a closed connection's table emptied).
bool settles(const std::function<bool()>& cond, std::chrono::milliseconds limit = 10s) {
  const auto end = Clock::now() + limit;
  while (!cond()) {
    if (Clock::now() >= end) return cond();
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

/// Entries of a /proc/<pid>/fd directory.
int descriptor_count(const std::filesystem::path& fd_dir) {
  int n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(fd_dir)) ++n;
  return n;
}

/// A numeric field of a /proc/<pid>/status file ("VmRSS" in KiB, "Threads"); -1 if absent.
std::int64_t status_field(const std::filesystem::path& status_file, const std::string& name) {
  std::ifstream status(status_file);
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(name + ":", 0) == 0) return std::stoll(line.substr(name.size() + 1));
  }
  return -1;
}

int own_descriptor_count() { return descriptor_count("/proc/self/fd") - 1; }  // minus the iterator's own
std::int64_t own_rss_kib() { return status_field("/proc/self/status", "VmRSS"); }

// ---------------------------------------------------------------------------------------------
// The server child

/// netref_soak_server as a child process: started by the constructor (which waits for its
/// "port N" line), ended by the destructor with SIGTERM to this PID only, then waited for.
class ServerProcess {
 public:
  explicit ServerProcess(const std::string& path) {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe2");
    stdout_ = out[0];
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    std::string program = path;
    char* argv[] = {program.data(), nullptr};
    const int spawned = ::posix_spawn(&pid_, program.c_str(), &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    if (spawned != 0) {
      ::close(stdout_);
      throw std::system_error(spawned, std::generic_category(), "cannot start " + path);
    }
    try {
      port_ = read_port(30s);
    } catch (...) {
      stop();  // the destructor does not run when the constructor throws
      throw;
    }
  }
  ~ServerProcess() { stop(); }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  pid_t pid() const noexcept { return pid_; }
  std::int64_t rss_kib() const { return status_field(proc() / "status", "VmRSS"); }
  std::int64_t threads() const { return status_field(proc() / "status", "Threads"); }
  int descriptors() const { return descriptor_count(proc() / "fd"); }

 private:
  std::filesystem::path proc() const { return "/proc/" + std::to_string(pid_); }

  // The child's first line, "port N"; anything before it (a wrapper's banner) is skipped.
  std::uint16_t read_port(std::chrono::seconds limit) {
    const auto end = Clock::now() + limit;
    std::string line;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count();
      pollfd p{stdout_, POLLIN, 0};
      if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) == 0) {
        throw std::runtime_error("the server did not print its port within 30 s");
      }
      char c = 0;
      const ssize_t n = ::read(stdout_, &c, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw std::runtime_error("the server exited before it listened");
      if (c != '\n') {
        line += c;
        continue;
      }
      if (line.rfind("port ", 0) == 0) return static_cast<std::uint16_t>(std::stoul(line.substr(5)));
      line.clear();
    }
  }

  void stop() noexcept {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
    }
    if (stdout_ >= 0) ::close(stdout_);
    stdout_ = -1;
  }

  pid_t pid_ = -1;
  int stdout_ = -1;
  std::uint16_t port_ = 0;
};

/// The server's counters as its stats() returns them (ServerStats over every connection).
struct ServerCounters {
  std::int64_t lent_objects = 0;
  std::int64_t open_connections = 0;
  std::int64_t running_handlers = 0;  ///< counts the stats() call that asks
  std::map<std::string, std::int64_t> closed;  ///< closes by Connection::close_reason(), as words
};

ServerCounters server_counters(const netref::Proxy& stats) {
  auto [lent, open, running, closed] =
      stats->call().as<std::tuple<std::int64_t, std::int64_t, std::int64_t, std::map<std::string, std::int64_t>>>();
  return {lent, open, running, std::move(closed)};
}

/// Closes by reason between two snapshots of the counters.
std::map<std::string, std::int64_t> closes_between(const ServerCounters& before, const ServerCounters& after) {
  std::map<std::string, std::int64_t> closes;
  for (const auto& [reason, count] : after.closed) {
    const auto earlier = before.closed.find(reason);
    closes[reason] = count - (earlier == before.closed.end() ? 0 : earlier->second);
  }
  return closes;
}

// ---------------------------------------------------------------------------------------------
// Progress and the report

/// One progress line on standard error, rate-limited: rewritten four times a second on a
/// terminal, otherwise one line every 10 s (CI logs). Nothing for a run under a second.
class Progress {
 public:
  Progress(std::string what, long total)
      : what_(std::move(what)), total_(total), tty_(::isatty(STDERR_FILENO) != 0), start_(Clock::now()),
        next_(start_ + 1s) {}  // the first after a second, when the rate means something
  /// True when a line is due; cheap enough to ask on every call.
  bool due() const { return Clock::now() >= next_; }
  void show(long done, std::int64_t server_rss_kib) {
    const double elapsed = seconds_since(start_);
    const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
    std::fprintf(stderr, "%s%s: %s/%s, %s/s, server VmRSS %s KiB%s", tty_ ? "\r\033[K" : "", what_.c_str(),
                 grouped(done).c_str(), grouped(total_).c_str(), grouped(static_cast<long long>(rate)).c_str(),
                 grouped(server_rss_kib).c_str(), tty_ ? "" : "\n");
    std::fflush(stderr);
    next_ = Clock::now() + (tty_ ? 250ms : 10s);
  }
  void finish() {
    if (tty_) std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
  }

 private:
  std::string what_;
  long total_;
  bool tty_;
  Clock::time_point start_, next_;
};

struct Check {
  std::string what;
  std::string value;
  std::string expected;
  bool ok = true;
  bool judged = true;
};

/// One workload's figures and checks, printed as a table.
class Report {
 public:
  Report(std::string name, std::string title) : name_(std::move(name)), title_(std::move(title)) {}

  void figure(std::string what, std::string value) { figures_.emplace_back(std::move(what), std::move(value)); }

  void expect_equal(std::string what, long long value, long long expected, const std::string& note = "") {
    checks_.push_back({std::move(what), grouped(value), grouped(expected) + note, value == expected, true});
  }

  /// RSS at the end against RSS at the checkpoint: at most kRssGrowthLimit (a shrink passes).
  void expect_flat_rss(const std::string& whose, const std::string& checkpoint, std::int64_t at_checkpoint_kib,
                       std::int64_t at_end_kib, bool judged) {
    figure(whose + " VmRSS after " + checkpoint, grouped(at_checkpoint_kib) + " KiB");
    figure(whose + " VmRSS at the end", grouped(at_end_kib) + " KiB");
    const double ratio = static_cast<double>(at_end_kib) / static_cast<double>(at_checkpoint_kib);
    char text[32];
    std::snprintf(text, sizeof text, "%.3f", ratio);
    char limit[32];
    std::snprintf(limit, sizeof limit, "<= %.2f", kRssGrowthLimit);
    checks_.push_back({whose + " VmRSS, end / after " + checkpoint, text, limit, ratio <= kRssGrowthLimit, judged});
  }

  bool passed() const {
    return std::all_of(checks_.begin(), checks_.end(), [](const Check& c) { return c.ok || !c.judged; });
  }

  void print() const {
    std::printf("\n%s  %s\n", name_.c_str(), title_.c_str());
    for (const auto& [what, value] : figures_) std::printf("    %-48s %s\n", what.c_str(), value.c_str());
    std::printf("    %-48s %14s  %-22s %s\n", "check", "value", "expected", "verdict");
    for (const auto& c : checks_) {
      const char* verdict = !c.judged ? "not judged (short run)" : c.ok ? "ok" : "FAILED";
      std::printf("    %-48s %14s  %-22s %s\n", c.what.c_str(), c.value.c_str(), c.expected.c_str(), verdict);
    }
    std::fflush(stdout);
  }

  /// "K1: <check> is <value>, expected <expected>" for each judged check that failed.
  std::vector<std::string> failures() const {
    std::vector<std::string> out;
    for (const auto& c : checks_) {
      if (c.judged && !c.ok) out.push_back(name_ + ": " + c.what + " is " + c.value + ", expected " + c.expected);
    }
    return out;
  }

 private:
  std::string name_, title_;
  std::vector<std::pair<std::string, std::string>> figures_;
  std::vector<Check> checks_;
};

// ---------------------------------------------------------------------------------------------
// The workloads

struct Options {
  std::string only;  // "k1", "k2", "k3" or empty: all
  long calls = kFullCalls;
  long connections = kFullConnections;
  std::string server_path;
};

/// The checks shared by K1 and K2, made once the loop is over on the soak's one connection:
/// queued DELs carried (a ping), then the counters compared with their baselines.
void check_one_connection_counters(Report& report, const netref::Client& client, const netref::Proxy& stats,
                                   std::int64_t lent_baseline, std::size_t netrefs_baseline) {
  client->ping();
  settles([&] { return server_counters(stats).lent_objects == lent_baseline; });
  const ServerCounters server = server_counters(stats);
  const netref::ConnectionStats mine = client->connection().stats();
  report.expect_equal("server lent objects", server.lent_objects, lent_baseline, " (baseline)");
  report.expect_equal("client netrefs held", static_cast<long long>(mine.netrefs_held),
                      static_cast<long long>(netrefs_baseline), " (the root)");
  report.expect_equal("client pending requests", static_cast<long long>(mine.pending_requests), 0);
  report.expect_equal("server running handlers besides stats()", server.running_handlers - 1, 0);
  report.expect_equal("server open connections", server.open_connections, 1);
}

/// K1 and K2: `calls` calls of one function on one connection; call(proxy, i) makes call i and
/// checks its outcome.
Report run_calls(const Options& opt, const std::string& name, const std::string& title, const std::string& function,
                 const std::function<void(const netref::Proxy&, long)>& call) {
  ServerProcess server(opt.server_path);
  auto client = netref::connect("127.0.0.1", server.port());
  auto root = client->root();
  const auto stats = root->attr("stats");
  const auto lent_baseline = server_counters(stats).lent_objects;
  const auto netrefs_baseline = client->connection().stats().netrefs_held;
  const auto target = root->attr(function);

  const long checkpoint = std::min(kCallsCheckpoint, opt.calls / 10);
  std::int64_t server_rss_at_checkpoint = 0, client_rss_at_checkpoint = 0;
  Progress progress(name + " " + function, opt.calls);
  const auto start = Clock::now();
  for (long i = 1; i <= opt.calls; ++i) {
    call(target, i);
    if (i == checkpoint) {
      server_rss_at_checkpoint = server.rss_kib();
      client_rss_at_checkpoint = own_rss_kib();
    }
    if (progress.due()) progress.show(i, server.rss_kib());
  }
  const double seconds = seconds_since(start);
  progress.finish();
  const std::int64_t server_rss_at_end = server.rss_kib();
  const std::int64_t client_rss_at_end = own_rss_kib();

  Report report(name, title);
  report.figure("calls", grouped(opt.calls));
  char rate[64];
  std::snprintf(rate, sizeof rate, "%s calls/s (%.1f s)",
                grouped(static_cast<long long>(static_cast<double>(opt.calls) / seconds)).c_str(), seconds);
  report.figure("rate, one connection, sync calls", rate);
  const std::string at = grouped(checkpoint) + " calls";
  report.expect_flat_rss("server", at, server_rss_at_checkpoint, server_rss_at_end, checkpoint == kCallsCheckpoint);
  check_one_connection_counters(report, client, stats, lent_baseline, netrefs_baseline);
  // The client's memory is reported, not judged (the row is about the server).
  report.figure("client VmRSS after " + at + " / at the end",
                grouped(client_rss_at_checkpoint) + " / " + grouped(client_rss_at_end) + " KiB");
  client->close();
  return report;
}

Report run_k1(const Options& opt) {
  return run_calls(opt, "K1", "calls each returning a fresh netref, dropped at once (ThreadPoolServer)",
                   "make_counter", [](const netref::Proxy& make_counter, long i) {
                     if (!make_counter->call(std::int64_t{i}).is_netref()) {
                       throw std::runtime_error("make_counter(" + std::to_string(i) + ") returned no netref");
                     }  // the netref drops here: a DEL is queued
                   });
}

Report run_k2(const Options& opt) {
  return run_calls(opt, "K2", "calls each throwing in the handler, caught here as IndexError (ThreadPoolServer)",
                   "fail", [](const netref::Proxy& fail, long i) {
                     try {
                       fail->call(std::int64_t{i});
                     } catch (const netref::IndexError& e) {
                       if (e.message() != "no item " + std::to_string(i)) {
                         throw std::runtime_error("fail(" + std::to_string(i) + ") raised \"" + e.message() + "\"");
                       }
                       return;
                     }
                     throw std::runtime_error("fail(" + std::to_string(i) + ") returned");
                   });
}

/// One K3 connection: 10 netref calls, then closed with the counters still held.
void short_connection(std::uint16_t port, long n) {
  auto client = netref::connect("127.0.0.1", port);
  const auto make_counter = client->root()->attr("make_counter");
  std::vector<netref::Proxy> counters;
  for (int k = 0; k < kCountersPerConnection; ++k) {
    counters.push_back(make_counter->call(std::int64_t{n}));
    if (counters.back()->attr("add")->call(std::int64_t{k}).as<std::int64_t>() != n + k) {
      throw std::runtime_error("a counter's add() returned a wrong sum");
    }
  }
  client->close();  // the server must free the five counters this client never dropped
}

Report run_k3(const Options& opt) {
  ServerProcess server(opt.server_path);
  // The observer: a connection open throughout, which reads the server's counters.
  auto observer = netref::connect("127.0.0.1", server.port());
  const auto stats = observer->root()->attr("stats");
  const ServerCounters before = server_counters(stats);
  const int server_fds_before = server.descriptors();
  const std::int64_t server_threads_before = server.threads();
  const int client_fds_before = own_descriptor_count();

  const long checkpoint = std::min(kConnectionsCheckpoint, opt.connections / 10);
  std::int64_t rss_at_checkpoint = 0;
  Progress progress("K3 connections", opt.connections);
  const auto start = Clock::now();
  for (long n = 1; n <= opt.connections; ++n) {
    short_connection(server.port(), n);
    if (n == checkpoint) rss_at_checkpoint = server.rss_kib();
    if (progress.due()) progress.show(n, server.rss_kib());
  }
  const double seconds = seconds_since(start);
  progress.finish();

  // Closed connections leave the server's table on its own threads: wait for the counters.
  settles([&] {
    const ServerCounters now = server_counters(stats);
    return now.open_connections == 1 && now.lent_objects == before.lent_objects;
  });
  settles([&] { return server.descriptors() == server_fds_before; });
  const ServerCounters after = server_counters(stats);
  const std::int64_t rss_at_end = server.rss_kib();

  Report report("K3", "short connections, 10 netref calls each, closed holding 5 netrefs (ThreadPoolServer)");
  report.figure("connections", grouped(opt.connections));
  char rate[64];
  std::snprintf(rate, sizeof rate, "%s connections/s (%.1f s)",
                grouped(static_cast<long long>(static_cast<double>(opt.connections) / seconds)).c_str(), seconds);
  report.figure("rate, one connection at a time", rate);
  report.figure("server descriptors before / after", grouped(server_fds_before) + " / " + grouped(server.descriptors()));
  report.figure("server threads before / after", grouped(server_threads_before) + " / " + grouped(server.threads()));
  const auto closes = closes_between(before, after);
  std::string closes_text;
  long long not_by_peer = 0;
  for (const auto& [reason, count] : closes) {
    closes_text += (closes_text.empty() ? "" : ", ") + reason + " " + grouped(count);
    if (reason != "peer") not_by_peer += count;
  }
  report.figure("server closes by reason", closes_text.empty() ? "none" : closes_text);
  report.expect_flat_rss("server", grouped(checkpoint) + " connections", rss_at_checkpoint, rss_at_end,
                         checkpoint == kConnectionsCheckpoint);
  report.expect_equal("server descriptors", server.descriptors(), server_fds_before, " (before)");
  report.expect_equal("server threads", server.threads(), server_threads_before, " (before)");
  report.expect_equal("server open connections", after.open_connections, 1, " (the observer)");
  report.expect_equal("server lent objects", after.lent_objects, before.lent_objects, " (baseline)");
  report.expect_equal("server running handlers besides stats()", after.running_handlers - 1, 0);
  report.expect_equal("server closes for a reason other than \"peer\"", not_by_peer, 0);
  report.expect_equal("client descriptors", own_descriptor_count(), client_fds_before, " (before)");
  report.expect_equal("client (observer) pending requests",
                      static_cast<long long>(observer->connection().stats().pending_requests), 0);
  observer->close();
  return report;
}

// ---------------------------------------------------------------------------------------------

int usage() {
  std::cerr << "usage: netref_soak [--short] [--only k1|k2|k3] [--calls N] [--connections M] [--server PATH]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  bool short_run = false, calls_given = false, connections_given = false;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
        return argv[++i];
      };
      if (a == "--short") {
        short_run = true;
      } else if (a == "--only") {
        opt.only = value();
      } else if (a == "--calls") {
        opt.calls = std::stol(value());
        calls_given = true;
      } else if (a == "--connections") {
        opt.connections = std::stol(value());
        connections_given = true;
      } else if (a == "--server") {
        opt.server_path = value();
      } else {
        return usage();
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "netref_soak: " << e.what() << '\n';
    return usage();
  }
  if (short_run && !calls_given) opt.calls = kShortCalls;
  if (short_run && !connections_given) opt.connections = kShortConnections;
  if (opt.calls < 10 || opt.connections < 10) {
    std::cerr << "netref_soak: --calls and --connections must be at least 10\n";
    return 2;
  }
  if (!opt.only.empty() && opt.only != "k1" && opt.only != "k2" && opt.only != "k3") return usage();
  if (opt.server_path.empty()) {
    opt.server_path = (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "netref_soak_server").string();
  }

  struct Workload {
    std::string option, name;
    Report (*run)(const Options&);
  };
  const Workload workloads[] = {{"k1", "K1", run_k1}, {"k2", "K2", run_k2}, {"k3", "K3", run_k3}};
  std::vector<std::string> failures;
  for (const auto& w : workloads) {
    if (!opt.only.empty() && opt.only != w.option) continue;
    try {
      const Report report = w.run(opt);
      report.print();
      for (auto& f : report.failures()) failures.push_back(std::move(f));
    } catch (const std::exception& e) {
      failures.push_back(w.name + " stopped: " + e.what());
    }
  }
  std::printf("\n");
  for (const auto& f : failures) std::fprintf(stderr, "netref_soak: FAILED %s\n", f.c_str());
  if (failures.empty()) std::printf("netref_soak: every judged check passed\n");
  return failures.empty() ? 0 : 1;
}
