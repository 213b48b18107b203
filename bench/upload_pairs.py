"""Uploads per second through the API: initiate → presigned PUT → complete of a tiny
file, from several threads for a fixed time. Prints one JSON line."""

import hashlib
import json
import os
import sys
import threading
import time

import httpx

API, KEY = os.environ["FLUIDCLOUD_BASE_URL"], os.environ["FLUIDCLOUD_API_KEY"]
THREADS, SECONDS = int(sys.argv[1]) if len(sys.argv) > 1 else 8, float(sys.argv[2]) if len(sys.argv) > 2 else 15
DATA = b"x" * 64
headers = {"X-API-Key": KEY}
space = httpx.get(f"{API}/api/v1/spaces", headers=headers).json()[0]["id"]
done, errors = [0], [0]
lock = threading.Lock()
deadline = time.time() + SECONDS


def run():
    with httpx.Client(headers=headers, timeout=30) as client, httpx.Client(timeout=30) as store:
        while time.time() < deadline:
            ticket = client.post(f"{API}/api/v1/uploads/initiate", json={
                "original_name": "b.txt", "content_type": "text/plain", "size": len(DATA), "space_id": space,
            })
            if ticket.status_code != 200:
                errors[0] += 1
                continue
            ticket = ticket.json()
            store.put(ticket["upload_url"], content=DATA, headers=ticket["headers"])
            completed = client.post(f"{API}/api/v1/uploads/complete", json={
                "file_id": ticket["file_id"], "key": ticket["key"], "original_name": "b.txt", "mime": "text/plain",
                "size": len(DATA), "sha256": hashlib.sha256(DATA).hexdigest(), "space_id": space,
            })
            with lock:
                if completed.status_code == 201:
                    done[0] += 1
                else:
                    errors[0] += 1


threads = [threading.Thread(target=run) for _ in range(THREADS)]
started = time.time()
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
elapsed = time.time() - started
print(json.dumps({"uploads": done[0], "errors": errors[0], "seconds": round(elapsed, 1),
                  "uploads_per_second": round(done[0] / elapsed, 1)}))
