// The benchmark client: runs W1-W6 of issue 4 against netref_bench_server and, in the same
// run, against raw_bench_server (the raw TCP baseline), and writes every figure to a JSON
// file. scripts/bench.sh starts the servers, runs this, the Python W7 and callgrind, and
// prints the table; see bench/RESULTS.md.
//
// Usage: netref_bench --port P --plain-port P --pool-port P --raw-port P [--pool-name NAME]
//                     [--pool-plain-port P] [--quick] [--out DIR]
//        netref_bench --only w1-netref|w1-raw|w3-netref|w3-netref-pool|w3-netref-compressed|w3-raw
//                     --calls N [--warmup N] --port P | --raw-port P | --plain-port P | --pool-plain-port P
// The second form runs one workload's loop alone, for profilers (callgrind: a run of N calls
// minus a run of 0 calls, divided by N, is the instructions one call costs).
// --metrics (either form): every netref connection counts its calls (ConnectionConfig::
// call_metrics), for the metrics on/off comparison of bench/RESULTS.md.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <netref/netref.hpp>

#include "raw_wire.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double micros_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}
double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// ---------------------------------------------------------------------------------------------
// Options, figures, progress

struct Options {
  bool quick = false;
  std::uint16_t port = 0;        // netref, compression on
  std::uint16_t plain_port = 0;  // netref, compression off
  std::uint16_t pool_port = 0;   // netref, W6's server
  std::uint16_t pool_plain_port = 0;  // netref ThreadPoolServer, compression off (W3; 0: skipped)
  std::uint16_t raw_port = 0;    // raw TCP baseline
  std::string pool_name = "ThreadedServer";
  std::string out = ".";
  std::string only;  // "w1-netref" or "w1-raw": callgrind mode
  long calls = 0;
  long warmup = 100;
  bool metrics = false;  // count every client call (ConnectionConfig::call_metrics)
};

// --metrics: the calls every netref connection of this run counts (none without the flag).
std::shared_ptr<netref::CallMetrics> client_metrics;

// Sizes of each workload: the issue's in the full run, a few seconds' worth with --quick.
struct Sizes {
  long w1_warmup, w1_calls, w1_rounds;
  long w2_calls, w2_window;
  long w3_calls;
  std::size_t w3_bytes;
  long w4_cycles, w4_checkpoint, w4_held;
  long w5_warmup, w5_calls;
  long w6_clients, w6_calls;
};

Sizes sizes_for(bool quick) {
  if (quick) return {50, 400, 2, 4000, 64, 4, 1u << 20, 2000, 200, 100, 50, 400, 8, 50};
  return {1000, 20000, 4, 200000, 64, 200, 1u << 20, 100000, 10000, 1000, 500, 10000, 64, 400};
}

// Every figure of the run, written as one flat JSON object ("w1.netref.median_us": 71.2).
class Figures {
 public:
  void set(const std::string& key, double value) { numbers_[key] = value; }
  void set(const std::string& key, const std::string& value) { strings_[key] = value; }
  double get(const std::string& key) const { return numbers_.at(key); }

  void write_json(const std::string& path) const {
    std::ofstream out(path);
    out << "{\n";
    bool first = true;
    auto comma = [&] {
      if (!first) out << ",\n";
      first = false;
    };
    for (const auto& [key, value] : strings_) {
      comma();
      out << "  \"" << key << "\": \"" << value << "\"";
    }
    for (const auto& [key, value] : numbers_) {
      comma();
      char text[64];
      if (std::isfinite(value)) {
        std::snprintf(text, sizeof text, "%.6g", value);
      } else {
        std::snprintf(text, sizeof text, "null");
      }
      out << "  \"" << key << "\": " << text;
    }
    out << "\n}\n";
    if (!out) throw std::runtime_error("cannot write " + path);
  }

 private:
  std::map<std::string, double> numbers_;
  std::map<std::string, std::string> strings_;
};

// One line on stderr that says which step runs and how far it is.
class Progress {
 public:
  explicit Progress(int steps) : steps_(steps), tty_(::isatty(2) != 0) {}
  void begin(const std::string& what) {
    ++step_;
    what_ = what;
    last_percent_ = -1;
    show(0, 1);
  }
  void show(long done, long total) {
    const int percent = total > 0 ? static_cast<int>(100 * done / total) : 100;
    if (percent == last_percent_) return;
    last_percent_ = percent;
    if (tty_) {
      std::fprintf(stderr, "\r\033[K[%2d/%d] %s %3d%%", step_, steps_, what_.c_str(), percent);
    } else if (done == 0) {
      std::fprintf(stderr, "[%2d/%d] %s\n", step_, steps_, what_.c_str());
    }
    std::fflush(stderr);
  }
  void finish() {
    if (tty_) std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
  }

