#!/usr/bin/python3
"""Writes the hand-made seed inputs of the fuzz targets: fuzz/corpus/<target>/seed-<what>.

Each seed follows its harness's input format (described at the top of fuzz/<target>_fuzz.cpp);
keep the two in step when a format changes. The rest of each corpus is what libFuzzer found
from these seeds, kept by `-merge=1` (scripts/fuzz.sh --merge). Needs only the standard library:
brine messages are written by the small encoder below (RPyC's canonical form), and the golden
RPyC vectors come from tests/data.

Usage: fuzz/make_seeds.py [corpus_dir]   (default: fuzz/corpus next to this script)
"""
import os
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "tests", "data")


# ---------------------------------------------------------------------------------------------
# Brine, as rpyc/core/brine.py writes it (enough of it for messages)

def brine(v):
    if v is None:
        return b"\x00"
    if v is True:
        return b"\x03"
    if v is False:
        return b"\x04"
    if v is Ellipsis:
        return b"\x06"
    if isinstance(v, int):
        if -0x30 <= v <= 0x9F:
            return bytes([v + 0x50])
        text = str(v).encode()
        return (b"\x16" + bytes([len(text)]) if len(text) < 256 else b"\x17" + struct.pack(">I", len(text))) + text
    if isinstance(v, float):
        return b"\x18" + struct.pack(">d", v)
    if isinstance(v, bytes):
        n = len(v)
        if n == 0:
            return b"\x01"
        if n <= 4:
            return bytes([0x0A + n - 1]) + v
        return (b"\x0e" + bytes([n]) if n < 256 else b"\x0f" + struct.pack(">I", n)) + v
    if isinstance(v, str):
        return b"\x08" + brine(v.encode())
    if isinstance(v, frozenset):
        return b"\x1a" + brine(tuple(v))
    if isinstance(v, tuple):
        n = len(v)
        if n == 0:
            head = b"\x02"
        elif n <= 4:
            head = bytes([0x10 + n - 1])
        elif n < 256:
            head = b"\x14" + bytes([n])
        else:
            head = b"\x15" + struct.pack(">I", n)
        return head + b"".join(brine(x) for x in v)
    raise TypeError(v)


def frame(payload, flag=0):
    return struct.pack(">IB", len(payload), flag) + payload + b"\n"


def write(corpus, target, name, data):
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def golden_brine():
    out = {}
    with open(os.path.join(DATA, "brine", "brine_vectors.tsv")) as f:
        for line in f:
            name, hexed = line.rstrip("\n").split("\t")
            out[name] = bytes.fromhex(hexed)
    return out


def golden_vinegar():
    out = {}
    with open(os.path.join(DATA, "brine", "vinegar_vectors.tsv")) as f:
        for line in f:
            name, hexed = line.rstrip("\n").split("\t")
            out[name] = bytes.fromhex(hexed)
    return out


# ---------------------------------------------------------------------------------------------
# frame: config byte, then chunks (see frame_fuzz.cpp)

def chunks(data, size):
    """Literal chunks of at most size (<= 16384) bytes each."""
    out = b""
    for i in range(0, len(data), size):
        piece = data[i:i + size]
        if len(piece) <= 64:
            out += bytes([len(piece) - 1]) + piece
        else:
            n = len(piece) - 1
            out += bytes([0x40 | (n >> 8), n & 0xFF]) + piece
    return out


def stall(answers):
    return bytes([0xC0 | (answers - 1)])


def run(kib, value):
    return bytes([0x80 | (kib - 1), value])


