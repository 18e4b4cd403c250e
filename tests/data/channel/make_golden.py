#!/usr/bin/python3
"""Writes the frame RPyC's own Channel produces for a 5000-byte payload, for channel_tests.

Run with the system Python that has rpyc (5.3): /usr/bin/python3 make_golden.py
Outputs, next to this script:
  rpyc_payload_5000.bin  the payload
  rpyc_frame_5000.bin    every byte rpyc.core.channel.Channel.send wrote for it
"""
import os

from rpyc.core.channel import Channel


class CapturingStream:
    """The part of rpyc's Stream interface that Channel.send uses."""

    MAX_IO_CHUNK = 64000

    def __init__(self):
        self.written = bytearray()

    def write(self, data):
        self.written += data


def payload():
    # Text-like and compressible, so RPyC takes the zlib path (5000 > 3000).
    text = b"".join(b"netref golden line %05d\n" % i for i in range(400))
    return text[:5000]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    data = payload()
    assert len(data) == 5000
    stream = CapturingStream()
    Channel(stream).send(data)
    with open(os.path.join(here, "rpyc_payload_5000.bin"), "wb") as f:
        f.write(data)
    with open(os.path.join(here, "rpyc_frame_5000.bin"), "wb") as f:
        f.write(bytes(stream.written))


if __name__ == "__main__":
    main()