 private:
  int steps_;
  int step_ = 0;
  bool tty_;
  std::string what_;
  int last_percent_ = -1;
};

// ---------------------------------------------------------------------------------------------
// Statistics

struct Summary {
  double median_us = 0, p99_us = 0, mean_us = 0;
};

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const double rank = p * static_cast<double>(sorted.size() - 1);
  const auto low = static_cast<std::size_t>(rank);
  const auto high = std::min(low + 1, sorted.size() - 1);
  return sorted[low] + (sorted[high] - sorted[low]) * (rank - static_cast<double>(low));
}

Summary summarize(std::vector<double>& latencies) {
  std::sort(latencies.begin(), latencies.end());
  Summary s;
  s.median_us = percentile(latencies, 0.5);
  s.p99_us = percentile(latencies, 0.99);
  double total = 0;
  for (double l : latencies) total += l;
  s.mean_us = latencies.empty() ? 0 : total / static_cast<double>(latencies.size());
  return s;
}

// The sorted latencies as "microseconds cumulative-fraction" lines, for gnuplot.
void write_cdf(const std::string& path, const std::vector<double>& sorted) {
  std::ofstream out(path);
  const double n = static_cast<double>(sorted.size());
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    out << sorted[i] << ' ' << static_cast<double>(i + 1) / n << '\n';
  }
}

// Every reply is checked: a benchmark of wrong answers measures nothing.
void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("wrong result: ") + what);
}

// ---------------------------------------------------------------------------------------------
// Connections

netref::Client connect_netref(std::uint16_t port, bool compress = true) {
  netref::ClientConfig config;
  config.channel.compress = compress;
  config.connection.call_metrics = client_metrics;
  return netref::connect("127.0.0.1", port, config);
}

std::int64_t raw_add(bench::raw::Conn& conn, std::int64_t a, std::int64_t b, std::vector<std::uint8_t>& reply) {
  std::int64_t args[2] = {a, b};
  conn.send(bench::raw::kAdd, args, sizeof args);
  if (conn.recv(reply) != bench::raw::kAdd || reply.size() != 8) throw std::runtime_error("bad raw add reply");
  std::int64_t sum;
  std::memcpy(&sum, reply.data(), 8);
  return sum;
}

// Text-like bytes (words drawn from a small vocabulary): zlib level 1 shrinks them about 3x,
// so "compression on" does real work. The same payload goes over every variant.
std::string make_payload(std::size_t size) {
  static constexpr const char* words[] = {"remote ", "object ", "netref ", "proxy ",  "call ",  "reply ",
                                          "frame ",  "brine ",  "tuple ",  "seq ",    "lent ",  "value ",
                                          "socket ", "stream ", "channel ", "handler ", "async ", "sync "};
  std::mt19937 random(42);
  std::uniform_int_distribution<std::size_t> pick(0, std::size(words) - 1);
  std::string out;
  out.reserve(size + 16);
  while (out.size() < size) out += words[pick(random)];
  out.resize(size);
  return out;
}

// ---------------------------------------------------------------------------------------------
// W1: sync add, one call at a time

// Times `calls` calls of call(i) after `warmup` untimed ones; appends the latencies.
template <class Call>
void time_calls(long warmup, long calls, std::vector<double>& latencies, Progress* progress,
                long progress_base, long progress_total, Call&& call) {
  for (long i = 0; i < warmup; ++i) call(i);
  for (long i = 0; i < calls; ++i) {
    const auto t0 = Clock::now();
    call(i);
    latencies.push_back(micros_between(t0, Clock::now()));
    if (progress != nullptr && (i & 255) == 0) progress->show(progress_base + i, progress_total);
  }
}

