"""Large HTTP/1.1 bodies from collab-stream (issue 7, delivery): complete segments and their
parts are sent from sealed memfds with sendfile, past libwebsockets' output buffer. Checks that
a slow reader with a small receive buffer gets every byte, that many concurrent clients get the
same bytes, that the parts of a segment put together are the segment, that HEAD and pipelined
keep-alive requests work, and that clients leaving mid-body disturb no one else."""
import concurrent.futures
import http.client
import socket
import time
import unittest

import llhls_check
from harness import wait_for
from test_stream import StreamTest


def raw_get(port, path, rcvbuf=None, piece=65536, pause=0.0, leave_after=None, method="GET", timeout=30):
    """One request on a fresh socket, reading the body in `piece`s with `pause` seconds between;
    (status, headers, body), or None when leaving after `leave_after` body bytes."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(timeout)
        s.connect(("127.0.0.1", port))
        s.sendall(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        return read_response(s, piece, pause, leave_after, head=method == "HEAD")
    finally:
        s.close()


def read_response(s, piece=65536, pause=0.0, leave_after=None, head=False, buf=b""):
    """Reads one response from s; returns (status, headers, body, leftover bytes)."""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            raise AssertionError("connection closed before the response head")
        buf += chunk
    head_block, _, rest = buf.partition(b"\r\n\r\n")
    lines = head_block.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if head:
        return status, headers, b"", rest
    length = int(headers["content-length"])
    body = bytearray(rest[:length])
    rest = rest[length:]
    while len(body) < length:
        if leave_after is not None and len(body) >= leave_after:
            return None
        chunk = s.recv(min(piece, length - len(body)))
        if not chunk:
            raise AssertionError(f"connection closed after {len(body)} of {length} body bytes")
        body += chunk
        if pause:
            time.sleep(pause)
    return status, headers, bytes(body), rest


class Bodies(StreamTest):
    def setUp(self):
        super().setUp()
        self.start("stream.segment_ms=1000", "stream.window_segments=30")
        self.publish("big", "anykey", seconds=60, extra_args=("-b:v", "4000k"))
        _, pl = self.wait_playlist("big", segments=2)
        # The newest complete segment still lists its parts (older ones drop them).
        self.segment = [s for s in pl.complete_segments if len(s.parts) >= 2][-1]

    def reference(self):
        """The segment and its parts by a plain client, and the segment's path."""
        code, headers, body = self.get(f"/live/big/{self.segment.uri}")
        self.assertEqual(code, 200)
        self.assertEqual(int(headers["content-length"]), len(body))
        self.assertGreater(len(body), 100000)
        return f"/live/big/{self.segment.uri}", body

    def test_slow_reader_gets_every_byte_and_parts_make_the_segment(self):
        path, want = self.reference()
        # A 16 KiB receive buffer read 8 KiB at a time with pauses: the server fills the socket,
        # waits for POLLOUT, and goes on from its own offset many times.
        status, headers, body, _ = raw_get(self.port, path, rcvbuf=16384, piece=8192, pause=0.002)
        self.assertEqual(status, 200)
        self.assertEqual(len(body), len(want))
        self.assertEqual(body, want)
        # Parts of a complete segment are slices of the same memfd (sendfile from an offset).
        parts = b""
        for p in self.segment.parts:
            code, _, data = self.get(f"/live/big/{p.uri}")
            self.assertEqual(code, 200)
            parts += data
        self.assertEqual(parts, want)

    def test_parts_of_the_open_segment_are_the_same_bytes_once_it_completes(self):
        def open_segment():
            _, pl = self.wait_playlist("big", segments=2)
            last = pl.segments[-1]
            return last if last.uri is None and last.parts else None  # parts only: still being made
        building = wait_for(open_segment, timeout=20, interval=0.05, what="a segment being made")
        early = {}
        for p in building.parts:
            status, _, body, _ = raw_get(self.port, f"/live/big/{p.uri}", rcvbuf=16384, piece=8192, pause=0.001)
            self.assertEqual(status, 200)
            early[p.uri] = body

        def completed():
            _, pl2 = self.wait_playlist("big", segments=2)
            for seg in pl2.complete_segments:
                if seg.parts and seg.parts[0].uri == building.parts[0].uri:
                    return seg
            return None
        seg = wait_for(completed, timeout=20, interval=0.2, what="the segment to complete")
        code, _, whole = self.get(f"/live/big/{seg.uri}")
        self.assertEqual(code, 200)
        later = b""
        for p in seg.parts:
            code, _, data = self.get(f"/live/big/{p.uri}")
            self.assertEqual(code, 200)
            if p.uri in early:
                self.assertEqual(data, early[p.uri])
            later += data
        self.assertEqual(later, whole)

    def test_many_concurrent_clients_and_some_leaving_mid_body(self):
        path, want = self.reference()

        def client(i):
            if i % 4 == 3:
                # Leaves after a few KiB, with most of the body still to come.
                raw_get(self.port, path, rcvbuf=8192, piece=4096, leave_after=4096)
                return None
            return raw_get(self.port, path, piece=32768 if i % 2 else 262144, pause=0.001 if i % 3 == 0 else 0)
        with concurrent.futures.ThreadPoolExecutor(max_workers=24) as pool:
            results = list(pool.map(client, range(48)))
        got = [r for r in results if r is not None]
        self.assertEqual(len(got), 36)
        for status, _, body, _ in got:
            self.assertEqual(status, 200)
            self.assertEqual(body, want)
        # Nobody was disturbed and the daemon is fine.
        self.assertTrue(self.d.alive())
        code, _, again = self.get(path)
        self.assertEqual((code, again), (200, want))

    def test_head_and_pipelined_keep_alive_requests(self):
        path, want = self.reference()
        s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        try:
            part = f"/live/big/{self.segment.parts[1].uri}"
            reqs = b""
            for method, p in (("GET", path), ("HEAD", path), ("GET", part), ("GET", path)):
                reqs += f"{method} {p} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
            s.sendall(reqs)
            leftover = b""
            out = []
            for head in (False, True, False, False):
                status, headers, body, leftover = read_response(s, head=head, buf=leftover)
                out.append((status, headers, body))
        finally:
            s.close()
        self.assertEqual(out[0][2], want)
        self.assertEqual(out[1][0], 200)
        self.assertEqual(int(out[1][1]["content-length"]), len(want))
        self.assertEqual(out[1][2], b"")
        code, _, part_body = self.get(f"/live/big/{self.segment.parts[1].uri}")
        self.assertEqual(out[2][2], part_body)
        self.assertEqual(out[3][2], want)


if __name__ == "__main__":
    unittest.main()
