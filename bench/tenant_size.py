"""Costs against the size of a tenant: the latency of `GET /quota`, a page of 100,
`resolve`, `POST /shares` and `POST /uploads/initiate` with 1k, 10k, 100k and 1M files
in the tenant (rows generated in PostgreSQL, counters kept consistent), next to the
query `/quota` used before its per-app counters (a GROUP BY over the tenant's files).

Runs inside `scripts/stack run` (bench/tenant-size starts it). Prints a table and one
JSON line per figure; the ratios to the 1k row are what to read on a shared machine.
"""

import hashlib
import json
import os
import shlex
import statistics
import subprocess
import sys
import time

import httpx

SIZES = [int(s) for s in os.environ.get("BENCH_SIZES", "1000,10000,100000,1000000").split(",")]
SAMPLES = 60

api = os.environ["FLUIDCLOUD_STACK_API1"]
key = os.environ["FLUIDCLOUD_API_KEY"]
db_url = shlex.split(os.environ["FLUIDCLOUD_ADMIN_ARGS"])[-1]
http = httpx.Client(headers={"X-API-Key": key}, timeout=120)


def psql(sql):
    return subprocess.run(["psql", db_url, "-v", "ON_ERROR_STOP=1", "-Atqc", sql],
                          capture_output=True, text=True, check=True).stdout.strip()


def admin(*args):
    command = [os.environ["FLUIDCLOUD_BIN"], "admin", *shlex.split(os.environ["FLUIDCLOUD_ADMIN_ARGS"]), *args]
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


tenant = http.get(f"{api}/api/v1/me").json()["tenant_id"]
admin("tenant", "update", tenant, "--requests-per-minute", "-1", "--shares-per-minute", "-1",
      "--initiates-per-minute", "-1")
space = http.get(f"{api}/api/v1/spaces").json()[0]["id"]

# One real file: the target of links and of resolve.
data = b"the probe file"
ticket = http.post(f"{api}/api/v1/uploads/initiate", json={
    "original_name": "probe.txt", "content_type": "text/plain", "size": len(data), "space_id": space}).json()
assert httpx.put(ticket["upload_url"], content=data, headers=ticket["headers"]).status_code == 200
probe = http.post(f"{api}/api/v1/uploads/complete", json={
    "file_id": ticket["file_id"], "key": ticket["key"], "original_name": "probe.txt", "size": len(data),
    "sha256": hashlib.sha256(data).hexdigest(), "space_id": space, "client_key": "probe"}).json()
assert probe["scan_status"] == "clean", probe


def grow_to(count):
    """Adds synthetic clean files until the tenant has `count`, keeping the counters
    (`bytes_used`, `app_usage`) equal to the rows, in batches of 100k."""
    have = int(psql(f"SELECT count(*) FROM files WHERE tenant_id = '{tenant}'"))
    while have < count:
        n = min(100_000, count - have)
        psql(f"""
            BEGIN;
            INSERT INTO files (id, tenant_id, space_id, original_name, mime, size, sha256, object_key,
                               scan_status, status, source_app, created_at, updated_at)
            SELECT gen_random_uuid(), '{tenant}', '{space}', 'bulk-' || i, 'text/plain', 100, '',
                   't/{tenant}/bulk/' || i, 'clean', 'ready', 'fluidcloud',
                   now() - make_interval(secs => i), now()
            FROM generate_series({have + 1}, {have + n}) AS i;
            UPDATE tenants SET bytes_used = bytes_used + {n * 100} WHERE id = '{tenant}';
            UPDATE app_usage SET bytes = bytes + {n * 100}, files = files + {n}
             WHERE tenant_id = '{tenant}' AND app = 'fluidcloud';
            COMMIT;""")
        have += n
    psql("ANALYZE files")


def latency(method, path, body=None):
    """Median and p90 of SAMPLES sequential requests, in ms."""
    times = []
    for _ in range(SAMPLES):
        started = time.perf_counter()
        response = http.request(method, f"{api}/api/v1{path}", json=body)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code < 300, f"{path}: {response.status_code} {response.text}"
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9)]


def old_quota_query():
    """The GROUP BY `/quota` ran before the per-app counters, timed in PostgreSQL."""
    out = psql(f"""EXPLAIN (ANALYZE, FORMAT JSON)
        SELECT source_app, SUM(size), COUNT(*) FROM files
        WHERE tenant_id = '{tenant}' AND scan_status <> 'infected' GROUP BY source_app""")
    return json.loads(out)[0]["Execution Time"]


endpoints = {
    "GET /quota": ("GET", "/quota", None),
    "GET /files (page of 100)": ("GET", f"/files?space_id={space}&limit=100", None),
    "GET /files/resolve": ("GET", "/files/resolve?client_key=probe", None),
    "POST /shares": ("POST", "/shares", {"file_id": probe["id"], "expires_in_days": 1}),
    "POST /uploads/initiate": ("POST", "/uploads/initiate",
                               {"original_name": "x.bin", "content_type": "application/octet-stream",
                                "size": 10, "space_id": space}),
}
results = {}
for size in SIZES:
    grow_to(size)
    for name, (method, path, body) in endpoints.items():
        latency(method, path, body)  # warm
        results[(name, size)] = latency(method, path, body)
    results[("old /quota GROUP BY (database time)", size)] = (old_quota_query(), None)
    usage = admin("tenant", "usage", tenant)
    assert usage["consistent"], usage
    for (name, at), (median, p90) in results.items():
        if at == size:
            print(json.dumps({"bench": "tenant_size", "what": name, "files": size,
                              "median_ms": round(median, 3), "p90_ms": p90 and round(p90, 3)}), flush=True)

names = list(endpoints) + ["old /quota GROUP BY (database time)"]
print(f"\nmedian ms by files in the tenant (ratio to {SIZES[0]:,}):", file=sys.stderr)
print(f"  {'':38}" + "".join(f"{s:>18,}" for s in SIZES), file=sys.stderr)
for name in names:
    base = results[(name, SIZES[0])][0]
    cells = "".join(f"{results[(name, s)][0]:>9.2f} ({results[(name, s)][0] / base:4.1f}×)" for s in SIZES)
    print(f"  {name:38}{cells}", file=sys.stderr)
