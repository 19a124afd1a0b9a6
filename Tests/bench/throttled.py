#!/usr/bin/env python3
"""A registry that serves one blob at a fixed rate per connection, as registries and
CDNs limit each connection: `GET /v2/`, and `HEAD`/`GET /v2/<name>/blobs/<digest>` with
single `Range` requests and `Accept-Ranges: bytes`. For Tests/bench/bench.py (ranged).

    throttled.py --port 5099 --blob big.bin --digest sha256:... --rate 16777216
"""
import argparse, http.server, re, socketserver, time

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--blob", required=True)
ap.add_argument("--digest", required=True)
ap.add_argument("--rate", type=int, required=True, help="bytes per second per connection")
a = ap.parse_args()
data = memoryview(open(a.blob, "rb").read())


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, body):
        path = self.path.split("?")[0]
        if path in ("/v2/", "/v2"):
            self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers()
            if body: self.wfile.write(b"{}")
            return
        if not path.endswith("/blobs/" + a.digest):
            self.send_response(404); self.send_header("Content-Length", "0"); self.end_headers(); return
        lo, hi, status = 0, len(data), 200
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if m:
            lo = int(m.group(1)); hi = min(len(data), int(m.group(2)) + 1) if m.group(2) else len(data); status = 206
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Docker-Content-Digest", a.digest)
        self.send_header("Content-Length", str(hi - lo))
        if status == 206: self.send_header("Content-Range", f"bytes {lo}-{hi - 1}/{len(data)}")
        self.end_headers()
        if not body: return
        # Paced: each chunk waits until the link of `rate` bytes a second would have carried it.
        chunk, start, sent = max(16384, a.rate // 64), time.monotonic(), 0
        try:
            while lo + sent < hi:
                n = min(chunk, hi - lo - sent)
                self.wfile.write(data[lo + sent:lo + sent + n]); sent += n
                delay = start + sent / a.rate - time.monotonic()
                if delay > 0: time.sleep(delay)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self): self.answer(True)
    def do_HEAD(self): self.answer(False)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


Server(("127.0.0.1", a.port), Handler).serve_forever()
