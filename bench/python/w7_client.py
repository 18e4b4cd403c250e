"""W7: a stock rpyc 5.3 client doing W1 (sync add) and W3 (1 MiB echo) against two servers,
our C++ one and a Python rpyc one, in alternating rounds so the machine's load drifts over
both alike.

Prints one JSON object with, for each server: calls/s of add (the best round, and over all
rounds), median and p99 microseconds of add (over all rounds), calls/s of echo over every echo,
MB/s of echo (payload both ways, 10^6 bytes, from the median call) and the slowest echo. The method netrefs are fetched once, so each call is one round
trip against either server.
Usage: /usr/bin/python3 w7_client.py NETREF_PORT RPYC_PORT ROUNDS CALLS WARMUP ECHO_CALLS
"""
import json
import random
import statistics
import sys
import time

import rpyc

ECHO_BYTES = 1 << 20


def payload(size):
    # Text-like bytes, as the C++ client's W3 payload: zlib level 1 shrinks them about 3x.
    words = [b"remote ", b"object ", b"netref ", b"proxy ", b"call ", b"reply ", b"frame ", b"brine ",
             b"tuple ", b"seq ", b"lent ", b"value ", b"socket ", b"stream ", b"channel ", b"handler ",
             b"async ", b"sync "]
    rng = random.Random(42)
    out = bytearray()
    while len(out) < size:
        out += rng.choice(words)
    return bytes(out[:size])


class Side:
    def __init__(self, port, warmup):
        self.conn = rpyc.connect("127.0.0.1", port, config={"sync_request_timeout": 120})
        self.add = self.conn.root.add
        self.echo = self.conn.root.echo
        for i in range(warmup):
            assert self.add(i, 7) == i + 7
        self.latencies = []
        self.rates = []
        self.calls = 0
        self.seconds = 0.0
        self.echo_seconds = []

    def add_round(self, calls):
        clock = time.perf_counter
        add = self.add
        start = clock()
        for i in range(calls):
            t0 = clock()
            result = add(i, 7)
            self.latencies.append((clock() - t0) * 1e6)
            if result != i + 7:
                raise SystemExit("wrong add result")
        seconds = clock() - start
        self.rates.append(calls / seconds)
        self.calls += calls
        self.seconds += seconds

    def echo_round(self, data, calls):
        for _ in range(calls):
            start = time.perf_counter()
            back = self.echo(data)
            self.echo_seconds.append(time.perf_counter() - start)
            if back != data:
                raise SystemExit("wrong echo result")

    def figures(self):
        self.latencies.sort()
        return {
            "calls_per_s": max(self.rates),
            "calls_per_s_all_rounds": self.calls / self.seconds,
            "median_us": statistics.median(self.latencies),
            "p99_us": self.latencies[min(len(self.latencies) - 1, int(0.99 * len(self.latencies)))],
            # Calls/s over every echo, the measure: a call that stalls counts as users see it.
            "echo_calls_per_s": len(self.echo_seconds) / sum(self.echo_seconds),
            # Per call, then the median: the typical call, stalls left out.
            "echo_MBps": 2 * ECHO_BYTES / statistics.median(self.echo_seconds) / 1e6,
            "echo_max_ms": max(self.echo_seconds) * 1e3,
        }


def main():
    netref_port, rpyc_port, rounds, calls, warmup, echo_calls = (int(a) for a in sys.argv[1:7])
    sides = {"netref_server": Side(netref_port, warmup), "rpyc_server": Side(rpyc_port, warmup)}
    data = payload(ECHO_BYTES)
    for side in sides.values():
        assert side.echo(data) == data
    for r in range(rounds):
        print(f"\r  W7 round {r + 1}/{rounds}", end="", file=sys.stderr, flush=True)
        for side in sides.values():
            side.add_round(calls)
            side.echo_round(data, echo_calls)
    print("\r\033[K" if sys.stderr.isatty() else "", end="", file=sys.stderr, flush=True)
    out = {}
    for name, side in sides.items():
        for key, value in side.figures().items():
            out[f"w7.{name}.{key}"] = value
        side.conn.close()
    out["w7.rounds"] = rounds
    out["w7.calls_per_round"] = calls
    out["w7.echo_calls_per_round"] = echo_calls
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