void run_w1(const Options& opt, const Sizes& sz, Figures& fig, Progress& progress) {
  progress.begin("W1 sync add: raw TCP and netref, alternating rounds");
  auto client = connect_netref(opt.port);
  auto root = client->root();
  bench::raw::Conn raw(bench::raw::connect_loopback(opt.raw_port));
  std::vector<std::uint8_t> reply;
  auto netref_call = [&](long i) {
    const auto sum = root->attr("add")->call(std::int64_t{i}, std::int64_t{7}).as<std::int64_t>();
    check(sum == i + 7, "add");
  };
  auto raw_call = [&](long i) {
    check(raw_add(raw, i, 7, reply) == i + 7, "raw add");
  };

  // Rounds alternate so that drift in the machine's load hits both sides alike.
  std::vector<double> netref_lat, raw_lat;
  netref_lat.reserve(static_cast<std::size_t>(sz.w1_calls));
  raw_lat.reserve(static_cast<std::size_t>(sz.w1_calls));
  const long per_round = sz.w1_calls / sz.w1_rounds;
  const auto frames_before = client->connection().stats().frames_out;
  long netref_calls = 0;
  for (long r = 0; r < sz.w1_rounds; ++r) {
    const long warm = r == 0 ? sz.w1_warmup : 0;
    time_calls(warm, per_round, raw_lat, &progress, 2 * r * per_round, 2 * sz.w1_calls, raw_call);
    time_calls(warm, per_round, netref_lat, &progress, (2 * r + 1) * per_round, 2 * sz.w1_calls, netref_call);
    netref_calls += warm + per_round;
  }
  const auto frames = client->connection().stats().frames_out - frames_before;
  const Summary ns = summarize(netref_lat);
  const Summary rs = summarize(raw_lat);
  // calls/s of one caller: the inverse of the mean latency.
  fig.set("w1.calls", static_cast<double>(per_round * sz.w1_rounds));
  fig.set("w1.netref.median_us", ns.median_us);
  fig.set("w1.netref.p99_us", ns.p99_us);
  fig.set("w1.netref.mean_us", ns.mean_us);
  fig.set("w1.netref.calls_per_s", 1e6 / ns.mean_us);
  fig.set("w1.netref.round_trips_per_call", static_cast<double>(frames) / static_cast<double>(netref_calls));
  fig.set("w1.raw.median_us", rs.median_us);
  fig.set("w1.raw.p99_us", rs.p99_us);
  fig.set("w1.raw.mean_us", rs.mean_us);
  fig.set("w1.raw.calls_per_s", 1e6 / rs.mean_us);
  write_cdf(opt.out + "/w1_netref.dat", netref_lat);
  write_cdf(opt.out + "/w1_raw.dat", raw_lat);
  client->close();
}

// The profiling form: one workload's loop alone, on one side; prints its figure.
void run_only(const Options& opt) {
  std::vector<double> latencies;
  latencies.reserve(static_cast<std::size_t>(opt.calls));
  const auto t0 = Clock::now();
  if (opt.only == "w1-netref") {
    auto client = connect_netref(opt.port);
    auto root = client->root();
    time_calls(opt.warmup, opt.calls, latencies, nullptr, 0, 0, [&](long i) {
      const auto sum = root->attr("add")->call(std::int64_t{i}, std::int64_t{7}).as<std::int64_t>();
      check(sum == i + 7, "add");
    });
    client->close();
  } else if (opt.only == "w1-raw") {
    bench::raw::Conn raw(bench::raw::connect_loopback(opt.raw_port));
    std::vector<std::uint8_t> reply;
    time_calls(opt.warmup, opt.calls, latencies, nullptr, 0, 0, [&](long i) {
      check(raw_add(raw, i, 7, reply) == i + 7, "raw add");
    });
  } else if (opt.only == "w3-netref" || opt.only == "w3-netref-pool" || opt.only == "w3-netref-compressed") {
    const bool compressed = opt.only == "w3-netref-compressed";
    auto client = compressed                        ? connect_netref(opt.port, true)
                  : opt.only == "w3-netref-pool" ? connect_netref(opt.pool_plain_port, false)
                                                  : connect_netref(opt.plain_port, false);
    auto root = client->root();
    const netref::Bytes data{make_payload(1u << 20)};
    for (long i = 0; i < opt.warmup + opt.calls; ++i) {
      check(root->attr("echo")->call(data).as<netref::Bytes>().data.size() == data.data.size(), "echo");
    }
    client->close();
  } else if (opt.only == "w3-raw") {
    bench::raw::Conn raw(bench::raw::connect_loopback(opt.raw_port));
    const std::string payload = make_payload(1u << 20);
    std::vector<std::uint8_t> reply;
    for (long i = 0; i < opt.warmup + opt.calls; ++i) {
      raw.send(bench::raw::kEcho, payload.data(), payload.size());
      check(raw.recv_large(reply) == bench::raw::kEcho && reply.size() == payload.size(), "raw echo");
    }
  } else {
    throw std::runtime_error("--only takes w1-netref, w1-raw, w3-netref, w3-netref-pool, w3-netref-compressed or w3-raw");
  }
  if (opt.calls == 0) return;
  if (opt.only.starts_with("w1")) {
    const Summary s = summarize(latencies);
    std::printf("%s median_us %.2f p99_us %.2f\n", opt.only.c_str(), s.median_us, s.p99_us);
  } else {
    const double seconds = seconds_between(t0, Clock::now());
    std::printf("%s MBps %.1f\n", opt.only.c_str(),
                2.0 * (1u << 20) * static_cast<double>(opt.warmup + opt.calls) / seconds / 1e6);
  }
}

