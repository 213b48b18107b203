"""Faults on the process twin: a worker killed mid-scan, the object store down, the
database restarted, and SIGTERM during a large download."""

import os
import signal
import subprocess
import threading
import time

import httpx

from conftest import MIB, eventually


def test_a_worker_killed_during_a_scan_finishes_it_after_restart(api1, api2, processes, space):
    # api2 scans nothing inline: the scan is the worker's.
    uploaded = api2.upload(space, "big.bin", os.urandom(64 * MIB))
    assert uploaded["scan_status"] == "pending"
    # Once the worker has claimed the scan (64 MiB through clamd takes most of a
    # second), kill it without a chance to clean up.
    eventually(lambda: scan_claimed(uploaded["id"]), 10, "the worker claiming the scan")
    processes.signal("worker", signal.SIGKILL)
    processes.wait_exit("worker", 5)
    assert api1.ok("GET", f"/files/{uploaded['id']}")["scan_status"] == "pending"
    processes.start("worker")
    # The dead worker's lease (5 s here) lapses and the new worker scans again.
    scanned = api1.wait_for_scan(uploaded["id"], timeout=120)
    assert scanned["scan_status"] == "clean", scanned


def test_an_object_store_outage_gives_clear_errors_and_recovers(api1, space):
    seaweedfs = os.environ["FLUIDCLOUD_STACK_SEAWEEDFS"]
    data = b"uploaded while the store is down"
    ticket = api1.ok("POST", "/uploads/initiate", json={
        "original_name": "o.txt", "content_type": "text/plain", "size": len(data), "space_id": space,
    })
    subprocess.run([os.path.join(seaweedfs, "stop")], check=True)
    try:
        body = {"file_id": ticket["file_id"], "key": ticket["key"], "original_name": "o.txt",
                "size": len(data), "space_id": space}
        failed = api1.call("POST", "/uploads/complete", json=body)
        assert failed.status_code == 503, failed.text
        assert failed.json()["request_id"] == failed.headers["x-request-id"]
        assert "object store" in failed.json()["detail"]
        multipart = api1.call("POST", "/uploads/initiate", json={
            "original_name": "m.bin", "content_type": "application/octet-stream", "size": 200 * MIB, "space_id": space,
        })
        assert multipart.status_code == 503, multipart.text
        assert httpx.get(f"{api1.base}/readyz").status_code == 503
        # Nothing was recorded for bytes that never arrived.
        assert api1.ok("GET", f"/files?space_id={space}") == []
        assert api1.ok("GET", "/quota")["bytes_reserved"] >= len(data)
    finally:
        subprocess.run([os.path.join(seaweedfs, "start")], check=True)
    # Recovery without restarting any FluidCloud process.
    eventually(lambda: httpx.get(f"{api1.base}/readyz").status_code == 200, 30, "the API seeing the store again")
    put = httpx.put(ticket["upload_url"], content=data, headers=ticket["headers"])
    assert put.status_code == 200, put.text
    file = api1.ok("POST", "/uploads/complete", status=201, json=body)
    assert file["scan_status"] == "clean"


def test_services_reconnect_after_a_database_restart(api1, api2, files_servers, space):
    uploaded = api1.upload(space, "r.txt", b"before the restart", "text/plain")
    link = api1.ok("POST", "/shares", status=201, json={"file_id": uploaded["id"]})
    subprocess.run([os.environ["FLUIDCLOUD_STACK_POSTGRES_RESTART"]], check=True)
    for api in (api1, api2):
        eventually(lambda: api.call("GET", f"/files/{uploaded['id']}").status_code == 200, 30, "API reconnecting")
    assert httpx.get(link["url"]).status_code == 200
    # The change feed is back too: a revocation still reaches every files server.
    api2.ok("DELETE", f"/shares/{link['id']}", status=204)
    for files in files_servers:
        url = files + link["url"][link["url"].index("/s/"):]
        eventually(lambda: httpx.get(url).status_code == 410, 5, f"revocation on {files} after the restart")


def test_sigterm_lets_a_running_download_finish(api1, processes, files_servers, space):
    size = 256 * MIB
    chunk = os.urandom(MIB)
    data = chunk * 256
    uploaded = api1.upload(space, "huge.bin", data)
    assert api1.wait_for_scan(uploaded["id"], timeout=300)["scan_status"] == "clean"
    link = api1.ok("POST", "/shares", status=201, json={"file_id": uploaded["id"]})
    url = files_servers[0] + link["url"][link["url"].index("/s/"):]

    received = {"bytes": 0, "status": None}

    def download():
        with httpx.stream("GET", url, timeout=120) as response:
            received["status"] = response.status_code
            for piece in response.iter_bytes(64 * 1024):
                received["bytes"] += len(piece)
                time.sleep(0.0005)  # a slow client: the download outlives the signal

    reader = threading.Thread(target=download)
    reader.start()
    eventually(lambda: received["bytes"] > 8 * MIB, 30, "the download starting")
    processes.signal("files1", signal.SIGTERM)
    # Stopped accepting: new connections are refused while the download goes on.
    eventually(lambda: not _ready(files_servers[0]), 5, "files1 refusing new requests")
    assert reader.is_alive(), "the download was cut short"
    reader.join(timeout=120)
    assert received == {"bytes": size, "status": 200}
    processes.wait_exit("files1", 30)
    processes.start("files1")
    eventually(lambda: _ready(files_servers[0]), 30, "files1 restarting")


def scan_claimed(file_id):
    """Whether a worker holds the lease of the file's scan job (read from the database)."""
    query = (
        "SELECT count(*) FROM jobs WHERE kind = 'scan' AND locked_until IS NOT NULL "
        f"AND payload LIKE '%{file_id}%'"
    )
    result = subprocess.run(
        ["psql", os.environ["FLUIDCLOUD__DATABASE__URL"], "-Atc", query], capture_output=True, text=True, check=True
    )
    return result.stdout.strip() == "1"


def _ready(base):
    try:
        return httpx.get(f"{base}/readyz").status_code == 200
    except httpx.TransportError:
        return False