def frame_seeds(corpus):
    mib = 6 | (5 << 3)  # max_frame 1 MiB, max_inflated 1 MiB
    golden = open(os.path.join(DATA, "channel", "rpyc_frame_5000.bin"), "rb").read()
    getroot = frame(bytes.fromhex("1251501153115102"))
    for reader, rname in ((0, "blocking"), (1, "reactor"), (2, "alternating")):
        cfg = bytes([mib | reader << 6])
        write(corpus, "frame", "rpyc_5000_whole_" + rname, cfg + chunks(golden, 16384))
        write(corpus, "frame", "rpyc_5000_bytewise_" + rname, cfg + chunks(golden, 1))
        write(corpus, "frame", "pipelined_with_stalls_" + rname,
              cfg + chunks(getroot * 3, 7) + stall(1) + chunks(golden, 100) + stall(2) + chunks(getroot, 64))
    cfg = bytes([mib])
    write(corpus, "frame", "empty_frame", cfg + chunks(frame(b""), 64))
    write(corpus, "frame", "length_ffffffff", cfg + chunks(b"\xff\xff\xff\xff\x00", 64))
    write(corpus, "frame", "tls_client_hello", cfg + chunks(bytes.fromhex("16030100f4010000f00303") + b"\0" * 20, 64))
    write(corpus, "frame", "http_get", cfg + chunks(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 64))
    write(corpus, "frame", "flag_2", cfg + chunks(frame(b"abc", 2), 64))
    write(corpus, "frame", "no_terminator", cfg + chunks(frame(b"abc")[:-1] + b"X", 64))
    write(corpus, "frame", "truncated_payload", cfg + chunks(b"\x00\x00\x03\xe8\x00ab", 64))
    write(corpus, "frame", "truncated_header", cfg + chunks(b"\x00\x00", 64))
    write(corpus, "frame", "zlib_plain", cfg + chunks(frame(zlib.compress(b"hello " * 200), 1), 64))
    write(corpus, "frame", "zlib_bomb_4mib", cfg + chunks(frame(zlib.compress(b"\0" * (4 << 20), 9), 1), 16384))
    write(corpus, "frame", "zlib_garbage", cfg + chunks(frame(b"\x78\x9cnot zlib at all", 1), 64))
    # 70000 bytes: past the 64 KiB read-ahead, so recv reads straight into the frame
    big = b"\x00\x01\x11\x70\x00"
    write(corpus, "frame", "large_70000", cfg + chunks(big, 64) + run(64, 0x78) + run(4, 0x78) + chunks(b"x" * 368, 16384) + chunks(b"\n", 1))
    write(corpus, "frame", "large_truncated", cfg + chunks(big, 64) + run(64, 0x78))
    write(corpus, "frame", "limit_64_exceeded", bytes([2 | (5 << 3)]) + chunks(frame(b"y" * 65), 64))


# ---------------------------------------------------------------------------------------------
# inflate: config byte (mode, cap), then per mode (see inflate_fuzz.cpp)

def inflate_seeds(corpus):
    text = b"".join(b"netref golden line %05d\n" % i for i in range(200))
    def mode0(name, cap, payload):
        write(corpus, "inflate", "raw_" + name, bytes([cap << 2]) + payload)
    mode0("text", 5, zlib.compress(text))
    mode0("text_cap_100", 2, zlib.compress(text))
    mode0("empty", 0, zlib.compress(b""))
    mode0("one_byte_cap_1", 1, zlib.compress(b"a"))
    mode0("bomb_8mib", 5, zlib.compress(b"\0" * (8 << 20), 9))
    mode0("bomb_exact_cap", 4, zlib.compress(b"\0" * 65536, 9))
    mode0("bomb_cap_plus_one", 4, zlib.compress(b"\0" * 65537, 9))
    mode0("trailing", 5, zlib.compress(text) + b"x")
    mode0("two_streams", 5, zlib.compress(b"ab") + zlib.compress(b"cd"))
    mode0("truncated", 5, zlib.compress(text)[:-5])
    gz = zlib.compressobj(wbits=31)
    mode0("gzip", 5, gz.compress(text) + gz.flush())
    raw = zlib.compressobj(wbits=-15)
    mode0("raw_deflate", 5, raw.compress(text) + raw.flush())
    dic = zlib.compressobj(zdict=b"netref golden line")
    mode0("preset_dict", 5, dic.compress(text) + dic.flush())
    mode0("stored_blocks", 5, zlib.compress(text, 0))
    for knobs, name in ((0x00, "threshold_0"), (0x01, "threshold_1"), (0x26, "threshold_64_level_9"), (0x03, "threshold_3000")):
        write(corpus, "inflate", "roundtrip_" + name, bytes([1 | 5 << 2, knobs]) + text[:4000])
    write(corpus, "inflate", "roundtrip_over_cap", bytes([1 | 2 << 2, 0x00]) + text[:500])
    for how in range(6):
        write(corpus, "inflate", "damaged_%d" % how, bytes([2 | 5 << 2, 0x00, how, 0, 7]) + text[:2000])