// ---------------------------------------------------------------------------------------------
// W2: pipelined async add, up to `window` outstanding

void run_w2(const Options& opt, const Sizes& sz, Figures& fig, Progress& progress) {
  progress.begin("W2 pipelined add, raw TCP");
  {
    // As a hand-made pipelining client would: requests are queued and written together before
    // each blocking read, and every reply that read brought in frees a slot refilled at once.
    bench::raw::Conn raw(bench::raw::connect_loopback(opt.raw_port));
    std::vector<std::uint8_t> reply;
    long issued = 0;
    long done = 0;
    auto issue = [&] {
      const std::int64_t args[2] = {issued, 1};
      raw.queue(bench::raw::kAdd, args, sizeof args);
      ++issued;
    };
    const auto t0 = Clock::now();
    while (issued < sz.w2_calls && issued < sz.w2_window) issue();
    while (done < sz.w2_calls) {
      raw.flush();
      do {  // block for one reply, then take every reply already buffered
        if (raw.recv(reply) != bench::raw::kAdd || reply.size() != 8) throw std::runtime_error("bad raw add reply");
        std::int64_t sum;
        std::memcpy(&sum, reply.data(), 8);
        check(sum == done + 1, "raw pipelined add");
        ++done;
        if (issued < sz.w2_calls) issue();
        if ((done & 4095) == 0) progress.show(done, sz.w2_calls);
      } while (done < sz.w2_calls && raw.has_message());
    }
    fig.set("w2.raw.calls_per_s", static_cast<double>(sz.w2_calls) / seconds_between(t0, Clock::now()));
  }
  progress.begin("W2 pipelined async add, netref");
  {
    auto client = connect_netref(opt.port);
    auto root = client->root();
    auto add = root->attr("add");
    std::deque<std::pair<long, netref::AsyncCall>> outstanding;
    auto receive_one = [&] {
      const auto sum = outstanding.front().second.value().as<std::int64_t>();
      check(sum == outstanding.front().first + 1, "pipelined add");
      outstanding.pop_front();
    };
    const auto t0 = Clock::now();
    for (long i = 0; i < sz.w2_calls; ++i) {
      if (static_cast<long>(outstanding.size()) == sz.w2_window) receive_one();
      outstanding.emplace_back(i, add->async_call(std::int64_t{i}, std::int64_t{1}));
      if ((i & 4095) == 0) progress.show(i, sz.w2_calls);
    }
    while (!outstanding.empty()) receive_one();
    fig.set("w2.netref.calls_per_s", static_cast<double>(sz.w2_calls) / seconds_between(t0, Clock::now()));
    client->close();
  }
  fig.set("w2.calls", static_cast<double>(sz.w2_calls));
  fig.set("w2.window", static_cast<double>(sz.w2_window));
}

// ---------------------------------------------------------------------------------------------
// W3: echo of a 1 MiB payload

