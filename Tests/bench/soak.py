#!/usr/bin/env python3
"""Strata's soak: minutes of mixed load against the release build, sampling its RSS and
open descriptors, failing if they grow. Run it through Tests/soak.sh.

The load, from 16 keep-alive client threads on loopback: cached manifests by tag and by
digest (GET and HEAD), cached blobs (whole and ranges), 404s, invalid names, and cold
fills of blobs pushed to the upstream (a docker-registry) while the soak runs.
"""
import argparse, hashlib, http.client, json, os, random, shutil, sys, tempfile, threading, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import ROOT, Proc, free_port, wait_http, registry_config, push_blob, push_manifest, sha256_file, make_random


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"): return int(line.split()[1])
    return 0


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--strata", default=os.path.join(ROOT, ".build/release/strata"))
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--sample", type=float, default=10, help="seconds between samples")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="strata-soak-")
    procs = []
    try:
        up_port, strata_port = free_port(), free_port()
        registry_config(f"{work}/up.yml", up_port, f"{work}/up-data")
        procs.append(Proc("upstream", ["docker-registry", "serve", f"{work}/up.yml"], f"{work}/up.log"))
        upstream = f"http://127.0.0.1:{up_port}"; wait_http(upstream + "/v2/")
        # Ten images of one config and one 1-4 MiB layer each.
        oci = "application/vnd.oci.image.manifest.v1+json"
        images = []
        for i in range(10):
            layer = f"{work}/layer{i}"; make_random(layer, (1 + i % 4) << 20); ld = sha256_file(layer)
            cfg = json.dumps({"architecture": "amd64", "os": "linux", "n": i}).encode()
            cd = "sha256:" + hashlib.sha256(cfg).hexdigest()
            open(f"{work}/cfg{i}", "wb").write(cfg)
            push_blob(upstream, "library/soak", layer, ld); push_blob(upstream, "library/soak", f"{work}/cfg{i}", cd)
            m = json.dumps({"schemaVersion": 2, "mediaType": oci,
                            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": len(cfg)},
                            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld,
                                        "size": os.path.getsize(layer)}]}).encode()
            push_manifest(upstream, "library/soak", str(i), m, oci)
            images.append((str(i), "sha256:" + hashlib.sha256(m).hexdigest(), ld, cd))
        strata = Proc("strata", [a.strata, "serve", "--listen", f"127.0.0.1:{strata_port}", "--admin-listen", "off",
                                 "--cache-dir", f"{work}/cache", "--canonical", upstream, "--log-level", "error"], f"{work}/strata.log")
        procs.append(strata)
        wait_http(f"http://127.0.0.1:{strata_port}/v2/")
        pid = strata.p.pid

        stop = threading.Event()
        counts = {"requests": 0, "errors": 0, "cold": 0}
        lock = threading.Lock()
        cold_digests = []

        def pusher():
            # A new blob upstream every second, for the clients to fill cold.
            n = 0
            while not stop.is_set():
                path = f"{work}/cold{n % 4}"; make_random(path, 256 << 10); d = sha256_file(path)
                push_blob(upstream, "library/soak", path, d)
                with lock: cold_digests.append(d)
                n += 1; stop.wait(1)

        def client(seed):
            rnd = random.Random(seed)
            conn = http.client.HTTPConnection("127.0.0.1", strata_port, timeout=30)
            while not stop.is_set():
                tag, md, ld, cd = rnd.choice(images)
                pick = rnd.random()
                method, headers, expect = "GET", {"Accept": oci}, (200,)
                if pick < 0.3: path = f"/v2/library/soak/manifests/{tag}"; method = rnd.choice(["GET", "HEAD"])
                elif pick < 0.45: path = f"/v2/library/soak/manifests/{md}"
                elif pick < 0.6: path = f"/v2/library/soak/blobs/{cd}"
                elif pick < 0.7: path = f"/v2/library/soak/blobs/{ld}"
                elif pick < 0.78: path = f"/v2/library/soak/blobs/{ld}"; headers["Range"] = "bytes=1000-200000"; expect = (206,)
                elif pick < 0.86: path = f"/v2/library/soak/manifests/missing-{rnd.randrange(1000)}"; expect = (404,)
                elif pick < 0.9: path = "/v2/Invalid..Name/manifests/x"; expect = (400, 404)
                else:
                    with lock: d = rnd.choice(cold_digests) if cold_digests else cd
                    path = f"/v2/library/soak/blobs/{d}"
                    with lock: counts["cold"] += 1
                try:
                    conn.request(method, path, headers=headers)
                    r = conn.getresponse(); r.read()
                    ok = r.status in expect
                    if r.getheader("Connection", "").lower() == "close": conn.close()
                except Exception:
                    ok = False
                    conn.close(); conn = http.client.HTTPConnection("127.0.0.1", strata_port, timeout=30)
                with lock:
                    counts["requests"] += 1
                    if not ok: counts["errors"] += 1

        threads = [threading.Thread(target=pusher)] + [threading.Thread(target=client, args=(i,)) for i in range(a.clients)]
        for t in threads: t.start()
        samples = []
        start = time.time()
        last = 0
        print(f"{'t (s)':>6} {'RSS MiB':>8} {'fds':>5} {'req/s':>7} {'errors':>7}", flush=True)
        while time.time() - start < a.minutes * 60:
            time.sleep(a.sample)
            with lock: done, errors = counts["requests"], counts["errors"]
            samples.append((time.time() - start, rss_kib(pid) / 1024, fds(pid), (done - last) / a.sample, errors))
            last = done
            print(f"{samples[-1][0]:6.0f} {samples[-1][1]:8.1f} {samples[-1][2]:5d} {samples[-1][3]:7.0f} {errors:7d}", flush=True)
        stop.set()
        for t in threads: t.join()
        time.sleep(2)
        idle_fds = fds(pid)
        third = max(1, len(samples) // 3)
        early_rss = max(s[1] for s in samples[:third]); late_rss = max(s[1] for s in samples[-third:])
        early_fds = max(s[2] for s in samples[:third]); late_fds = max(s[2] for s in samples[-third:])
        print(f"\n{counts['requests']} requests ({counts['cold']} for fresh blobs, of which {len(cold_digests)} blobs were new "
              f"upstream and filled cold), {counts['errors']} errors, "
              f"{counts['requests'] / (a.minutes * 60):.0f} req/s")
        print(f"RSS: first third peak {early_rss:.1f} MiB, last third peak {late_rss:.1f} MiB; "
              f"fds: {early_fds} -> {late_fds} under load, {idle_fds} idle after")
        failed = []
        if late_rss > early_rss * 1.25 + 16: failed.append("RSS grew")
        if late_fds > early_fds + 16: failed.append("descriptors grew")
        if counts["errors"]: failed.append("errors")
        print("FAIL: " + ", ".join(failed) if failed else "ok: RSS and descriptors flat, no errors")
        return 1 if failed else 0
    finally:
        for p in reversed(procs): p.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
