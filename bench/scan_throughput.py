"""Scan throughput of the worker against clamd: uploads several files too large for an
inline scan, then times how long until the worker has judged them all."""

import hashlib
import json
import os
import signal
import sys
import time

import httpx

API, KEY = os.environ["FLUIDCLOUD_BASE_URL"], os.environ["FLUIDCLOUD_API_KEY"]
COUNT, SIZE = int(sys.argv[1]) if len(sys.argv) > 1 else 4, (int(sys.argv[2]) if len(sys.argv) > 2 else 64) << 20
client = httpx.Client(headers={"X-API-Key": KEY}, timeout=300)
# The worker is paused while the files are uploaded, so only scanning is timed.
pids = [line.split() for line in open(os.environ["FLUIDCLOUD_STACK_PIDS"]) if line.strip()]
worker = int([pid for name, pid in pids if name == "worker"][-1])
os.kill(worker, signal.SIGSTOP)
space = client.get(f"{API}/api/v1/spaces").json()[0]["id"]
data = os.urandom(SIZE)
digest = hashlib.sha256(data).hexdigest()
ids = []
for n in range(COUNT):
    ticket = client.post(f"{API}/api/v1/uploads/initiate", json={
        "original_name": f"s{n}.bin", "content_type": "application/octet-stream", "size": SIZE, "space_id": space,
    }).json()
    body = {"file_id": ticket["file_id"], "key": ticket["key"], "original_name": f"s{n}.bin", "size": SIZE,
            "sha256": digest, "space_id": space}
    if ticket["mode"] == "single":
        httpx.put(ticket["upload_url"], content=data, headers=ticket["headers"], timeout=300)
    else:
        parts, size = [], ticket["part_size"]
        for part in ticket["part_urls"]:
            start = (part["part_number"] - 1) * size
            put = httpx.put(part["url"], content=data[start:start + size], timeout=300)
            parts.append({"PartNumber": part["part_number"], "ETag": put.headers["etag"]})
        body.update(upload_id=ticket["upload_id"], parts=parts)
    ids.append(client.post(f"{API}/api/v1/uploads/complete", json=body).json()["id"])
os.kill(worker, signal.SIGCONT)
started = time.time()
while any(client.get(f"{API}/api/v1/files/{i}").json()["scan_status"] == "pending" for i in ids):
    time.sleep(0.05)
elapsed = time.time() - started
print(json.dumps({"files": COUNT, "mib_each": SIZE >> 20, "seconds": round(elapsed, 2),
                  "mb_per_second": round(COUNT * SIZE / 1e6 / elapsed, 1)}))