void run_w3(const Options& opt, const Sizes& sz, Figures& fig, Progress& progress) {
  const std::string payload = make_payload(sz.w3_bytes);
  const double bytes_per_call = 2.0 * static_cast<double>(payload.size());  // both ways
  progress.begin("W3 echo 1 MiB, raw TCP");
  {
    bench::raw::Conn raw(bench::raw::connect_loopback(opt.raw_port));
    std::vector<std::uint8_t> reply;
    const auto t0 = Clock::now();
    for (long i = 0; i < sz.w3_calls; ++i) {
      raw.send(bench::raw::kEcho, payload.data(), payload.size());
      if (raw.recv_large(reply) != bench::raw::kEcho || reply.size() != payload.size()) {
        throw std::runtime_error("bad raw echo reply");
      }
      progress.show(i, sz.w3_calls);
    }
    check(std::memcmp(reply.data(), payload.data(), payload.size()) == 0, "raw echo");
    fig.set("w3.raw.MBps", bytes_per_call * static_cast<double>(sz.w3_calls) / seconds_between(t0, Clock::now()) / 1e6);
  }
  auto netref_echo = [&](const char* what, std::uint16_t port, bool compress, const std::string& key) {
    progress.begin(what);
    auto client = connect_netref(port, compress);
    auto root = client->root();
    const netref::Bytes data{payload};
    const auto t0 = Clock::now();
    netref::Bytes back;
    for (long i = 0; i < sz.w3_calls; ++i) {
      back = root->attr("echo")->call(data).as<netref::Bytes>();
      check(back.data.size() == payload.size(), "echo size");
      progress.show(i, sz.w3_calls);
    }
    fig.set(key, bytes_per_call * static_cast<double>(sz.w3_calls) / seconds_between(t0, Clock::now()) / 1e6);
    check(back.data == payload, "echo");
    client->close();
  };
  netref_echo("W3 echo 1 MiB, netref, compression off", opt.plain_port, false, "w3.netref_plain.MBps");
  if (opt.pool_plain_port != 0) {
    netref_echo("W3 echo 1 MiB, netref ThreadPoolServer, compression off", opt.pool_plain_port, false,
                "w3.netref_pool_plain.MBps");
  }
  netref_echo("W3 echo 1 MiB, netref, compression on", opt.port, true, "w3.netref_compressed.MBps");
  fig.set("w3.calls", static_cast<double>(sz.w3_calls));
  fig.set("w3.payload_bytes", static_cast<double>(payload.size()));
}

// ---------------------------------------------------------------------------------------------
// W4: netref churn

void run_w4(const Options& opt, const Sizes& sz, Figures& fig, Progress& progress) {
  progress.begin("W4 netref churn: make_counter, add, drop");
  auto client = connect_netref(opt.port);
  auto root = client->root();
  auto server_stats = [&] {
    const auto [lent, rss] = root->attr("stats")->call().as<std::tuple<std::int64_t, std::int64_t>>();
    return std::make_pair(lent, rss);
  };
  // The root object is lent too (GETROOT): counters lent = lent objects - this baseline.
  const auto baseline = server_stats().first;
  double churn_seconds = 0;
  auto t0 = Clock::now();
  for (long i = 1; i <= sz.w4_cycles; ++i) {
    {
      auto counter = root->attr("make_counter")->call(std::int64_t{i});
      check(counter->attr("add")->call(std::int64_t{1}).as<std::int64_t>() == i + 1, "counter add");
    }  // the handle drops here: one DEL goes out
    if (i == sz.w4_checkpoint || i == sz.w4_cycles) {
      churn_seconds += seconds_between(t0, Clock::now());
      const auto [lent, rss] = server_stats();
      const std::string at = i == sz.w4_cycles ? "last" : "first";
      fig.set("w4.cycles_at_" + at, static_cast<double>(i));
      fig.set("w4.rss_kib_at_" + at, static_cast<double>(rss));
      fig.set("w4.counters_lent_at_" + at, static_cast<double>(lent - baseline));
      t0 = Clock::now();
    }
    if ((i & 1023) == 0) progress.show(i, sz.w4_cycles);
  }
  fig.set("w4.cycles_per_s", static_cast<double>(sz.w4_cycles) / churn_seconds);
  fig.set("w4.rss_growth", fig.get("w4.rss_kib_at_last") / fig.get("w4.rss_kib_at_first"));
  // The count is real: while handles are held the server counts them, after they drop it does not.
  {
    std::vector<netref::Proxy> held;
    for (long i = 0; i < sz.w4_held; ++i) held.push_back(root->attr("make_counter")->call(std::int64_t{i}));
    fig.set("w4.counters_lent_while_holding", static_cast<double>(server_stats().first - baseline));
  }
  fig.set("w4.held", static_cast<double>(sz.w4_held));
  fig.set("w4.counters_lent_after_drop", static_cast<double>(server_stats().first - baseline));
  client->close();
}

