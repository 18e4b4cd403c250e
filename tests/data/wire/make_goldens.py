#!/usr/bin/env python3
"""Writes the golden bytes of every message netref's wire builders make, as rpyc itself
sends them: a real rpyc Connection over a channel that only records what it is given.

    /usr/bin/python3 make_goldens.py > golden_v5.txt           # Debian's rpyc 5.3
    PYTHONPATH=<rpyc-6.0.1> /usr/bin/python3 make_goldens.py > golden_v6.txt

Each line is `name hex`. tests/protocol/wire_messages_test.cpp reads the files, so the
test runs without Python; run this again only when a message is added.

    make_goldens.py --check DIR   # ctest: do both files still match what rpyc sends?

--check exits 77 (ctest's "skipped") when an rpyc is not here: Debian's python3-rpyc for
5.x, and for 6.x the 6.0.1 sources at $NETREF_RPYC6 (default ../shared/rpyc-6.0.1 beside the project), which
are not in the repository.
"""
import os
import subprocess
import sys

SKIPPED = 77


class RecordingChannel:
    """What Connection._send hands its channel: one message payload per call."""

    def __init__(self):
        self.sent = []

    def send(self, data):
        self.sent.append(bytes(data))

    def close(self):
        pass

    @property
    def closed(self):
        return False

    def fileno(self):
        return -1


def record():
    import rpyc
    from rpyc.core import consts, netref
    from rpyc.core.protocol import Connection

    channel = RecordingChannel()
    conn = Connection(rpyc.VoidService(), channel, {})
    out = []

    def emit(name, send):
        del channel.sent[:]
        send()
        assert len(channel.sent) == 1, name
        out.append(f"{name} {channel.sent[0].hex()}")

    def request(seq, handler, args):
        # Connection._async_request without its seq counter: (handler, box(args)).
        return lambda: conn._send(consts.MSG_REQUEST, seq, (handler, conn._box(args)))

    def peer_object(id_pack):
        # A netref of this connection: what rpyc boxes as LABEL_LOCAL_REF.
        cls = netref.class_factory(id_pack, [])
        ref = cls(conn, id_pack)
        ref.____refcount__ = 0
        return ref

    emit("getroot_seq0", request(0, consts.HANDLE_GETROOT, ()))
    emit("getroot_seq300", request(300, consts.HANDLE_GETROOT, ()))
    emit("ping_seq5", request(5, consts.HANDLE_PING, ("hi",)))
    emit("close_seq7", request(7, consts.HANDLE_CLOSE, ()))
    emit("hello_seq1", request(1, 64, (b"netref", 1, ("oneway", "pipeline", "deadline", "cancel"))))
    small = ("builtins.list", 123, 140000000000)
    big = ("Counter", 2**63 + 5, 2**64 - 1)
    refs = []
    for name, id_pack, count in (("del_seq9", small, 2), ("del_seq70000_big_ids", big, 1)):
        ref = peer_object(id_pack)
        refs.append(ref)
        seq = int(name.split("_")[1][3:])
        emit(name, request(seq, consts.HANDLE_DEL, (ref, count)))
    # netref's DEL_BATCH (handler 67) as rpyc would box its arguments: one plain tuple.
    emit("del_batch_seq11", request(11, 67, ((small, 2), (big, 1))))
    # netref's RELEASE_RESULTS (handler 70): the seqs of kept results, one plain tuple.
    emit("release_results_seq13", request(13, 70, (5, 9, 70000)))
    # The envelope of a request whose boxed arguments follow (here a CALL of a peer object).
    emit("call_seq12", request(12, consts.HANDLE_CALL, (peer_object(small), (1, "x"), ())))
    # netref's DEADLINE (68): (timeout_ms, inner handler, inner args), here a CALL of a peer
    # object with a 1.5 s deadline; and CANCEL (69) of seq 12, a plain tuple.
    emit("deadline_seq13_call", request(13, 68, (1500, consts.HANDLE_CALL, (peer_object(small), (1, "x"), ()))))
    emit("cancel_seq14", request(14, 69, (12,)))
    emit("reply_seq3_int", lambda: conn._send(consts.MSG_REPLY, 3, conn._box(42)))
    emit("reply_seq200_none", lambda: conn._send(consts.MSG_REPLY, 200, conn._box(None)))
    vinegar = (("builtins", "ValueError"), ("bad",), (), "Traceback: bad\n")
    emit("exception_seq4", lambda: conn._send(consts.MSG_EXCEPTION, 4, vinegar))
    emit("stop_iteration_seq6", lambda: conn._send(consts.MSG_EXCEPTION, 6, 1))
    print(f"# rpyc {rpyc.__version__}: name, then the message payload as hex")
    print("\n".join(out))
    for ref in refs:
        ref.____conn__ = None  # no DEL from the garbage collector into a closed recorder
    conn._closed = True  # and no CLOSE from Connection.__del__ (6.x waits for its reply)


def check(directory):
    here = os.path.abspath(__file__)
    beside = os.path.join(os.path.dirname(here), "..", "..", "..", "..", "shared", "rpyc-6.0.1")
    rpyc6 = os.environ.get("NETREF_RPYC6", os.path.normpath(beside))
    skipped = failed = False
    for generation, pythonpath in (("5", None), ("6", rpyc6)):
        if pythonpath is not None and not os.path.isdir(pythonpath):
            print(f"SKIP v{generation}: rpyc 6.0.1 sources not found at {pythonpath} (set NETREF_RPYC6)")
            skipped = True
            continue
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        if pythonpath is not None:
            env["PYTHONPATH"] = pythonpath
        run = subprocess.run([sys.executable, here], env=env, capture_output=True, text=True)
        if run.returncode == SKIPPED or "No module named 'rpyc'" in run.stderr:
            print(f"SKIP v{generation}: rpyc is not installed ({run.stderr.strip()[-200:]})")
            skipped = True
            continue
        with open(os.path.join(directory, f"golden_v{generation}.txt")) as f:
            expected = f.read()
        if run.returncode != 0 or run.stdout != expected:
            print(f"FAIL v{generation}: rpyc now sends\n{run.stdout}{run.stderr}\nthe file holds\n{expected}")
            failed = True
        else:
            print(f"ok v{generation}: golden_v{generation}.txt is what rpyc sends")
    return 1 if failed else SKIPPED if skipped else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        sys.exit(check(sys.argv[2]))
    sys.exit(record())