# ---------------------------------------------------------------------------------------------
# brine and exception: golden RPyC vectors

def brine_seeds(corpus):
    for name, data in golden_brine().items():
        if len(data) > 4096:
            continue
        write(corpus, "brine", "decode_" + name, b"\x00" + data)
    write(corpus, "brine", "decode_depth_1", b"\x02" + brine(((1,),)))
    write(corpus, "brine", "decode_trailing", b"\x00" + brine((1, 2)) + b"\x00")
    write(corpus, "brine", "decode_count_past_end", b"\x00\x15\xff\xff\xff\xff")
    write(corpus, "brine", "decode_str_bad_utf8", b"\x00\x08\x0b\xc3\x28")
    write(corpus, "brine", "decode_int_text_bad", b"\x00\x16\x021a")
    write(corpus, "brine", "decode_int_leading_zeros", b"\x00\x16\x1a" + b"0" * 6 + b"18446744073709551616")
    write(corpus, "brine", "encode_nested", b"\x01\x05\x0b\x03\x0e\x02\x11\x08\x05xyz\x0c\x00\x04")
    write(corpus, "brine", "encode_bigint", b"\x01\x09\x04\x14" + bytes(range(20)))


def exception_seeds(corpus):
    for name, data in golden_vinegar().items():
        write(corpus, "exception", "decode_" + name, b"\x00" + data)
    write(corpus, "exception", "decode_old_string", b"\x00" + brine("a string exception"))
    write(corpus, "exception", "decode_not_4_tuple", b"\x00" + brine((("builtins", "KeyError"), ("k",), ())))
    write(corpus, "exception", "decode_bad_attr", b"\x00" + brine((("builtins", "KeyError"), ("k",), (5,), "tb")))
    write(corpus, "exception", "built_vinegar", b"\x01\x00\x01\x00\x01\x00\x01\x02\x08\x05\x00")
    write(corpus, "exception", "built_invalid_utf8", b"\x03\x00\x00\x09\x03\xff\xfe\xfd\x00\x09\x02\xc3\x28")


# ---------------------------------------------------------------------------------------------
# session: c0, c1, then operations (see session_fuzz.cpp); raw frames of RPyC 5.x messages

OP_RAW_FRAME, OP_SERVE = 0, 10


def raw(msg):
    data = brine(msg)
    assert len(data) < 256, msg
    return bytes([OP_RAW_FRAME, len(data)]) + data


def serve():
    return bytes([OP_SERVE])


def request(seq, handler, args):
    return raw((1, seq, (handler, args)))


def obj(type_name, object_id):
    return (3, (type_name, 0, object_id))


ROOT = obj("FuzzService", 1)
WIDGET = obj("Widget", 2)


def callattr(seq, target, name, args, kwargs=()):
    boxed = tuple((1, a) if not (isinstance(a, tuple) and len(a) == 2 and a[0] in (3, 4)) else a for a in args)
    return request(seq, 8, (2, (target, (1, name), (2, boxed), (1, kwargs))))