// ---------------------------------------------------------------------------------------------
// W5: a chain of depth 4, a->attr("b")->attr("c")->attr("d")->call(x)

void run_w5(const Options& opt, const Sizes& sz, Figures& fig, Progress& progress) {
  progress.begin("W5 chain a.b.c.d(x), netref");
  auto client = connect_netref(opt.port);
  auto root = client->root();
  auto a = root->attr("a")->get();  // a netref to the server's object
  check(a.is_netref(), "root.a is a netref");
  std::vector<double> latencies;
  latencies.reserve(static_cast<std::size_t>(sz.w5_calls));
  auto call = [&](long i) {
    check(a->attr("b")->attr("c")->attr("d")->call(std::int64_t{i}).as<std::int64_t>() == i + 1, "chain");
  };
  for (long i = 0; i < sz.w5_warmup; ++i) call(i);
  const auto frames_before = client->connection().stats().frames_out;
  const auto frames_in_before = client->connection().stats().frames_in;
  time_calls(0, sz.w5_calls, latencies, &progress, 0, sz.w5_calls, call);
  const auto stats = client->connection().stats();
  const Summary s = summarize(latencies);
  fig.set("w5.calls", static_cast<double>(sz.w5_calls));
  fig.set("w5.netref.median_us", s.median_us);
  fig.set("w5.netref.p99_us", s.p99_us);
  fig.set("w5.netref.calls_per_s", 1e6 / s.mean_us);
  fig.set("w5.netref.round_trips_per_call",
          static_cast<double>(stats.frames_out - frames_before) / static_cast<double>(sz.w5_calls));
  fig.set("w5.netref.frames_in_per_call",
          static_cast<double>(stats.frames_in - frames_in_before) / static_cast<double>(sz.w5_calls));
  client->close();
}

// ---------------------------------------------------------------------------------------------
// W6: many concurrent clients, sync calls

// Runs `clients` threads; each connects (connect), warms up, waits for the others, then makes
// `calls` calls (call). Records total calls/s and the latency percentiles.
template <class Connect, class Call>
void run_concurrent(long clients, long calls, Connect&& connect, Call&& call, const std::string& prefix,
                    Figures& fig, Progress& progress) {
  std::vector<std::vector<double>> latencies(static_cast<std::size_t>(clients));
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(clients));
  Clock::time_point start;
  std::barrier ready(static_cast<std::ptrdiff_t>(clients), [&]() noexcept { start = Clock::now(); });
  std::atomic<long> done{0};
  std::vector<std::thread> threads;
  for (long c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      auto& mine = latencies[static_cast<std::size_t>(c)];
      mine.reserve(static_cast<std::size_t>(calls));
      bool arrived = false;
      try {
        auto session = connect();
        for (long i = 0; i < 20; ++i) call(session, i);
        ready.arrive_and_wait();
        arrived = true;
        for (long i = 0; i < calls; ++i) {
          const auto t0 = Clock::now();
          call(session, i);
          mine.push_back(micros_between(t0, Clock::now()));
          done.fetch_add(1, std::memory_order_relaxed);
        }
      } catch (...) {
        errors[static_cast<std::size_t>(c)] = std::current_exception();
        if (!arrived) ready.arrive_and_drop();
      }
    });
  }
  const long total = clients * calls;
  while (done.load() < total) {
    progress.show(done.load(), total);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (std::any_of(errors.begin(), errors.end(), [](auto& e) { return e != nullptr; })) break;
  }
  for (auto& t : threads) t.join();
  const auto end = Clock::now();
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  std::vector<double> all;
  all.reserve(static_cast<std::size_t>(total));
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  const Summary s = summarize(all);
  fig.set(prefix + ".calls_per_s", static_cast<double>(total) / seconds_between(start, end));
  fig.set(prefix + ".median_us", s.median_us);
  fig.set(prefix + ".p99_us", s.p99_us);
}

