#!/usr/bin/python3
"""Golden vectors for tests/protocol/brine_test.cpp and exception_codec_test.cpp.

Run with Debian's python3-rpyc 5.3 (the reference implementation):
    /usr/bin/python3 tests/data/brine/make_golden.py
Writes brine_vectors.tsv and vinegar_vectors.tsv next to this script, one `name<TAB>hex`
line per vector. The C++ tests build the expected value for every name in brine_vectors.tsv,
so a name added here needs its twin in brine_test.cpp (the test fails on a missing one).
"""
import os
import sys

from rpyc.core import brine, vinegar

HERE = os.path.dirname(os.path.abspath(__file__))

BIG300 = int("1234567890" * 30)  # 300 digits: INT_L4

VECTORS = [
    # singletons
    ("none", None),
    ("true", True),
    ("false", False),
    ("ellipsis", Ellipsis),
    ("not_implemented", NotImplemented),
    # ints: immediate range edges, INT_L1, INT_L4
    ("int_0", 0),
    ("int_1", 1),
    ("int_-48", -48),
    ("int_159", 159),
    ("int_160", 160),
    ("int_-49", -49),
    ("int_1000", 1000),
    ("int_max64", 2**63 - 1),
    ("int_min64", -2**63),
    ("int_2**63", 2**63),
    ("int_-2**63-1", -2**63 - 1),
    ("int_2**64", 2**64),
    ("int_-2**100", -(2**100)),
    ("int_300_digits", BIG300),
    ("int_-300_digits", -BIG300),
    # floats and complex
    ("float_0", 0.0),
    ("float_-0", -0.0),
    ("float_1.5", 1.5),
    ("float_-2.25e300", -2.25e300),
    ("float_denormal", 5e-324),
    ("float_inf", float("inf")),
    ("float_-inf", float("-inf")),
    ("float_nan", float("nan")),
    ("complex_1+2j", complex(1, 2)),
    ("complex_-0-infj", complex(-0.0, float("-inf"))),
    # bytes of every length form; bytes_N holds (i % 256) for i in range(N)
]
for n in (0, 1, 2, 3, 4, 5, 255, 256, 70000):
    VECTORS.append((f"bytes_{n}", bytes(i % 256 for i in range(n))))
VECTORS += [
    ("str_empty", ""),
    ("str_ascii", "hello"),
    ("str_4", "abcd"),
    ("str_unicode", "h\u00e9llo \u2603 \U0001F600"),
    ("str_100", "x" * 100),
    ("str_300", "\u00e9" * 150),
    ("str_nul", "a\x00b"),
]
# tuples of every length form; tuple_N holds range(N) (so ints past 159 are INT_L1)
for n in (0, 1, 2, 3, 4, 5, 255, 256):
    VECTORS.append((f"tuple_{n}", tuple(range(n))))
VECTORS += [
    ("tuple_nested", ((1, 2), (3, (4, ())), "x", b"y", None)),
    ("tuple_mixed", (True, False, None, 1.5, -7, "s", b"b", Ellipsis, NotImplemented)),
    ("frozenset_empty", frozenset()),
    ("frozenset_one", frozenset([5])),
    ("frozenset_str", frozenset(["only"])),
    ("slice_1_2_3", slice(1, 2, 3)),
    ("slice_None_5_None", slice(None, 5, None)),
    ("slice_in_tuple", (slice(0, -1, None), 0)),
    ("getroot_5x", (1, 0, (3, (1, ())))),
]


def vinegar_vector(exc):
    try:
        raise exc
    except BaseException:
        return vinegar.dump(*sys.exc_info(), include_local_traceback=True,
                            include_local_version=True)


VINEGAR = [
    ("value_error", vinegar_vector(ValueError("bad value"))),
    ("key_error", vinegar_vector(KeyError("k"))),
    ("stop_iteration", vinegar_vector(StopIteration())),
]


def write(path, rows):
    with open(path, "w") as f:
        for name, value in rows:
            data = brine.dump(value)
            again = brine.load(data)
            assert brine.dump(again) == data, name
            f.write(f"{name}\t{data.hex()}\n")


write(os.path.join(HERE, "brine_vectors.tsv"), VECTORS)
write(os.path.join(HERE, "vinegar_vectors.tsv"), VINEGAR)
