#!/usr/bin/python3
"""Scrapes a netref metrics endpoint over HTTP and checks it with prometheus_client's parser.

usage: scrape.py URL EXPECTATION...
An EXPECTATION is `sample{label=value,...}=number` (labels optional), or
`sample{...}>=number`. Exits 0 when the text parses, every histogram's _count equals its
+Inf bucket, and every expectation holds; otherwise prints what failed and exits 1.
"""
import re
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def parse_expectation(text):
    m = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?(>=|=)(.+)", text)
    if not m:
        raise SystemExit(f"bad expectation: {text}")
    labels = {}
    if m.group(2):
        for pair in m.group(2).split(","):
            key, value = pair.split("=", 1)
            labels[key] = value
    return m.group(1), frozenset(labels.items()), m.group(3), float(m.group(4))


def main():
    url = sys.argv[1]
    with urllib.request.urlopen(url, timeout=5) as response:
        if response.status != 200:
            print(f"status {response.status}")
            return 1
        content_type = response.headers.get("Content-Type", "")
        text = response.read().decode("utf-8")
    if not content_type.startswith("text/plain"):
        print(f"content type {content_type!r}")
        return 1
    samples = {}
    problems = []
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
        if family.type == "histogram":
            counts = {frozenset(s.labels.items()): s.value for s in family.samples if s.name.endswith("_count")}
            for s in family.samples:
                if s.name.endswith("_bucket") and s.labels.get("le") == "+Inf":
                    key = frozenset((k, v) for k, v in s.labels.items() if k != "le")
                    if counts.get(key) != s.value:
                        problems.append(f"{family.name}{dict(key)}: _count {counts.get(key)} != +Inf bucket {s.value}")
    for expectation in sys.argv[2:]:
        name, labels, op, want = parse_expectation(expectation)
        got = samples.get((name, labels))
        if got is None:
            problems.append(f"missing: {expectation}")
        elif (op == "=" and got != want) or (op == ">=" and got < want):
            problems.append(f"{expectation}: got {got}")
    for p in problems:
        print(p)
    print("ok" if not problems else "failed")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
