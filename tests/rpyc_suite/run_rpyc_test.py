#!/usr/bin/python3
"""Runs one of rpyc's own test files, unchanged, with pytest, against C++ netref servers
(rpyc_shim.py says how).
Usage: run_rpyc_test.py --server PROGRAM [--registry PROGRAM] --rpyc6 DIR --generation 5.3|6.0.1 TEST_FILE [-- PYTEST_ARGS]
  DIR: rpyc 6.0.1's sources (its tests/ folder holds TEST_FILE). Absent: exit 77 (skipped).
  5.3: the rpyc this python3 has (Debian's); 6.0.1: the one in DIR."""
import argparse
import os
import sys

SKIP = 77


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--registry", default="", help="netref_registry, for test_registry.py")
    parser.add_argument("--rpyc6", required=True)
    parser.add_argument("--generation", choices=("5.3", "6.0.1"), required=True)
    parser.add_argument("test_file")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments, after --")
    args = parser.parse_args()

    test_path = os.path.join(args.rpyc6, "tests", args.test_file)
    if not os.path.isfile(test_path):
        print(f"SKIP: rpyc 6.0.1's tests are not beside the project ({test_path} is absent)")
        return SKIP
    if args.generation == "6.0.1":
        sys.path.insert(0, args.rpyc6)
    sys.dont_write_bytecode = True  # nothing is written into rpyc's folder
    import rpyc
    if not rpyc.__version__.startswith(args.generation):
        print(f"rpyc {rpyc.__version__} from {rpyc.__file__}, not {args.generation}")
        return 1
    os.environ["NETREF_RPYC_SUITE_SERVER"] = os.path.abspath(args.server)
    if args.registry:
        os.environ["NETREF_RPYC_SUITE_REGISTRY"] = os.path.abspath(args.registry)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import pytest
    import rpyc_shim  # replaces rpyc's servers before the test module imports them

    # No ini file, no cache, no bytecode: nothing is read from or written into rpyc's folder
    # but the test file itself.
    status = pytest.main([test_path, "-c", os.devnull, "--rootdir", os.path.dirname(test_path),
                          "-p", "no:cacheprovider", "--import-mode=importlib", "--assert=plain", "-rsxX", "-v"]
                         + args.pytest_args, plugins=[rpyc_shim])
    complaints = rpyc_shim.stop_all()
    for complaint in complaints:
        print("FAILED:", complaint)
    return 1 if complaints and status == 0 else int(status)


if __name__ == "__main__":
    sys.exit(main())