def session_seeds(corpus):
    getroot = request(0, 3, (1, ()))
    make = callattr(1, ROOT, "make", (5,))
    seeds = {
        "getroot": getroot + serve(),
        "make_add_del": getroot + make + serve() + callattr(2, WIDGET, "add", (3,)) + serve()
        + request(3, 15, (2, (WIDGET, (1, 1)))) + serve(),
        "service_calls": getroot + callattr(1, ROOT, "add", (2, 3)) + callattr(2, ROOT, "add", (2,), (("b", 7),))
        + callattr(3, ROOT, "fail", ("boom",)) + callattr(4, ROOT, "throw_int", ()) + callattr(5, ROOT, "sum", ((1, 2, 3),))
        + callattr(6, ROOT, "keys", ((("a", 1), ("b", 2)),)) + callattr(7, ROOT, "big", (5000,)) + callattr(8, ROOT, "missing", ())
        + callattr(9, ROOT, "echo", ((1, "x", b"y"),)) + serve(),
        "widget_protocol": getroot + make + serve() + request(2, 4, (2, (WIDGET, (1, "value"))))
        + request(3, 6, (2, (WIDGET, (1, "value"), (1, 9)))) + request(4, 11, (2, (WIDGET, WIDGET, (1, "__eq__"))))
        + request(5, 17, (2, (WIDGET, (1, 3)))) + request(6, 13, (2, (WIDGET,))) + request(7, 16, (1, (("Widget", 0, 2),)))
        + request(8, 9, (2, (WIDGET,))) + request(9, 10, (2, (WIDGET,))) + request(10, 12, (2, (WIDGET,)))
        + request(11, 7, (2, (WIDGET, (1, (4,)), (1, ())))) + request(12, 5, (2, (WIDGET, (1, "value")))) + serve(),
        "callback_answered": getroot + callattr(1, ROOT, "apply", ((4, ("builtins.builtin_function_or_method", 7, 9)), 5))
        + raw((2, 0, (1, 42))) + serve(),
        "callback_raises": getroot + callattr(1, ROOT, "apply", ((4, ("builtins.builtin_function_or_method", 7, 9)), 5))
        + raw((3, 0, (("builtins", "ValueError"), ("bad",), (), "tb"))) + serve(),
        "callback_unanswered": getroot + callattr(1, ROOT, "apply", ((4, ("builtins.builtin_function_or_method", 7, 9)), 5)) + serve(),
        "hello_chain_batch": getroot + request(1, 64, (1, (b"netref", 1, ()))) + make + serve()
        + request(2, 65, (2, (ROOT, (1, ("make",)), (1, (3,)), (1, ())))) + request(3, 66, (2, (ROOT, (1, ("version",)))))
        + request(4, 67, (1, ((("Widget", 0, 2), 1),))) + serve(),
        # DEADLINE 68 around a CALLATTR (good, 0 ms, negative, str), then CANCEL 69 of a
        # finished, an unknown and a malformed seq.
        "deadline_cancel": getroot + request(1, 64, (1, (b"netref", 1, ("deadline", "cancel"))))
        + request(2, 68, (2, ((1, 1500), (1, 8), (2, (ROOT, (1, "add"), (1, (2, 3)), (1, ()))))))
        + request(3, 68, (2, ((1, 0), (1, 8), (2, (ROOT, (1, "add"), (1, (2, 3)), (1, ()))))))
        + request(4, 68, (2, ((1, -1), (1, 8), (2, (ROOT, (1, "add"), (1, (2, 3)), (1, ()))))))
        + request(5, 68, (1, ("soon", 2, ()))) + serve()
        + request(6, 69, (1, (2,))) + request(7, 69, (1, (4000000,))) + request(8, 69, (1, ("x",))) + serve(),
        "unknown_handler_and_seq": getroot + request(1, 99, (1, ())) + raw((2, 77, (1, None))) + serve(),
        "release_unknown": getroot + request(1, 15, (2, (obj("Widget", 9), (1, 1)))) + serve(),
        "close": getroot + request(1, 2, (1, ())) + serve(),
    }
    ping_v6 = b"\x01" + brine((0, (1, (1, ("abc",)))))
    write(corpus, "session", "ping_v6", bytes([0x10, 0, OP_RAW_FRAME, len(ping_v6)]) + ping_v6 + serve())
    apply_cb = callattr(1, ROOT, "apply", ((4, ("builtins.builtin_function_or_method", 7, 9)), 5))
    seeds["request_during_callback"] = getroot + apply_cb + request(2, 1, (1, ("nested",))) + raw((2, 0, (1, 42))) + serve()
    # Pipelining: kept requests (handler + 0x100), promises (5, seq) as targets, a forged one,
    # RELEASE_RESULTS (70), and calls waiting on a result whose handler calls back first.
    def kept(seq, target, name, args):
        return request(seq, 0x100 + 8, (2, (target, (1, name), (1, tuple(args)), (1, ()))))
    seeds["pipelined"] = (getroot + kept(1, ROOT, "make", (5,)) + kept(2, (5, 1), "self", ()) + callattr(3, (5, 2), "add", (3,))
                          + callattr(4, (5, 99), "add", (1,)) + request(5, 70, (1, (1, 2))) + callattr(6, (5, 1), "add", (1,))
                          + serve())
    seeds["pipelined_during_callback"] = (getroot + request(1, 0x100 + 8, (2, (ROOT, (1, "apply"),
                                          (2, ((4, ("builtins.builtin_function_or_method", 7, 9)), (1, 5))), (1, ()))))
                                          + callattr(2, (5, 1), "add", (1,)) + raw((2, 0, (1, 42))) + serve())
    for name, data in seeds.items():
        write(corpus, "session", name, bytes([0, 0]) + data)
    write(corpus, "session", "callback_depth_1", bytes([0x04, 0]) + seeds["request_during_callback"])
    write(corpus, "session", "result_too_large", bytes([0, 0x01]) + getroot + callattr(1, ROOT, "big", (5000,)) + serve())
    write(corpus, "session", "small_limits_serve_available", bytes([0x2E, 0x07]) + seeds["service_calls"])
    write(corpus, "session", "interceptor", bytes([0x40, 0]) + seeds["widget_protocol"])


