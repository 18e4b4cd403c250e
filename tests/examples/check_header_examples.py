#!/usr/bin/env python3
"""Checks that every ```cpp example in the public headers appears, line for line, in
tests/proxy/header_examples_test.cpp, where it is compiled and run: an example that no
longer compiles against the API fails the build, one edited in a header alone fails here."""
import pathlib
import sys

root = pathlib.Path(sys.argv[1])
compiled = (root / "tests/proxy/header_examples_test.cpp").read_text()
compiled_lines = [line.strip() for line in compiled.splitlines()]
missing = []
count = 0
for header in sorted(root.glob("*/include/netref/**/*.hpp")):
    block = None
    for line in header.read_text().splitlines():
        text = line.strip()
        if not text.startswith("///"):
            continue
        body = text[3:].strip()
        if body.startswith("```"):
            if block is None:
                block = []
            else:
                count += 1
                # The block's lines must appear in order, consecutively, in the compiled file.
                first = block[0]
                found = any(compiled_lines[i:i + len(block)] == block
                            for i, l in enumerate(compiled_lines) if l == first)
                if not found:
                    missing.append(f"{header.relative_to(root)}:\n  " + "\n  ".join(block))
                block = None
            continue
        if block is not None:
            block.append(body)
if missing:
    print("header examples not compiled by tests/proxy/header_examples_test.cpp:")
    print("\n".join(missing))
    sys.exit(1)
print(f"{count} header examples, each compiled by tests/proxy/header_examples_test.cpp")
