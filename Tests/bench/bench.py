#!/usr/bin/env python3
"""Strata's benchmark: Strata side by side with nginx (sendfile) and CNCF distribution
(Debian's docker-registry) in proxy mode, on loopback, in one run.

It starts everything itself: a plain docker-registry as the upstream, a second one in
proxy mode (the peer), nginx serving the same blob files, and the release build of
Strata. It prints a table and writes JSON. Run it through Tests/bench.sh.
"""
import argparse, hashlib, json, os, random, shutil, signal, socket, statistics, subprocess, sys, tempfile, threading, time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def wait_http(url, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read(); return
        except urllib.error.HTTPError:
            return
        except Exception:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not answer")


class Proc:
    def __init__(self, name, args, log):
        self.name, self.log = name, log
        self.p = subprocess.Popen(args, stdout=open(log, "ab"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try: self.p.wait(10)
            except subprocess.TimeoutExpired: self.p.kill(); self.p.wait()


def registry_config(path, port, data, proxy=None):
    cfg = f"""version: 0.1
log:
  level: error
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: {data}
http:
  addr: 127.0.0.1:{port}
"""
    if proxy:
        cfg += f"proxy:\n  remoteurl: {proxy}\n"
    open(path, "w").write(cfg)


def blob_gets(log, digest, agent=None):
    """Upstream GETs of a blob and the bytes they sent, from a registry access log;
    with `agent`, only those whose User-Agent starts with it."""
    n, total = 0, 0
    for line in open(log, errors="replace"):
        if f'"GET /v2/' in line and f"/blobs/{digest}" in line and (agent is None or f'"{agent}' in line):
            try:
                status_bytes = line.split('" ', 1)[1].split()
                n += 1; total += int(status_bytes[1])
            except Exception:
                pass
    return n, total


def push_blob(base, repo, path, digest):
    req = urllib.request.Request(f"{base}/v2/{repo}/blobs/uploads/", method="POST")
    loc = urllib.request.urlopen(req).headers["Location"]
    if not loc.startswith("http"): loc = base + loc
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        req = urllib.request.Request(f"{loc}{'&' if '?' in loc else '?'}digest={digest}", data=f, method="PUT",
                                     headers={"Content-Length": str(size), "Content-Type": "application/octet-stream"})
        urllib.request.urlopen(req).read()


def push_manifest(base, repo, ref, body, media):
    req = urllib.request.Request(f"{base}/v2/{repo}/manifests/{ref}", data=body, method="PUT", headers={"Content-Type": media})
    urllib.request.urlopen(req).read()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""): h.update(chunk)
    return "sha256:" + h.hexdigest()


def make_random(path, size):
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 8 << 20); f.write(os.urandom(n)); left -= n


def make_tar_layer(path, size):
    """An uncompressed tar of text files, like a layer of logs, sources and configs."""
    rnd = random.Random(42)
    words = ["GET", "POST", "/api/v1/items", "200", "404", "user", "session", "cache", "miss", "hit", "strata",
             "layer", "alpine", "debian", "INFO", "WARN", "ERROR", "request", "completed", "duration_ms"]
    import tarfile, io
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        n = 0
        while os.path.getsize(path) < size:
            lines = []
            for _ in range(20000):
                lines.append(f"2026-11-22T{rnd.randrange(24):02d}:{rnd.randrange(60):02d}:{rnd.randrange(60):02d}Z "
                             + " ".join(rnd.choice(words) for _ in range(8)) + f" id={rnd.getrandbits(32):08x}\n")
            data = "".join(lines).encode()
            info = tarfile.TarInfo(f"var/log/app/{n:05d}.log"); info.size = len(data)
            tar.addfile(info, io.BytesIO(data)); n += 1


def curl_get(url, headers=()):
    args = ["curl", "-s", "-o", "/dev/null", "-w", "%{size_download} %{time_total} %{http_code}"]
    for h in headers: args += ["-H", h]
    out = subprocess.run(args + [url], capture_output=True, text=True).stdout.split()
    return int(out[0]), float(out[1]), int(out[2])


def parallel_gets(url, n, headers=()):
    results = [None] * n
    def one(i): results[i] = curl_get(url, headers)
    start = time.time()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads: t.start()
    for t in threads: t.join()
    return sum(r[0] for r in results), time.time() - start, [r[2] for r in results]


def hey(url, n, c=32, head=False, accept=None):
    """Requests per second with `hey` (HTTP/1.1 keep-alive, HEAD capable), non-200 answers,
    and the cores hey itself used (its CPU time over the wall time)."""
    n = max(c, n - n % c)
    args = ["hey", "-n", str(n), "-c", str(c)]
    if head: args += ["-m", "HEAD"]
    if accept: args += ["-H", f"Accept: {accept}"]
    import resource
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.time()
    out = subprocess.run(args + [url], capture_output=True, text=True).stdout
    after, wall = resource.getrusage(resource.RUSAGE_CHILDREN), time.time() - start
    cores = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / wall
    rps, ok = None, 0
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("Requests/sec:"): rps = float(line.split()[1])
        if line.startswith("[200]"): ok = int(line.split()[1])
    if rps is None: raise SystemExit(f"hey failed on {url}: {out[-500:]}")
    return rps, n - ok, cores


def wrk(url, seconds=5, c=32, threads=1, accept=None, script=None):
    """Requests per second and bytes per second with `wrk` (HTTP/1.1 keep-alive, written in
    C, so it takes less of the shared cores than hey), errors (non-2xx answers and socket
    errors), and the cores wrk itself used."""
    args = ["wrk", f"-t{threads}", f"-c{c}", f"-d{seconds}s", "--timeout", "10s"]
    if accept: args += ["-H", f"Accept: {accept}"]
    if script: args += ["-s", script]
    import resource
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.time()
    run = subprocess.run(args + [url], capture_output=True, text=True)
    out = run.stdout
    after, wall = resource.getrusage(resource.RUSAGE_CHILDREN), time.time() - start
    cores = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / wall
    rps, bps, errors = None, None, 0
    units = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("Requests/sec:"): rps = float(line.split()[1])
        if line.startswith("Transfer/sec:"):
            value = line.split()[1]
            unit = next(u for u in ["GB", "MB", "KB", "B"] if value.endswith(u))
            bps = float(value[:-len(unit)]) * units[unit]
        if line.startswith("Non-2xx or 3xx responses:"): errors += int(line.split()[-1])
        if line.startswith("Socket errors:"):
            errors += sum(int(part.split()[-1]) for part in line.split(":", 1)[1].split(","))
    if rps is None: raise SystemExit(f"wrk failed on {url}: {out[-500:]} {run.stderr[-500:]}")
    return rps, errors, cores, bps


def cpu_seconds(pid):
    """User and system CPU seconds a process (all its threads) has used so far."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"): return int(line.split()[1]) / 1024
    return 0


def med(values): return statistics.median(values)


def scaleout(a, work, upstream, big, big_digest, start_strata_with):
    """Two replicas on one bucket: upstream GETs when 2 x 16 clients pull one cold blob at
    once; a fresh replica serving the 500 MiB blob from the bucket against a direct GET
    of the same object; a cold 500 MiB blob through a replica against a single node."""
    store_dir = f"{work}/object-store"
    store_port = free_port() + 100
    subprocess.run([os.path.join(ROOT, "Tests/object-store.sh"), "start", store_dir, str(store_port)], check=True, capture_output=True,
                   env=dict(os.environ, STORE="bluestore"))
    env = dict(line.replace("export ", "", 1).strip().split("=", 1) for line in open(f"{store_dir}/env") if line.startswith("export"))
    endpoint, key, secret = env["S3_ENDPOINT"], env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"] = key, secret
    out, procs = {}, []

    def replica(name, bucket):
        port = free_port()
        cfg = f"{work}/{name}.yml"
        open(cfg, "w").write(f'store: {{ s3: {{ endpoint: "{endpoint}", bucket: {bucket} }} }}\n')
        p = start_strata_with(name, port, f"{work}/cache-{name}", ["--config", cfg])
        wait_http(f"http://127.0.0.1:{port}/v2/")
        procs.append(p)
        return f"http://127.0.0.1:{port}"
    try:
        # 2 replicas x 16 clients, one cold 64 MiB blob.
        mid = os.path.join(work, "mid.bin"); make_random(mid, 64 << 20); mid_digest = sha256_file(mid)
        push_blob(upstream, "library/bench", mid, mid_digest)
        r1, r2 = replica("replica-1", "bench-race"), replica("replica-2", "bench-race")
        path = f"/v2/library/bench/blobs/{mid_digest}"
        before = blob_gets(f"{work}/up.log", mid_digest, "strata/")[0]
        results = [None] * 32
        def one(i): results[i] = curl_get((r1 if i % 2 == 0 else r2) + path)
        threads = [threading.Thread(target=one, args=(i,)) for i in range(32)]
        start = time.time()
        for t in threads: t.start()
        for t in threads: t.join()
        elapsed = time.time() - start
        time.sleep(0.3)
        out["race_2x16_upstream_gets"] = blob_gets(f"{work}/up.log", mid_digest, "strata/")[0] - before
        out["race_2x16_all_whole"] = all(r[2] == 200 and r[0] == 64 << 20 for r in results)
        out["race_2x16_seconds"] = elapsed
        for p in procs: p.stop()
        procs.clear()
        # The 500 MiB blob: cold through a replica (empty bucket), then a fresh replica serving it from the bucket.
        cold, fresh, direct = [], [], []
        for run in range(a.runs):
            bucket = f"bench-big-{run}"
            shutil.rmtree(f"{work}/cache-replica-a", ignore_errors=True); shutil.rmtree(f"{work}/cache-replica-b", ignore_errors=True)
            subprocess.run(["sync"])
            ra = replica("replica-a", bucket)
            size, t, code = curl_get(ra + f"/v2/library/bench/blobs/{big_digest}"); assert code == 200 and size == a.blob_mib << 20
            cold.append(t)
            # The upload to the bucket follows the last byte: wait for it, so that the fresh
            # replica reads from the bucket rather than from the replica that filled.
            deadline = time.time() + 60
            while direct_s3(endpoint, bucket, big_digest, key, secret, head=True)[2] != 200 and time.time() < deadline:
                time.sleep(0.2)
            rb = replica("replica-b", bucket)
            size, t, code = curl_get(rb + f"/v2/library/bench/blobs/{big_digest}"); assert code == 200 and size == a.blob_mib << 20
            fresh.append(size / t / 2**20)
            # The same object straight from the store, signed by curl.
            size, t, code = direct_s3(endpoint, bucket, big_digest, key, secret)
            assert code == 200 and size == a.blob_mib << 20
            direct.append(size / t / 2**20)
            for p in procs: p.stop()
            procs.clear()
        out["cold_through_replica_seconds"] = med(cold)
        out["cold_through_replica_runs"] = cold
        out["fresh_replica_from_store_mib_s"] = med(fresh)
        out["direct_store_get_mib_s"] = med(direct)
        out["fresh_replica_runs"] = fresh
        out["direct_store_runs"] = direct
    finally:
        for p in procs: p.stop()
        subprocess.run([os.path.join(ROOT, "Tests/object-store.sh"), "stop", store_dir], capture_output=True)
    return out


def parallel_ranges(url, size, n):
    """n clients at once, each GETting its own n-th of the blob with Range; the wall time."""
    part = size // n
    results = [None] * n
    def one(i):
        hi = size - 1 if i == n - 1 else (i + 1) * part - 1
        results[i] = curl_get(url, [f"Range: bytes={i * part}-{hi}"])
    start = time.time()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads: t.start()
    for t in threads: t.join()
    assert all(r[2] == 206 for r in results) and sum(r[0] for r in results) == size, results
    return time.time() - start


def ranged_cold(a, work):
    size = a.ranged_mib << 20
    rate = a.ranged_rate_mib << 20
    blob = os.path.join(work, "ranged.bin"); make_random(blob, size); digest = sha256_file(blob)
    port = free_port()
    server = Proc("throttled", [sys.executable, os.path.join(ROOT, "Tests/bench/throttled.py"), "--port", str(port), "--blob", blob,
                                "--digest", digest, "--rate", str(rate)], f"{work}/throttled.log")
    upstream = f"http://127.0.0.1:{port}"
    path = f"/v2/library/ranged/blobs/{digest}"
    try:
        wait_http(upstream + "/v2/")
        direct, through, whole, single = [], [], [], []
        for run in range(-1, a.runs):
            direct_t = parallel_ranges(upstream + path, size, 8)
            times = {}
            for label, connections, client in [("ranged", 8, "ranges"), ("ranged_whole", 8, "whole"), ("single", 1, "ranges")]:
                cache = f"{work}/cache-ranged-{label}-{run}"
                cfg = f"{work}/ranged-{label}.yml"
                open(cfg, "w").write(f"limits:\n  ranged_fill_connections: {connections}\n")
                sport = free_port()
                p = Proc("strata-ranged", [a.strata, "serve", "--config", cfg, "--listen", f"127.0.0.1:{sport}", "--admin-listen", "off",
                                           "--cache-dir", cache, "--canonical", upstream, "--log-level", "error"], f"{work}/strata-ranged.log")
                wait_http(f"http://127.0.0.1:{sport}/v2/")
                if client == "ranges":
                    times[label] = parallel_ranges(f"http://127.0.0.1:{sport}" + path, size, 8)
                else:
                    got, t, code = curl_get(f"http://127.0.0.1:{sport}" + path); assert code == 200 and got == size
                    times[label] = t
                p.stop()
                shutil.rmtree(cache, ignore_errors=True)
            if run >= 0:
                direct.append(direct_t); through.append(times["ranged"]); whole.append(times["ranged_whole"]); single.append(times["single"])
        return {"blob_mib": a.ranged_mib, "per_connection_mib_s": a.ranged_rate_mib,
                "direct_8_ranges_seconds": med(direct), "strata_8_ranges_seconds": med(through),
                "strata_whole_get_seconds": med(whole), "strata_one_connection_8_ranges_seconds": med(single),
                "ratio": med(through) / med(direct),
                "direct_runs": direct, "strata_runs": through, "strata_whole_runs": whole, "strata_one_connection_runs": single}
    finally:
        server.stop()


def many_clients(a, work, upstream, start_strata, strata, nginx):
    """1,000 keep-alive clients at once, each fetching cached blobs of 1-10 MiB picked at
    random, from Strata and from nginx serving the same files: throughput, errors, and
    Strata's peak RSS."""
    rnd = random.Random(11)
    blobs = []
    for i in range(a.many_blobs):
        path = f"{work}/www/many-{i}.bin"
        make_random(path, rnd.randrange(1 << 20, 10 << 20)); os.chmod(path, 0o644)
        digest = sha256_file(path)
        push_blob(upstream, "library/many", path, digest)
        blobs.append((path, digest))

    def script(name, paths):
        lua = f"{work}/{name}.lua"
        open(lua, "w").write("local paths = {" + ",".join(f'"{p}"' for p in paths) + "}\n"
                             "local requests = {}\n"
                             "init = function(args) for i, p in ipairs(paths) do requests[i] = wrk.format(\"GET\", p) end end\n"
                             "request = function() return requests[math.random(#requests)] end\n")
        return lua
    strata_lua = script("many-strata", [f"/v2/library/many/blobs/{d}" for _, d in blobs])
    nginx_lua = script("many-nginx", [f"/many-{i}.bin" for i in range(len(blobs))])
    p = start_strata(f"{work}/cache-many")
    try:
        for _, digest in blobs:
            assert curl_get(f"{strata}/v2/library/many/blobs/{digest}")[2] == 200
        subprocess.run(["sync"])
        rss_before = peak_rss_mib(p.p.pid)
        runs = {"strata": [], "nginx": []}
        for _ in range(a.runs):
            for name, base, lua in [("strata", strata, strata_lua), ("nginx", nginx, nginx_lua)]:
                rps, errors, cores, bps = wrk(base + "/", seconds=10, c=a.many_clients, threads=2, script=lua)
                runs[name].append((bps / 2**20, errors, rps))
        rss = peak_rss_mib(p.p.pid)
    finally:
        p.stop()
    out = {"clients": a.many_clients, "blobs": len(blobs), "strata_peak_rss_mib": rss, "strata_rss_after_warmup_mib": rss_before}
    for name, rs in runs.items():
        out[name] = {"mib_s": med([r[0] for r in rs]), "errors": sum(r[1] for r in rs), "req_per_s": med([r[2] for r in rs]),
                     "runs_mib_s": [r[0] for r in rs]}
    out["ratio"] = out["strata"]["mib_s"] / out["nginx"]["mib_s"]
    return out


def scale(a, work):
    """How cost grows with the cache: synthetic caches of N blobs and N/10 tags
    (Tests/bench/synthetic_cache.py); for each, start-up to serving, RSS, the rate of
    manifest hits by tag over many tags, and eviction of 10% of the cache while serving."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import sqlite3, synthetic_cache
    oci = "application/vnd.oci.image.manifest.v1+json"
    out = []

    def serve(cache, port, config=None):
        args = [a.strata, "serve", "--listen", f"127.0.0.1:{port}", "--admin-listen", "off", "--cache-dir", cache,
                "--canonical", "http://127.0.0.1:9", "--log-level", "error"] + (["--config", config] if config else [])
        start = time.time()
        p = Proc("strata-scale", args, f"{work}/strata-scale.log")
        deadline = start + 600
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1).read(); break
            except Exception:
                if p.p.poll() is not None: raise SystemExit(f"strata exited on {cache}: see {work}/strata-scale.log")
                time.sleep(0.01)
        return p, time.time() - start

    def stored(cache):
        db = sqlite3.connect(f"file:{cache}/index.sqlite?mode=ro", uri=True)
        try: return db.execute("SELECT COALESCE(SUM(stored_size), 0), COUNT(*) FROM blobs").fetchone()
        finally: db.close()

    for n in [int(x) for x in a.scale_blobs.split(",")]:
        cache = f"{work}/scale-{n}"
        port = free_port()
        p, _ = serve(cache, port)   # creates the index
        p.stop()
        made = time.time()
        tags = synthetic_cache.make(cache, n)
        made = time.time() - made
        subprocess.run(["sync"])
        rnd = random.Random(5)
        picked = rnd.sample(tags, min(len(tags), 2000))
        lua = f"{work}/scale-{n}.lua"
        open(lua, "w").write("local paths = {" + ",".join('"/v2/%s/manifests/%s"' % tuple(t.split(":")) for t in picked) + "}\n"
                             "local requests = {}\n"
                             f"init = function(args) for i, p in ipairs(paths) do requests[i] = wrk.format(\"GET\", p, {{Accept = \"{oci}\"}}) end end\n"
                             "request = function() return requests[math.random(#requests)] end\n")
        p, startup = serve(cache, port)
        rss_start = peak_rss_mib(p.p.pid)
        # The first pass reads each tag from the index and disk; the measured ones hit memory.
        wrk(f"http://127.0.0.1:{port}/", seconds=2, script=lua)
        runs = [wrk(f"http://127.0.0.1:{port}/", seconds=5, script=lua) for _ in range(a.runs)]
        rss = peak_rss_mib(p.p.pid)
        p.stop()
        # Eviction of 10% while clients keep asking.
        # Eviction goes down to 90% of the bound: a bound a byte below what is stored
        # removes 10% of the bytes, the least recently used first.
        total, count = stored(cache)
        bound = total - 1
        config = f"{work}/scale-{n}.yml"
        open(config, "w").write(f"cache:\n  max_size: {bound}B\n")
        p, evict_startup = serve(cache, port, config)
        served = time.time()
        evicted_at, during = None, []
        while time.time() - served < 300:
            if p.p.poll() is not None: raise SystemExit(f"strata exited while evicting: see {work}/strata-scale.log")
            during.append(wrk(f"http://127.0.0.1:{port}/", seconds=1, script=lua)[0])
            if stored(cache)[0] <= bound * 0.9:
                evicted_at = time.time() - served; break
        left = stored(cache)
        evict_rss = peak_rss_mib(p.p.pid)
        p.stop()
        row = {"blobs": n, "tags": len(tags), "made_seconds": made, "startup_seconds": startup, "rss_after_start_mib": rss_start,
               "peak_rss_mib": rss, "manifest_hits_per_s": med([r[0] for r in runs]), "errors": sum(r[1] for r in runs),
               "eviction_seconds": evicted_at, "eviction_startup_seconds": evict_startup, "eviction_peak_rss_mib": evict_rss,
               "hits_per_s_while_evicting": med(during) if during else None,
               "evicted_blobs": count - left[1], "stored_bytes": total}
        print(f"  {n} blobs: start-up {startup:.2f} s, RSS {rss:.0f} MiB, {row['manifest_hits_per_s']:.0f} hits/s, "
              f"10% evicted in {evicted_at if evicted_at is None else round(evicted_at, 1)} s", flush=True)
        out.append(row)
        shutil.rmtree(cache, ignore_errors=True)
    return out


def direct_s3(endpoint, bucket, digest, key, secret, head=False):
    """A GET (or HEAD) of a blob's object straight from the store, signed with SigV4 by curl."""
    args = ["curl", "-s", "-o", "/dev/null", "-w", "%{size_download} %{time_total} %{http_code}"] + (["-I"] if head else []) + [
            "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", f"{key}:{secret}", "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
            f"{endpoint}/{bucket}/blobs/sha256/{digest[7:]}"]
    out = subprocess.run(args, capture_output=True, text=True).stdout.split()
    return int(out[0]), float(out[1]), int(out[2])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--strata", default=os.path.join(ROOT, ".build/release/strata"))
    ap.add_argument("--blob-mib", type=int, default=500)
    ap.add_argument("--tar-mib", type=int, default=200)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", default=os.path.join(ROOT, "bench-results.json"))
    ap.add_argument("--baseline", default=None,
                    help="another strata binary (an older commit) measured in the same run, as strata_before")
    ap.add_argument("--ranged-mib", type=int, default=128, help="blob size for the ranged section")
    ap.add_argument("--ranged-rate-mib", type=int, default=16, help="the throttled upstream's MiB/s per connection")
    ap.add_argument("--many-clients", type=int, default=1000, help="keep-alive clients in the many section")
    ap.add_argument("--many-blobs", type=int, default=24, help="cached blobs of 1-10 MiB the many section's clients pick from")
    ap.add_argument("--scale-blobs", default="1000,10000,100000,1000000", help="cache sizes (blobs) of the scale section")
    ap.add_argument("--only", default="cold,concurrent,hit,manifests,many,zstd,scaleout,ranged,scale",
                    help="comma-separated sections to run (default: all of them)")
    a = ap.parse_args()
    only = set(a.only.split(","))

    work = tempfile.mkdtemp(prefix="strata-bench-")
    os.chmod(work, 0o755)  # nginx's workers read the blob files as their own user
    procs = []
    results = {"machine": {"cores": os.cpu_count(), "kernel": os.uname().release}, "runs": a.runs, "figures": {}}
    fig = results["figures"]
    try:
        print(f"preparing blobs in {work} ...", flush=True)
        big = os.path.join(work, "big.bin"); make_random(big, a.blob_mib << 20); big_digest = sha256_file(big)
        tarl = os.path.join(work, "layer.tar"); make_tar_layer(tarl, a.tar_mib << 20 if "zstd" in only else 1024); tar_digest = sha256_file(tarl)
        config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [big_digest]}}).encode()
        config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
        manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": len(config)},
                               "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": big_digest, "size": os.path.getsize(big)}]},
                              separators=(",", ":")).encode()
        manifest_digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
        oci = "application/vnd.oci.image.manifest.v1+json"

        up_port, proxy_port, strata_port, nginx_port, before_port = free_port(), free_port(), free_port(), free_port(), free_port()
        registry_config(f"{work}/up.yml", up_port, f"{work}/up-data")
        procs.append(Proc("upstream", ["docker-registry", "serve", f"{work}/up.yml"], f"{work}/up.log"))
        upstream = f"http://127.0.0.1:{up_port}"; wait_http(upstream + "/v2/")
        cfgpath = f"{work}/cfg.json"
        open(cfgpath, "wb").write(config)
        for path, digest in [(big, big_digest), (tarl, tar_digest), (cfgpath, config_digest)]:
            push_blob(upstream, "library/bench", path, digest)
        push_manifest(upstream, "library/bench", "1", manifest, oci)

        registry_config(f"{work}/proxy.yml", proxy_port, f"{work}/proxy-data", proxy=upstream)
        proxy = f"http://127.0.0.1:{proxy_port}"
        proxy_p = None
        def start_proxy():
            nonlocal proxy_p
            proxy_p = Proc("proxy", ["docker-registry", "serve", f"{work}/proxy.yml"], f"{work}/proxy.log")
            procs.append(proxy_p)
            wait_http(proxy + "/v2/")
        start_proxy()

        os.makedirs(f"{work}/www", exist_ok=True)
        os.link(big, f"{work}/www/big.bin")
        os.chmod(big, 0o644)
        open(f"{work}/www/manifest.json", "wb").write(manifest)
        open(f"{work}/nginx.conf", "w").write(f"""daemon off; worker_processes 2; pid {work}/nginx.pid; error_log {work}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{ access_log off; sendfile on; tcp_nopush on; keepalive_requests 1000000;
  server {{ listen 127.0.0.1:{nginx_port}; root {work}/www; }} }}
""")
        procs.append(Proc("nginx", ["nginx", "-c", f"{work}/nginx.conf"], f"{work}/nginx.log"))
        nginx = f"http://127.0.0.1:{nginx_port}"; wait_http(nginx + "/manifest.json")

        def start_strata(cache, before=False):
            binary, port = (a.baseline, before_port) if before else (a.strata, strata_port)
            p = Proc("strata-before" if before else "strata", [binary, "serve", "--listen", f"127.0.0.1:{port}", "--admin-listen", "off",
                                "--cache-dir", cache, "--canonical", upstream, "--log-level", "error"], f"{work}/strata{'-before' if before else ''}.log")
            wait_http(f"http://127.0.0.1:{port}/v2/")
            return p
        strata = f"http://127.0.0.1:{strata_port}"
        strata_before = f"http://127.0.0.1:{before_port}"
        blob_path = f"/v2/library/bench/blobs/{big_digest}"
        warm = None  # a Strata that holds the blob and the manifest
        warm_before = None  # the same, of the baseline binary

        def warm_strata():
            nonlocal warm, warm_before
            if warm is None:
                warm = start_strata(f"{work}/cache-warm")
                curl_get(strata + blob_path)
            if a.baseline and warm_before is None:
                warm_before = start_strata(f"{work}/cache-warm-before", before=True)
                curl_get(strata_before + blob_path)
            return warm

        # 1. Cold 500 MiB blob: through Strata vs straight from the upstream; upstream bytes.
        if "cold" in only:
            print("cold blob ...", flush=True)
            cold, direct, cold_before, cold_cpu = [], [], [], []
            for run in range(-1, a.runs):
                # Run -1 is a warm-up, not counted. Each run deletes the last one's cache and
                # starts with the disk idle. On a VM with free page reporting, memory that
                # stayed free for a few seconds costs a host fault per page when touched
                # again (here `dd` into a new file: 0.7 against 3.7 GB/s); a fill writes
                # 500 MiB into new page cache, so a run that lands on such memory measures
                # the hypervisor (about 1.7 s instead of 0.7 s).
                shutil.rmtree(f"{work}/cache-cold-{run - 1}", ignore_errors=True)
                subprocess.run(["sync"])
                p = start_strata(f"{work}/cache-cold-{run}")
                before = blob_gets(f"{work}/up.log", big_digest, "strata/")
                cpu_before = cpu_seconds(p.p.pid)
                size, t, code = curl_get(strata + blob_path); assert code == 200 and size == a.blob_mib << 20
                cpu = cpu_seconds(p.p.pid) - cpu_before
                after = blob_gets(f"{work}/up.log", big_digest, "strata/")
                p.stop()
                _, direct_t, _ = curl_get(upstream + blob_path)
                if a.baseline:
                    shutil.rmtree(f"{work}/cache-cold-before-{run - 1}", ignore_errors=True)
                    subprocess.run(["sync"])
                    pb = start_strata(f"{work}/cache-cold-before-{run}", before=True)
                    _, before_t, _ = curl_get(strata_before + blob_path)
                    pb.stop()
                    if run >= 0: cold_before.append(before_t)
                if run >= 0: cold.append(t); direct.append(direct_t); cold_cpu.append(cpu / (a.blob_mib / 1024))
            time.sleep(0.2)
            fig["cold_blob_seconds"] = {"strata": med(cold), "direct": med(direct), "ratio": med(cold) / med(direct),
                                        "strata_cpu_seconds_per_gib": med(cold_cpu), "strata_cpu_runs": cold_cpu,
                                        "strata_runs": cold, "direct_runs": direct,
                                        "upstream_gets_last_run": after[0] - before[0],
                                        "upstream_bytes_per_cold_blob": (after[1] - before[1]) / (a.blob_mib << 20)}
            if cold_before:
                fig["cold_blob_seconds"]["strata_before"] = med(cold_before)
                fig["cold_blob_seconds"]["strata_before_runs"] = cold_before
                shutil.rmtree(f"{work}/cache-cold-before-{a.runs - 1}", ignore_errors=True)
            # distribution's second fetch of a blob may come a while after the first.
            agent_lines = lambda: blob_gets(f"{work}/up.log", big_digest)[1] - blob_gets(f"{work}/up.log", big_digest, "strata/")[1]
            before_proxy = agent_lines()
            shutil.rmtree(f"{work}/cache-cold-{a.runs - 1}", ignore_errors=True)  # the same footing as Strata's runs
            # distribution in proxy mode, as many rounds, each on an empty proxy store (a
            # fresh proxy process), the CPU it took from its process's counters.
            proxy_times, proxy_cpu, proxy_bytes = [], [], []
            for run in range(a.runs):
                proxy_p.stop()
                shutil.rmtree(f"{work}/proxy-data", ignore_errors=True)
                subprocess.run(["sync"])
                start_proxy()
                before_proxy = agent_lines()
                cpu_before = cpu_seconds(proxy_p.p.pid)
                size, t, code = curl_get(proxy + blob_path); assert code == 200
                proxy_cpu.append((cpu_seconds(proxy_p.p.pid) - cpu_before) / (a.blob_mib / 1024))
                deadline = time.time() + 30
                while agent_lines() - before_proxy < 2 * (a.blob_mib << 20) and time.time() < deadline:
                    time.sleep(0.2)
                proxy_bytes.append(agent_lines() - before_proxy)
                proxy_times.append(t)
            fig["cold_blob_seconds"]["distribution_proxy"] = med(proxy_times)
            fig["cold_blob_seconds"]["distribution_proxy_runs"] = proxy_times
            fig["cold_blob_seconds"]["distribution_proxy_cpu_seconds_per_gib"] = med(proxy_cpu)
            fig["cold_blob_seconds"]["proxy_ratio"] = med(cold) / med(proxy_times)
            fig["cold_blob_seconds"]["distribution_upstream_bytes_per_cold_blob"] = med(proxy_bytes) / (a.blob_mib << 20)

        # 2. 32 concurrent cold pulls of the blob: upstream GETs and Strata's peak RSS.
        if "concurrent" in only:
            print("32 concurrent cold pulls ...", flush=True)
            subprocess.run(["sync"])
            p = warm = start_strata(f"{work}/cache-32")
            before = blob_gets(f"{work}/up.log", big_digest, "strata/")
            total, t, codes = parallel_gets(strata + blob_path, 32)
            time.sleep(0.3)
            after = blob_gets(f"{work}/up.log", big_digest, "strata/")
            rss = 0
            for line in open(f"/proc/{p.p.pid}/status"):
                if line.startswith("VmHWM:"): rss = int(line.split()[1]) / 1024
            fig["concurrent_cold_32"] = {"upstream_gets": after[0] - before[0], "upstream_bytes_per_blob": (after[1] - before[1]) / (a.blob_mib << 20), "all_ok": all(c == 200 for c in codes) and total == 32 * (a.blob_mib << 20),
                                         "seconds": t, "strata_peak_rss_mib": rss}

        # 3. Cache-hit GET of the blob, 1 and 4 streams (Strata warm from step 2).
        if "hit" in only:
            print("cache-hit throughput ...", flush=True)
            warm_strata()
            curl_get(proxy + blob_path)
            # distribution may fetch the blob a second time in the background: let it finish.
            others = lambda: blob_gets(f"{work}/up.log", big_digest)[1] - blob_gets(f"{work}/up.log", big_digest, "strata/")[1]
            last, deadline = -1, time.time() + 30
            while others() != last and time.time() < deadline:
                last = others(); time.sleep(1)
            hit = {}
            # Dirty pages from the fills are written back first, and the peers take turns in
            # every round, so background writeback or a noisy neighbour hits all of them alike.
            subprocess.run(["sync"])
            peers = [("strata", strata, blob_path), ("nginx", nginx, "/big.bin"), ("distribution_proxy", proxy, blob_path)]
            if a.baseline: peers.append(("strata_before", strata_before, blob_path))
            runs = {name: ([], []) for name, _, _ in peers}
            for _ in range(a.runs):
                for name, base, path in peers:
                    runs[name][0].append((lambda r: r[0] / r[1] / 2**20)(curl_get(base + path)))
                for name, base, path in peers:
                    runs[name][1].append((lambda r: r[0] / r[1] / 2**20)(parallel_gets(base + path, 4)))
            for name, (one, four) in runs.items():
                hit[name] = {"one_stream_mib_s": med(one), "four_streams_mib_s": med(four), "one_stream_runs": one, "four_streams_runs": four}
            fig["cache_hit_blob"] = hit

        # 4. Cached manifest by tag and by digest, 32 connections.
        if "manifests" in only:
            print("manifest requests ...", flush=True)
            warm_strata()
            subprocess.run(["sync"])
            tag_url, digest_url = strata + "/v2/library/bench/manifests/1", strata + f"/v2/library/bench/manifests/{manifest_digest}"
            curl_get(tag_url, [f"Accept: {oci}"]); curl_get(proxy + "/v2/library/bench/manifests/1", [f"Accept: {oci}"])
            m = {}
            nginx_manifest = nginx + "/manifest.json"
            cases = [("strata_tag_head", tag_url, True), ("strata_tag_get", tag_url, False),
                     ("strata_digest_head", digest_url, True), ("strata_digest_get", digest_url, False),
                     ("nginx_small_file_head", nginx_manifest, True), ("nginx_small_file_get", nginx_manifest, False),
                     ("distribution_proxy_tag_head", proxy + "/v2/library/bench/manifests/1", True),
                     ("distribution_proxy_tag_get", proxy + "/v2/library/bench/manifests/1", False)]
            if a.baseline:
                btag, bdigest = strata_before + "/v2/library/bench/manifests/1", strata_before + f"/v2/library/bench/manifests/{manifest_digest}"
                curl_get(btag, [f"Accept: {oci}"])
                cases += [("strata_before_tag_head", btag, True), ("strata_before_tag_get", btag, False),
                          ("strata_before_digest_get", bdigest, False)]
            runs = {label: [] for label, _, _ in cases}
            # The servers take turns in every round, so a noisy neighbour hits them alike.
            # wrk 4.1 waits for a body after a HEAD answer: HEAD rates come from hey.
            for _ in range(a.runs):
                for label, url, head in cases:
                    if head:
                        rps, errors, cores = hey(url, 1500 if label.startswith("distribution") else 64000, head=True, accept=oci)
                        runs[label].append((rps, errors, cores, None))
                    else:
                        runs[label].append(wrk(url, seconds=3 if label.startswith("distribution") else 5, accept=oci))
            for label, rs in runs.items():
                m[label] = {"req_per_s": med([r[0] for r in rs]), "errors": sum(r[1] for r in rs),
                            "load_generator_cores": med([r[2] for r in rs]), "runs": [r[0] for r in rs]}
            # The same with hey (Go), which takes more of the shared cores itself.
            for label, url in [("strata_tag_get", tag_url), ("nginx_small_file_get", nginx_manifest)]:
                rs = [hey(url, 64000, accept=oci) for _ in range(a.runs)]
                m[label]["hey_req_per_s"] = med([r[0] for r in rs])
                m[label]["hey_cores"] = med([r[2] for r in rs])
            fig["manifests_32_connections"] = m
            fig["manifests_32_connections"]["load_generator"] = "wrk -t1 -c32, HTTP/1.1 keep-alive, on the same 2 cores as the server"
        if warm: warm.stop()
        if warm_before: warm_before.stop()

        # 4b. 1,000 keep-alive clients fetching cached blobs of 1-10 MiB.
        if "many" in only:
            print(f"{a.many_clients} clients ...", flush=True)
            fig["many_clients"] = many_clients(a, work, upstream, start_strata, strata, nginx)

        # 4c. How cost grows with the cache.
        if "scale" in only:
            print("synthetic caches ...", flush=True)
            fig["scale"] = scale(a, work)

        # 5. Replicas on a shared object store (a one-node Ceph RGW on loopback).
        if "scaleout" in only:
            print("replicas on a shared object store ...", flush=True)
            fig["scaleout"] = scaleout(a, work, upstream, big, big_digest, start_strata_with=lambda name, port, cache, extra:
                                       Proc(name, [a.strata, "serve", "--listen", f"127.0.0.1:{port}", "--admin-listen", "off",
                                                   "--cache-dir", cache, "--canonical", upstream, "--log-level", "error"] + extra,
                                            f"{work}/{name}.log"))

        # 7. A cold blob from an upstream that limits each connection (as registries and
        #    CDNs do): 8 parallel ranges, as containerd 2.1+ fetches, direct and through Strata.
        if "ranged" in only:
            print("cold blob from a per-connection throttled upstream ...", flush=True)
            fig["ranged_cold"] = ranged_cold(a, work)

        # 6. An uncompressed tar layer in the zstd store, and Range reads from it.
        if "zstd" in only:
            print("compressed layer ...", flush=True)
            subprocess.run(["sync"])
            p = start_strata(f"{work}/cache-zstd")
            tar_path = f"/v2/library/bench/blobs/{tar_digest}"
            curl_get(strata + tar_path)
            shard = f"{work}/cache-zstd/blobs/sha256/{tar_digest[7:9]}/{tar_digest[7:]}"
            stored = os.path.getsize(f"{shard}/data.zst") if os.path.exists(f"{shard}/data.zst") else os.path.getsize(f"{shard}/data")
            tar_size = os.path.getsize(tarl)
            whole = [ (lambda r: r[0] / r[1] / 1e9)(curl_get(strata + tar_path)) for _ in range(a.runs)]
            # Range reads over one keep-alive connection, so the client's start-up does not count.
            import http.client
            rnd = random.Random(7); ranged = []
            for _ in range(a.runs):
                conn = http.client.HTTPConnection("127.0.0.1", strata_port)
                start, got = time.time(), 0
                for _ in range(128):
                    lo = rnd.randrange(0, tar_size - (4 << 20)); hi = lo + (4 << 20) - 1
                    conn.request("GET", tar_path, headers={"Range": f"bytes={lo}-{hi}"})
                    r = conn.getresponse(); body = r.read(); assert r.status == 206 and len(body) == 4 << 20; got += len(body)
                ranged.append(got / (time.time() - start) / 1e9)
                conn.close()
            # The same ranges from wrk (C, one connection, a fixed random sequence), which
            # leaves more of the 2 cores to the server than Python's client; nginx serves
            # the layer's raw bytes from its file for comparison.
            os.link(tarl, f"{work}/www/layer.tar")
            lua = f"{work}/ranges.lua"
            open(lua, "w").write(f"init = function(args) math.randomseed(7) end\n"
                                 f"request = function() local lo = math.random(0, {tar_size - (4 << 20)})\n"
                                 f"  return wrk.format(\"GET\", nil, {{ [\"Range\"] = \"bytes=\" .. lo .. \"-\" .. (lo + {(4 << 20) - 1}) }}) end\n")
            wrk_ranges = {"strata": [], "nginx": []}
            for _ in range(a.runs):
                for name, url in [("strata", strata + tar_path), ("nginx", nginx + "/layer.tar")]:
                    _, errors, _, bps = wrk(url, seconds=4, c=1, script=lua)
                    assert errors == 0, f"{name}: {errors} errors in ranged reads"
                    wrk_ranges[name].append(bps / 1e9)
            fig["zstd_tar_layer"] = {"size_bytes": tar_size, "stored_bytes": stored, "stored_ratio": stored / tar_size,
                                     "whole_read_gb_s": med(whole), "range_4mib_reads_gb_s": med(ranged),
                                     "range_4mib_wrk_gb_s": med(wrk_ranges["strata"]), "nginx_raw_range_4mib_wrk_gb_s": med(wrk_ranges["nginx"])}
            p.stop()
    finally:
        for p in reversed(procs): p.stop()
        results["work"] = work
        json.dump(results, open(a.json, "w"), indent=2)
        shutil.rmtree(work, ignore_errors=True)

    c, h, mm, z, k = (fig.get(key) for key in ["cold_blob_seconds", "cache_hit_blob", "manifests_32_connections", "zstd_tar_layer", "concurrent_cold_32"])
    rows = []
    if h: rows += [
        ("cache-hit GET 500 MiB, 1 stream (MiB/s)", f"strata {h['strata']['one_stream_mib_s']:.0f} | nginx {h['nginx']['one_stream_mib_s']:.0f} | proxy {h['distribution_proxy']['one_stream_mib_s']:.0f}",
         f"{h['strata']['one_stream_mib_s']/h['nginx']['one_stream_mib_s']:.2f}x nginx, {h['strata']['one_stream_mib_s']/h['distribution_proxy']['one_stream_mib_s']:.2f}x proxy"),
        ("cache-hit GET 500 MiB, 4 streams (MiB/s)", f"strata {h['strata']['four_streams_mib_s']:.0f} | nginx {h['nginx']['four_streams_mib_s']:.0f} | proxy {h['distribution_proxy']['four_streams_mib_s']:.0f}",
         f"{h['strata']['four_streams_mib_s']/h['nginx']['four_streams_mib_s']:.2f}x nginx, {h['strata']['four_streams_mib_s']/h['distribution_proxy']['four_streams_mib_s']:.2f}x proxy")]
    if mm:
        nginx_get, nginx_head = mm["nginx_small_file_get"]["req_per_s"], mm["nginx_small_file_head"]["req_per_s"]
        for key, name, peer in [("tag_head", "manifest by tag, HEAD", nginx_head), ("tag_get", "manifest by tag, GET", nginx_get),
                                ("digest_head", "manifest by digest, HEAD", nginx_head), ("digest_get", "manifest by digest, GET", nginx_get)]:
            rps = mm["strata_" + key]["req_per_s"]
            proxy_rps = mm.get("distribution_proxy_" + key, {}).get("req_per_s")
            rows.append((f"{name}, 32 conns, {'hey' if 'head' in key else 'wrk'} (req/s)",
                         f"strata {rps:.0f} | nginx static file {peer:.0f}" + (f" | proxy {proxy_rps:.0f}" if proxy_rps else ""),
                         f"{rps / peer:.2f}x nginx (target >= 0.8x)"))
        rows += [("manifest by tag, GET, with hey (req/s)",
                  f"strata {mm['strata_tag_get']['hey_req_per_s']:.0f} | nginx {mm['nginx_small_file_get']['hey_req_per_s']:.0f}",
                  f"{mm['strata_tag_get']['hey_req_per_s'] / mm['nginx_small_file_get']['hey_req_per_s']:.2f}x nginx"),
                 ("cores taken by the load generator", f"wrk {mm['strata_tag_get']['load_generator_cores']:.2f} | hey {mm['strata_tag_get']['hey_cores']:.2f} of 2", ""),
                 ("errors in the manifest runs", f"{sum(v['errors'] for k, v in mm.items() if isinstance(v, dict))}", "")]
    if c: rows += [
        ("cold 500 MiB blob (s)", f"strata {c['strata']:.2f} | direct {c['direct']:.2f} | proxy {c['distribution_proxy']:.2f}",
         f"{c['proxy_ratio']:.2f}x proxy (target <= 0.9x), {c['ratio']:.2f}x direct"),
        ("CPU per GiB filled (s)", f"strata {c['strata_cpu_seconds_per_gib']:.2f} | proxy {c['distribution_proxy_cpu_seconds_per_gib']:.2f}",
         "target <= 1.2 s"),
        ("upstream bytes per cold blob", f"strata {c['upstream_bytes_per_cold_blob']:.2f}x | proxy {c['distribution_upstream_bytes_per_cold_blob']:.2f}x", "")]
    if k: rows += [
        ("32 concurrent cold pulls of one blob", f"upstream GETs {k['upstream_gets']} (one fill; more than one when it was split into ranges) | upstream bytes {k['upstream_bytes_per_blob']:.2f}x | all whole {k['all_ok']} | peak RSS {k['strata_peak_rss_mib']:.0f} MiB", "")]
    if z: rows += [
        ("uncompressed tar layer in the zstd store", f"stored {z['stored_ratio']:.3f}x | whole read {z['whole_read_gb_s']:.2f} GB/s | 4 MiB ranges {z['range_4mib_reads_gb_s']:.2f} GB/s (Python client)", ""),
        ("  4 MiB random ranges, wrk, 1 connection", f"{z['range_4mib_wrk_gb_s']:.2f} GB/s | nginx, raw file {z['nginx_raw_range_4mib_wrk_gb_s']:.2f} GB/s", "target >= 1.5 GB/s"),
    ]
    for row in fig.get("scale", []):
        rows.append((f"cache of {row['blobs']} blobs, {row['tags']} tags",
                     f"start-up {row['startup_seconds']:.2f} s | RSS {max(row['peak_rss_mib'], row['eviction_peak_rss_mib']):.0f} MiB | {row['manifest_hits_per_s']:.0f} manifest hits/s | "
                     f"10% evicted in {'-' if row['eviction_seconds'] is None else '%.1f s' % row['eviction_seconds']} "
                     f"({row['hits_per_s_while_evicting'] or 0:.0f} hits/s meanwhile)", ""))
    mc = fig.get("many_clients")
    if mc:
        rows += [(f"{mc['clients']} keep-alive clients, cached 1-10 MiB blobs (MiB/s)",
                  f"strata {mc['strata']['mib_s']:.0f} | nginx {mc['nginx']['mib_s']:.0f} | errors {mc['strata']['errors']} / {mc['nginx']['errors']} | strata peak RSS {mc['strata_peak_rss_mib']:.0f} MiB",
                  f"{mc['ratio']:.2f}x nginx (target >= 1x, RSS < 300 MiB)")]
    rg = fig.get("ranged_cold")
    if rg:
        rows += [
            (f"cold {rg['blob_mib']} MiB, upstream {rg['per_connection_mib_s']} MiB/s per connection, 8 ranges (s)",
             f"strata {rg['strata_8_ranges_seconds']:.2f} | direct {rg['direct_8_ranges_seconds']:.2f} | strata on one connection {rg['strata_one_connection_8_ranges_seconds']:.2f}",
             f"{rg['ratio']:.2f}x direct (target <= 1.3x)"),
            (f"cold {rg['blob_mib']} MiB, same upstream, one whole GET through Strata (s)", f"strata {rg['strata_whole_get_seconds']:.2f}", ""),
        ]
    so = fig.get("scaleout")
    if so:
        rows += [
            ("2 replicas x 16 clients, one cold 64 MiB blob", f"upstream GETs {so['race_2x16_upstream_gets']} | all whole {so['race_2x16_all_whole']} | {so['race_2x16_seconds']:.2f} s", "target: 1 GET"),
            ("fresh replica serving 500 MiB from the store (MiB/s)", f"replica {so['fresh_replica_from_store_mib_s']:.0f} | direct store GET {so['direct_store_get_mib_s']:.0f}",
             f"{so['fresh_replica_from_store_mib_s']/so['direct_store_get_mib_s']:.2f}x direct (target >= 0.9x)"),
        ]
        if c:
            rows += [("cold 500 MiB through a replica (s)", f"replica {so['cold_through_replica_seconds']:.2f} | single node {c['strata']:.2f}",
                      f"{so['cold_through_replica_seconds']/c['strata']:.2f}x single node (target <= 1.2x)")]
    if c and "strata_before" in c:
        rows += [("cold 500 MiB blob, before -> now (s)", f"{c['strata_before']:.2f} -> {c['strata']:.2f}", f"{c['strata']/c['strata_before']:.2f}x")]
    if h and "strata_before" in h:
        rows += [("cache-hit 1 / 4 streams, before -> now (MiB/s)",
                  f"{h['strata_before']['one_stream_mib_s']:.0f} -> {h['strata']['one_stream_mib_s']:.0f} / {h['strata_before']['four_streams_mib_s']:.0f} -> {h['strata']['four_streams_mib_s']:.0f}", "")]
    if mm and "strata_before_tag_get" in mm:
        for key, name in [("tag_head", "manifest tag HEAD"), ("tag_get", "manifest tag GET"), ("digest_get", "manifest digest GET")]:
            rows += [(f"{name}, before -> now (req/s)", f"{mm['strata_before_' + key]['req_per_s']:.0f} -> {mm['strata_' + key]['req_per_s']:.0f}",
                      f"{mm['strata_' + key]['req_per_s']/mm['strata_before_' + key]['req_per_s']:.2f}x")]
    width = max(len(r[0]) for r in rows)
    print()
    print(f"Strata benchmark: {os.cpu_count()} cores, median of {a.runs} runs, loopback")
    for name, value, ratio in rows:
        print(f"{name.ljust(width)}  {value}" + (f"  ({ratio})" if ratio else ""))
    print(f"\nJSON: {a.json}")


if __name__ == "__main__":
    main()