# ---------------------------------------------------------------------------------------------
# lent_table: generation byte, then (op, operand) pairs (see lent_table_fuzz.cpp)

GETROOT, MAKE, SELF, ECHO, KEEP, FORGET, DUP, DROP, CALL, CLIENT_ITEM, PUMP, HELLO, CLOSE = range(13)


def lent_seeds(corpus):
    def op(code, slot=0, target=0, *extra):
        return bytes([code, slot | target << 4]) + bytes(extra)
    base = op(GETROOT, 0) + op(PUMP)
    seeds = {
        "make_and_drop": base + op(MAKE, 1, 0) + op(PUMP) + op(DROP, 1) + op(PUMP),
        "same_object_twice": base + op(MAKE, 1, 0) + op(PUMP) + op(SELF, 2, 1, 1) + op(PUMP) + op(SELF, 3, 1, 0) + op(PUMP)
        + op(DROP, 1) + op(PUMP) + op(DROP, 3) + op(PUMP),
        "pair_echo_dup": base + op(SELF, 1, 0, 2) + op(PUMP) + op(ECHO, 1, 0) + op(DUP, 4, 1) + op(PUMP) + op(DROP, 1)
        + op(ECHO, 4, 0) + op(PUMP),
        "drop_while_reply_in_flight": base + op(MAKE, 1, 0) + op(PUMP) + op(ECHO, 1, 0) + op(DROP, 1) + op(PUMP),
        "client_items_kept": base + op(CLIENT_ITEM, 0) + op(KEEP, 0, 0, 1) + op(PUMP) + op(MAKE, 2, 0) + op(PUMP)
        + op(KEEP, 3, 2, 0) + op(PUMP) + op(CLIENT_ITEM, 0x80) + op(PUMP) + op(FORGET, 0, 0) + op(PUMP),
        "hello_batches_dels": base + op(HELLO, 5) + op(CLIENT_ITEM, 1) + op(KEEP, 0, 0, 1) + op(PUMP) + op(FORGET, 0, 0) + op(PUMP),
        "fail_and_close": base + op(CALL, 8, 0) + op(CALL, 0, 0) + op(PUMP) + op(CLOSE, 1) + op(MAKE, 1, 0) + op(PUMP),
        "server_closes": base + op(MAKE, 1, 0) + op(PUMP) + op(CLOSE, 0) + op(PUMP),
    }
    for name, data in seeds.items():
        write(corpus, "lent_table", name, b"\x00" + data)
    write(corpus, "lent_table", "v6_pair_echo_dup", b"\x01" + seeds["pair_echo_dup"])


# ---------------------------------------------------------------------------------------------
# send_queue: config byte, then operations (see send_queue_fuzz.cpp)

SQ_ENQUEUE, SQ_SEND_NOWAIT, SQ_FLUSH, SQ_FLUSH_WAIT, SQ_SEND, SQ_RECV, SQ_ALLOW, SQ_BLOCK = range(8)


def sq_small(data):
    assert len(data) <= 63
    return bytes([len(data)]) + data


def sq_pattern(n):
    assert n < 1 << 14
    return bytes([0x40 | n >> 8, n & 0xFF])


def sq_kib(k):
    return bytes([0x80 | (k - 1)])


def sq_kib4(k):
    return bytes([0xC0 | (k - 1)])


SQ_HUGE = b"\xff"  # 1.5 MiB