void run_w6(const Options& opt, const Sizes& sz, Figures& fig, Progress& progress) {
  progress.begin("W6 " + std::to_string(sz.w6_clients) + " concurrent clients, raw TCP");
  run_concurrent(
      sz.w6_clients, sz.w6_calls,
      [&] { return std::make_unique<bench::raw::Conn>(bench::raw::connect_loopback(opt.raw_port)); },
      [](std::unique_ptr<bench::raw::Conn>& conn, long i) {
        thread_local std::vector<std::uint8_t> reply;
        check(raw_add(*conn, i, 3, reply) == i + 3, "raw add");
      },
      "w6.raw", fig, progress);
  progress.begin("W6 " + std::to_string(sz.w6_clients) + " concurrent clients, netref " + opt.pool_name);
  run_concurrent(
      sz.w6_clients, sz.w6_calls,
      [&] {
        auto client = connect_netref(opt.pool_port);
        auto root = client->root();
        return std::make_pair(client, root);
      },
      [](std::pair<netref::Client, netref::Proxy>& session, long i) {
        const auto sum = session.second->attr("add")->call(std::int64_t{i}, std::int64_t{3}).as<std::int64_t>();
        check(sum == i + 3, "add");
      },
      "w6.netref", fig, progress);
  fig.set("w6.clients", static_cast<double>(sz.w6_clients));
  fig.set("w6.calls_per_client", static_cast<double>(sz.w6_calls));
  fig.set("w6.server", opt.pool_name);
}

// ---------------------------------------------------------------------------------------------

Options parse(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--quick") {
      opt.quick = true;
    } else if (arg == "--port") {
      opt.port = static_cast<std::uint16_t>(std::stoi(next()));
    } else if (arg == "--plain-port") {
      opt.plain_port = static_cast<std::uint16_t>(std::stoi(next()));
    } else if (arg == "--pool-port") {
      opt.pool_port = static_cast<std::uint16_t>(std::stoi(next()));
    } else if (arg == "--pool-plain-port") {
      opt.pool_plain_port = static_cast<std::uint16_t>(std::stoi(next()));
    } else if (arg == "--raw-port") {
      opt.raw_port = static_cast<std::uint16_t>(std::stoi(next()));
    } else if (arg == "--pool-name") {
      opt.pool_name = next();
    } else if (arg == "--out") {
      opt.out = next();
    } else if (arg == "--only") {
      opt.only = next();
    } else if (arg == "--calls") {
      opt.calls = std::stol(next());
    } else if (arg == "--warmup") {
      opt.warmup = std::stol(next());
    } else if (arg == "--metrics") {
      opt.metrics = true;
    } else {
      throw std::runtime_error("unknown argument " + arg);
    }
  }
  return opt;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options opt = parse(argc, argv);
    if (opt.metrics) {
      client_metrics = std::make_shared<netref::CallMetrics>(std::vector<std::string>{"add", "echo", "make_counter"});
    }
    if (opt.only == "w6") {  // W6 alone: raw, then netref's pool, in one window
      Figures fig;
      Progress progress(2);
      run_w6(opt, sizes_for(opt.quick), fig, progress);
      progress.finish();
      std::printf("w6 raw calls/s %.0f median_us %.1f p99_us %.1f | netref calls/s %.0f median_us %.1f p99_us %.1f "
                  "| p99 ratio %.2f\n",
                  fig.get("w6.raw.calls_per_s"), fig.get("w6.raw.median_us"), fig.get("w6.raw.p99_us"),
                  fig.get("w6.netref.calls_per_s"), fig.get("w6.netref.median_us"), fig.get("w6.netref.p99_us"),
                  fig.get("w6.netref.p99_us") / fig.get("w6.raw.p99_us"));
      return 0;
    }
    if (!opt.only.empty()) {
      run_only(opt);
      return 0;
    }
    if (opt.port == 0 || opt.plain_port == 0 || opt.pool_port == 0 || opt.raw_port == 0) {
      throw std::runtime_error("--port, --plain-port, --pool-port and --raw-port are required");
    }
    const Sizes sz = sizes_for(opt.quick);
    Figures fig;
    fig.set("mode", opt.quick ? "quick" : "full");
    Progress progress(11);
    const auto t0 = Clock::now();
    run_w1(opt, sz, fig, progress);
    run_w2(opt, sz, fig, progress);
    run_w3(opt, sz, fig, progress);
    run_w4(opt, sz, fig, progress);
    run_w5(opt, sz, fig, progress);
    run_w6(opt, sz, fig, progress);
    progress.finish();
    fig.set("client.seconds", seconds_between(t0, Clock::now()));
    fig.write_json(opt.out + "/client.json");
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "\nnetref_bench: %s\n", e.what());
    return 1;
  }
}
