"""Merges the benchmark's figures into one JSON file and prints the table.

Inputs (in DIR): client.json (netref_bench), w7.json (the Python client), callgrind.json
(instructions per call, full mode only), machine.json. Output: DIR/results.json with every
figure, the derived ratios and each target's verdict, and the table on stdout (Markdown with
--markdown). Speed targets are reported, never enforced; the exit status is 1 only when a
functional check fails (a chain that is not one round trip, lent objects that do not come
back to zero).
Usage: python3 report.py DIR [--markdown]
"""
import json
import os
import sys


def load(directory, name):
    path = os.path.join(directory, name)
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)


def main():
    directory = sys.argv[1]
    markdown = "--markdown" in sys.argv[2:]
    client = load(directory, "client.json")
    w7 = load(directory, "w7.json")
    callgrind = load(directory, "callgrind.json")
    machine = load(directory, "machine.json")
    figures = dict(client)
    figures.update(w7)
    figures.update(callgrind)

    def get(key):
        return figures.get(key)

    def ratio(a, b):
        x, y = get(a), get(b)
        if x is None or y is None or y == 0:
            return None
        return x / y

    rows = []      # (figure, value text, ratio, target text, verdict)
    targets = {}   # name -> {"value", "target", "met"}

    def fmt(value, unit=""):
        if value is None:
            return "n/a"
        if float(value).is_integer() and abs(value) < 1000:
            text = f"{value:.0f}"
        elif abs(value) >= 1000:
            text = f"{value:,.0f}"
        elif abs(value) >= 100:
            text = f"{value:.0f}"
        elif abs(value) >= 10:
            text = f"{value:.1f}"
        else:
            text = f"{value:.2f}"
        return text + (" " + unit if unit else "")

    def row(figure, key, unit, ratio_value=None, target=None, check=None, name=None, ratio_of=""):
        verdict = ""
        if check is not None:
            subject = ratio_value if ratio_value is not None else get(key)
            met = subject is not None and check(subject)
            verdict = "met" if met else "MISSED"
            targets[name or key] = {"value": subject, "target": target, "met": met}
        ratio_text = "" if ratio_value is None else f"{ratio_value:.2f}x{ratio_of}"
        rows.append((figure, fmt(get(key), unit), ratio_text, target or "", verdict))

    # W1
    row("W1 sync add, median (raw TCP)", "w1.raw.median_us", "µs")
    row("W1 sync add, median (netref)", "w1.netref.median_us", "µs", ratio("w1.netref.median_us", "w1.raw.median_us"),
        "≤ 1.15x raw", lambda r: r <= 1.15, "w1_median_vs_raw")
    row("W1 sync add, p99 (raw TCP)", "w1.raw.p99_us", "µs")
    row("W1 sync add, p99 (netref)", "w1.netref.p99_us", "µs", ratio("w1.netref.p99_us", "w1.raw.p99_us"))
    row("W1 calls/s, one caller (raw TCP)", "w1.raw.calls_per_s", "")
    row("W1 calls/s, one caller (netref)", "w1.netref.calls_per_s", "", ratio("w1.netref.calls_per_s", "w1.raw.calls_per_s"))
    row("W1 client instructions/call (raw TCP, callgrind)", "w1.raw.instructions_per_call", "")
    row("W1 client instructions/call (netref, callgrind)", "w1.netref.instructions_per_call", "",
        ratio("w1.netref.instructions_per_call", "w1.raw.instructions_per_call"))
    row("W1 server instructions/call (netref, callgrind)", "w1.netref.server_instructions_per_call", "")
    # W2
    row("W2 pipelined add, 64 outstanding, calls/s (raw TCP)", "w2.raw.calls_per_s", "")
    row("W2 pipelined async add, 64 outstanding, calls/s (netref)", "w2.netref.calls_per_s", "",
        ratio("w2.netref.calls_per_s", "w2.raw.calls_per_s"), "≥ 0.35x raw", lambda r: r >= 0.35, "w2_rate_vs_raw")
    # W3
    row("W3 echo 1 MiB, MB/s both ways (raw TCP)", "w3.raw.MBps", "MB/s")
    row("W3 echo 1 MiB, compression off (netref)", "w3.netref_plain.MBps", "MB/s",
        ratio("w3.netref_plain.MBps", "w3.raw.MBps"), "≥ 0.6x raw", lambda r: r >= 0.6, "w3_plain_vs_raw")
    row("W3 echo 1 MiB, compression off (netref ThreadPoolServer)", "w3.netref_pool_plain.MBps", "MB/s",
        ratio("w3.netref_pool_plain.MBps", "w3.raw.MBps"))
    row("W3 echo 1 MiB, compression on (netref)", "w3.netref_compressed.MBps", "MB/s",
        ratio("w3.netref_compressed.MBps", "w3.raw.MBps"))
    # W4
    first = get("w4.cycles_at_first")
    last = get("w4.cycles_at_last")
    row("W4 churn make_counter+add+drop, cycles/s", "w4.cycles_per_s", "")
    row(f"W4 server RSS after {fmt(first)} cycles", "w4.rss_kib_at_first", "KiB")
    row(f"W4 server RSS after {fmt(last)} cycles", "w4.rss_kib_at_last", "KiB", get("w4.rss_growth"),
        "≤ 1.10x", lambda r: r <= 1.10, "w4_rss_growth")
    row(f"W4 counters lent after {fmt(first)} / {fmt(last)} cycles", "w4.counters_lent_at_last", "",
        None, "0", lambda v: v == 0 and get("w4.counters_lent_at_first") == 0, "w4_lent_during_churn")
    row(f"W4 counters lent holding {fmt(get('w4.held'))} handles", "w4.counters_lent_while_holding", "",
        None, "= held", lambda v: v == get("w4.held"), "w4_lent_while_holding")
    row("W4 counters lent after those handles drop", "w4.counters_lent_after_drop", "", None, "0",
        lambda v: v == 0, "w4_lent_after_drop")
    # W5
    row("W5 chain a.b.c.d(x), median", "w5.netref.median_us", "µs",
        ratio("w5.netref.median_us", "w1.netref.median_us"), "≤ 1.2x W1", lambda r: r <= 1.2, "w5_vs_w1")
    figures["w5.netref.vs_raw_rtt"] = ratio("w5.netref.median_us", "w1.raw.median_us")
    row("W5 chain, round trips per call", "w5.netref.round_trips_per_call", "", None, "1",
        lambda v: v == 1, "w5_round_trips")
    # W6
    clients = fmt(get("w6.clients"))
    server = client.get("w6.server", "?")
    row(f"W6 {clients} clients, calls/s (raw TCP, thread per client)", "w6.raw.calls_per_s", "")
    row(f"W6 {clients} clients, calls/s (netref {server})", "w6.netref.calls_per_s", "",
        ratio("w6.netref.calls_per_s", "w6.raw.calls_per_s"))
    row(f"W6 {clients} clients, p99 (raw TCP)", "w6.raw.p99_us", "µs")
    row(f"W6 {clients} clients, p99 (netref {server})", "w6.netref.p99_us", "µs", ratio("w6.netref.p99_us", "w6.raw.p99_us"))
    # W7
    row("W7 Python rpyc client, add calls/s (Python rpyc server)", "w7.rpyc_server.calls_per_s", "")
    row("W7 Python rpyc client, add calls/s (netref server)", "w7.netref_server.calls_per_s", "",
        ratio("w7.netref_server.calls_per_s", "w7.rpyc_server.calls_per_s"), "≥ 1.3x rpyc", lambda r: r >= 1.3,
        "w7_calls_vs_rpyc", " rpyc")
    row("W7 Python rpyc client, add median (Python rpyc server)", "w7.rpyc_server.median_us", "µs")
    row("W7 Python rpyc client, add median (netref server)", "w7.netref_server.median_us", "µs",
        ratio("w7.netref_server.median_us", "w7.rpyc_server.median_us"), ratio_of=" rpyc")
    row("W7 Python rpyc client, echo 1 MiB calls/s (Python rpyc server)", "w7.rpyc_server.echo_calls_per_s", "")
    row("W7 Python rpyc client, echo 1 MiB calls/s (netref server)", "w7.netref_server.echo_calls_per_s", "",
        ratio("w7.netref_server.echo_calls_per_s", "w7.rpyc_server.echo_calls_per_s"), "≥ 1.3x rpyc",
        lambda r: r >= 1.3, "w7_echo_calls_vs_rpyc", " rpyc")
    row("W7 Python rpyc client, echo 1 MiB, median call (Python rpyc server)", "w7.rpyc_server.echo_MBps", "MB/s")
    row("W7 Python rpyc client, echo 1 MiB, median call (netref server)", "w7.netref_server.echo_MBps", "MB/s",
        ratio("w7.netref_server.echo_MBps", "w7.rpyc_server.echo_MBps"), ratio_of=" rpyc")
    row("W7 Python rpyc client, slowest echo (Python rpyc server)", "w7.rpyc_server.echo_max_ms", "ms")
    row("W7 Python rpyc client, slowest echo (netref server)", "w7.netref_server.echo_max_ms", "ms")

    # Functional checks: these do not depend on the machine's speed.
    functional = ["w4_lent_during_churn", "w4_lent_while_holding", "w4_lent_after_drop", "w5_round_trips"]
    broken = [name for name in functional if name in targets and not targets[name]["met"]]

    results = {"machine": machine, "figures": figures, "targets": targets}
    with open(os.path.join(directory, "results.json"), "w") as f:
        json.dump(results, f, indent=2, sort_keys=True)
        f.write("\n")

    header = ("figure", "value", "ratio", "target", "")
    if markdown:
        print("| " + " | ".join(header[:4]) + " | verdict |")
        print("| --- | ---: | ---: | --- | --- |")
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        widths = [max(len(r[i]) for r in rows + [header]) for i in range(5)]
        line = lambda r: "  ".join(c.ljust(widths[i]) if i in (0, 3, 4) else c.rjust(widths[i]) for i, c in enumerate(r))
        print(line(header))
        print("-" * (sum(widths) + 8))
        for r in rows:
            print(line(r).rstrip())
    if broken:
        print("functional checks failed: " + ", ".join(broken), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