def sq_allow(*takes):
    out = bytes([SQ_ALLOW | (len(takes) - 1) << 3])
    for t in takes:
        out += bytes([t if t < 128 else min(255, 127 + max(1, t // 512))])  # see the harness
    return out


def sq_block(n):
    return bytes([SQ_BLOCK | (n - 1) << 3])


def sq_recv(data):
    return bytes([SQ_RECV | len(data) << 3]) + data


def sq(op, payload=b""):
    return bytes([op]) + payload


def send_queue_seeds(corpus):
    # config: max_send_queue_bytes (bits 0-1: 0, 64, 4096, 8 MiB), budget (bits 2-3: none,
    # 16 KiB, 256 KiB, 2 MiB), write_timeout (bits 4-5: none, 0, 1 h), compress (bit 6), one
    # frame per write (bit 7)
    batch = b"".join(sq(SQ_ENQUEUE, sq_small(b"frame %d" % i)) for i in range(5))
    seeds = {
        "batch_then_flush": (0x03, batch + sq(SQ_FLUSH)),
        "direct_partial": (0x03, sq_allow(3) + sq(SQ_SEND_NOWAIT, sq_small(b"hello world")) + sq(SQ_FLUSH) + sq(SQ_FLUSH_WAIT)),
        "blocked_then_recv": (0x02, sq_block(2) + sq(SQ_SEND_NOWAIT, sq_pattern(1000)) + sq(SQ_ENQUEUE, sq_pattern(200))
                              + sq_recv(b"abc") + sq(SQ_FLUSH_WAIT)),
        "backpressure_recv": (0x01, sq_block(4) + sq(SQ_SEND_NOWAIT, sq_pattern(4000)) + sq_recv(b"ping") + sq(SQ_FLUSH)),
        "one_frame_per_write": (0x83, sq_allow(5, 0, 7, 100, 3) + batch + sq(SQ_FLUSH) + sq(SQ_FLUSH)
                                + sq(SQ_SEND, sq_small(b"last")) + sq(SQ_FLUSH_WAIT)),
        "compressed": (0x43, sq(SQ_ENQUEUE, sq_pattern(5000)) + sq_allow(10, 20) + sq(SQ_SEND_NOWAIT, sq_pattern(100))
                       + sq(SQ_SEND, sq_small(b"short")) + sq(SQ_FLUSH)),
        "budget_refused": (0x07, sq_block(1) + sq(SQ_SEND_NOWAIT, sq_kib4(63)) + sq(SQ_ENQUEUE, sq_kib4(16))
                           + sq(SQ_ENQUEUE, sq_small(b"x")) + sq(SQ_FLUSH_WAIT)),
        "budget_direct_partial": (0x07, sq_allow(100) + sq(SQ_SEND_NOWAIT, SQ_HUGE) + sq(SQ_FLUSH_WAIT)),
        "stall_zero_timeout": (0x13, sq_block(2) + sq(SQ_SEND_NOWAIT, sq_pattern(100)) + sq(SQ_FLUSH_WAIT)
                               + sq(SQ_ENQUEUE, sq_small(b"after"))),
        "stall_zero_timeout_recv": (0x12, sq_block(2) + sq(SQ_SEND_NOWAIT, sq_pattern(100)) + sq_recv(b"r")),
        "stall_clock": (0x23, sq_block(3) + sq(SQ_SEND_NOWAIT, sq_pattern(3000)) + sq(SQ_FLUSH) + sq_recv(b"x")
                        + sq_allow(1, 2, 3) + sq(SQ_FLUSH) + sq(SQ_FLUSH_WAIT)),
        "large_released": (0x03, sq_allow(200) + sq(SQ_SEND_NOWAIT, SQ_HUGE) + sq(SQ_FLUSH_WAIT)
                           + sq(SQ_ENQUEUE, sq_small(b"small again")) + sq(SQ_FLUSH)),
        "alternating": (0x03, b"".join(sq(SQ_SEND, sq_small(b"req %d" % i)) + sq_recv(b"rep %d" % i) for i in range(4))),
    }
    for name, (config, ops) in seeds.items():
        write(corpus, "send_queue", name, bytes([config]) + ops)


def main():
    corpus = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")
    frame_seeds(corpus)
    inflate_seeds(corpus)
    brine_seeds(corpus)
    exception_seeds(corpus)
    session_seeds(corpus)
    lent_seeds(corpus)
    send_queue_seeds(corpus)


if __name__ == "__main__":
    main()
