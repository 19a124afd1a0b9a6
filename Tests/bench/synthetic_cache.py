#!/usr/bin/env python3
"""Makes a synthetic Strata cache: N blobs and N/10 tags, written straight into the
cache directory and its SQLite index, as Strata itself lays them out (Docs/operations.md).

Each tag points at an OCI image manifest of its own with a config and 8 layers, so
every tenth blob is a manifest and the rest are small, unique blobs. Every blob's bytes
match its digest, so verification, scrubbing and eviction treat them as real. The index
must exist already (start Strata once on the directory to create it).

    synthetic_cache.py CACHE_DIR --blobs 1000000
"""
import argparse, hashlib, json, os, sqlite3, sys, time

MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def write_blob(root, data):
    hexd = hashlib.sha256(data).hexdigest()
    directory = f"{root}/blobs/sha256/{hexd[:2]}/{hexd}"
    os.mkdir(directory)
    with open(f"{directory}/data", "wb") as f:
        f.write(data)
    return "sha256:" + hexd


def make_images(args):
    """Writes the blobs of images [first, last) and returns their index rows."""
    root, first, last, images, repositories, registry, now = args
    blob_rows, tag_rows, manifest_rows, tags = [], [], [], []
    for image in range(first, last):
        layers = []
        for j in range(8):
            data = f"synthetic layer {image}.{j}\n".encode()
            layers.append((write_blob(root, data), len(data)))
        config = json.dumps({"architecture": "amd64", "os": "linux", "synthetic": image}).encode()
        config_digest = write_blob(root, config)
        manifest = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST,
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": len(config)},
                               "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": n} for d, n in layers]},
                              separators=(",", ":")).encode()
        manifest_digest = write_blob(root, manifest)
        # Older images were last used longer ago: eviction takes them first.
        used = now - (images - image) * 10
        for digest, size in layers + [(config_digest, len(config))]:
            blob_rows.append((digest, size, size, 0, None, used, used, 0, 0))
        blob_rows.append((manifest_digest, len(manifest), len(manifest), 0, MANIFEST, used, used, 0, 0))
        repository = f"synthetic/repo-{image % repositories}"
        tag = f"t{image}"
        tag_rows.append((registry, repository, tag, manifest_digest, MANIFEST, now, "canonical"))
        manifest_rows.append((registry, repository, manifest_digest, MANIFEST, now, "canonical"))
        tags.append(f"{repository}:{tag}")
    return blob_rows, tag_rows, manifest_rows, tags


def make(root, blobs, repositories=None, registry="docker.io", seed_time=None):
    """Writes the cache (on every core) and returns its tags as `repository:tag`."""
    import multiprocessing
    images = max(1, blobs // 10)
    repositories = repositories or max(1, images // 10)
    now = seed_time or time.time()
    for shard in range(256):
        os.makedirs(f"{root}/blobs/sha256/{shard:02x}", exist_ok=True)
    db = sqlite3.connect(f"{root}/index.sqlite")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    step = 5000
    jobs = [(root, first, min(images, first + step), images, repositories, registry, now) for first in range(0, images, step)]
    tags = []
    with multiprocessing.Pool(os.cpu_count()) as pool:
        for blob_rows, tag_rows, manifest_rows, image_tags in pool.imap(make_images, jobs):
            flush(db, blob_rows, tag_rows, manifest_rows)
            tags += image_tags
    db.close()
    return tags


def flush(db, blob_rows, tag_rows, manifest_rows):
    with db:
        db.executemany("INSERT OR REPLACE INTO blobs (digest, size, stored_size, compressed, media_type, created_at, last_access, hits, provisional) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", blob_rows)
        db.executemany("INSERT OR REPLACE INTO tags (registry, repository, tag, digest, media_type, fetched_at, tier) VALUES (?, ?, ?, ?, ?, ?, ?)", tag_rows)
        db.executemany("INSERT OR REPLACE INTO manifests (registry, repository, digest, media_type, fetched_at, tier) VALUES (?, ?, ?, ?, ?, ?)", manifest_rows)
    blob_rows.clear(); tag_rows.clear(); manifest_rows.clear()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("cache_dir")
    ap.add_argument("--blobs", type=int, default=1000)
    a = ap.parse_args()
    if not os.path.exists(f"{a.cache_dir}/index.sqlite"):
        sys.exit(f"{a.cache_dir}/index.sqlite does not exist: start strata once on the directory first")
    start = time.time()
    tags = make(a.cache_dir, a.blobs)
    print(f"{a.blobs} blobs, {len(tags)} tags in {time.time() - start:.1f} s")
