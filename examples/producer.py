#!/usr/bin/python3
"""Publish changes to a syncline gateway over ZeroMQ (docs/producers.md), with pyzmq only.

    python3 examples/producer.py --endpoint tcp://127.0.0.1:5570 --producer crm-2 users 43 '{"name":"Grace"}'
    python3 examples/producer.py --endpoint tcp://127.0.0.1:5570 --producer crm-2 --file changes.jsonl

Each run sends one request (all the changes given, appended atomically) under the producer's next
sequence (asked from the gateway first), retries it with the SAME sequence on a timeout or a busy
answer, and prints the gateway's ack as JSON: {"first_offset", "last_offset", "count", "duplicate"}.
The header is msgpack (a tiny encoder below: no msgpack module needed); the body is JSON Lines
(header field format = "jsonl"), the `syncline append` line format.
Exit codes: 0 acknowledged, 1 refused or no answer, 2 bad usage.
"""
import argparse
import json
import struct
import sys
import time

import zmq  # Debian: python3-zmq


def pack(value):
    """msgpack for the few types a header holds: dict, str, int >= 0, bool."""
    if isinstance(value, bool):
        return b"\xc3" if value else b"\xc2"
    if isinstance(value, int):
        if value < 0x80:
            return bytes([value])
        return b"\xcf" + struct.pack(">Q", value)
    if isinstance(value, str):
        raw = value.encode()
        if len(raw) < 32:
            return bytes([0xA0 | len(raw)]) + raw
        return b"\xda" + struct.pack(">H", len(raw)) + raw
    if isinstance(value, dict):
        out = bytes([0x80 | len(value)])
        for k, v in value.items():
            out += pack(k) + pack(v)
        return out
    raise TypeError(type(value))


def unpack(data, pos=0):
    """Reads one msgpack value (the reply header's types); returns (value, next position)."""
    t = data[pos]
    if t < 0x80:
        return t, pos + 1
    if 0x80 <= t <= 0x8F or t in (0xDE, 0xDF):
        if t <= 0x8F:
            n, pos = t & 0x0F, pos + 1
        elif t == 0xDE:
            n, pos = struct.unpack_from(">H", data, pos + 1)[0], pos + 3
        else:
            n, pos = struct.unpack_from(">I", data, pos + 1)[0], pos + 5
        out = {}
        for _ in range(n):
            k, pos = unpack(data, pos)
            v, pos = unpack(data, pos)
            out[k] = v
        return out, pos
    if 0xA0 <= t <= 0xBF:
        n = t & 0x1F
        return data[pos + 1:pos + 1 + n].decode(), pos + 1 + n
    sizes = {0xD9: (">B", 1), 0xDA: (">H", 2), 0xDB: (">I", 4)}
    if t in sizes:
        fmt, w = sizes[t]
        n = struct.unpack_from(fmt, data, pos + 1)[0]
        start = pos + 1 + w
        return data[start:start + n].decode(), start + n
    ints = {0xCC: (">B", 1), 0xCD: (">H", 2), 0xCE: (">I", 4), 0xCF: (">Q", 8)}
    if t in ints:
        fmt, w = ints[t]
        return struct.unpack_from(fmt, data, pos + 1)[0], pos + 1 + w
    if t in (0xC2, 0xC3):
        return t == 0xC3, pos + 1
    raise ValueError("unexpected msgpack type 0x%02x" % t)


class Producer:
    def __init__(self, endpoint, producer, timeout_ms=5000):
        self.endpoint, self.producer, self.timeout_ms = endpoint, producer, timeout_ms
        self.ctx = zmq.Context.instance()
        self.sock = None
        self._connect()
        self.next_sequence = self._ask(pack({"v": 1, "type": "producer", "producer": producer}))["sequence"] + 1

    def _connect(self):
        if self.sock is not None:
            self.sock.close(linger=0)
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(self.endpoint)

    def _round_trip(self, header, body=b"\x80"):
        self.sock.send_multipart([header, body])
        if not self.sock.poll(self.timeout_ms):
            self._connect()  # A late reply must not be taken for the next attempt's.
            return None
        frames = self.sock.recv_multipart()
        return unpack(frames[0])[0]

    def _ask(self, header, deadline_s=60):
        give_up = time.monotonic() + deadline_s
        while time.monotonic() < give_up:
            reply = self._round_trip(header)
            if reply is not None:
                return reply
        raise TimeoutError("no answer from the gateway at " + self.endpoint)

    def publish(self, changes, deadline_s=60):
        """Sends `changes` (dicts) as one request; retries with the same sequence until acked."""
        seq = self.next_sequence
        header = pack({"v": 1, "type": "publish", "producer": self.producer, "sequence": seq, "format": "jsonl"})
        body = "".join(json.dumps(c, separators=(",", ":")) + "\n" for c in changes).encode()
        give_up, pause = time.monotonic() + deadline_s, 0.05
        while time.monotonic() < give_up:
            reply = self._round_trip(header, body)
            if reply is None or reply.get("type") in ("busy", "failed"):
                if reply is not None and reply.get("type") == "busy":
                    pause = max(pause, reply.get("retry_after_ms", 100) / 1000)
                time.sleep(pause)
                pause = min(pause * 2, 1.0)
                continue
            self.next_sequence = seq + 1
            if reply.get("type") == "published":
                return reply
            raise ValueError("refused%s: %s" % (
                " record %d" % reply["index"] if "index" in reply else "", reply.get("reason", "")))
        raise TimeoutError("gave up: no ack from the gateway at " + self.endpoint + " (retry with the same sequence)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--endpoint", required=True, help="the gateway's --zmq-listen endpoint")
    ap.add_argument("--producer", required=True, help="producer id: one per producer process")
    ap.add_argument("--file", help="JSON Lines file of changes (instead of COLLECTION KEY VALUE)")
    ap.add_argument("change", nargs="*", help="COLLECTION KEY VALUE-JSON")
    args = ap.parse_args()
    if args.file:
        with open(args.file) as f:
            changes = [json.loads(line) for line in f if line.strip()]
    elif len(args.change) == 3:
        changes = [{"collection": args.change[0], "key": args.change[1], "value": json.loads(args.change[2])}]
    else:
        ap.error("give COLLECTION KEY VALUE-JSON or --file FILE")
    try:
        ack = Producer(args.endpoint, args.producer).publish(changes)
    except (ValueError, TimeoutError) as e:
        print("producer.py: error: %s" % e, file=sys.stderr)
        return 1
    print(json.dumps({"first_offset": ack["first"], "last_offset": ack["last"], "count": ack["count"],
                      "duplicate": ack["duplicate"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
