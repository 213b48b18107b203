"""Upload through one API instance, scan by the worker, share through the other,
fetch through either files server, revoke, purge, quota."""

import os

import httpx

from conftest import MIB, eventually


def on(files_base, url):
    """The same link on another files server."""
    return files_base + url[url.index("/s/"):]


def test_the_whole_path_across_instances(api1, api2, files_servers, space):
    data = os.urandom(20 * MIB)
    quota_before = api2.ok("GET", "/quota")["bytes_used"]
    uploaded = api1.upload(space, "video.bin", data)
    # Scanned through clamd within the inline budget: complete answers with the verdict.
    assert uploaded["scan_status"] == "clean", uploaded
    assert api2.ok("GET", f"/files/{uploaded['id']}")["scan_status"] == "clean"
    assert api2.ok("GET", "/quota")["bytes_used"] == quota_before + len(data)

    link = api2.ok("POST", "/shares", status=201, json={"file_id": uploaded["id"]})
    for files in files_servers:
        response = httpx.get(on(files, link["url"]), timeout=120)
        assert response.status_code == 200
        assert response.content == data
        ranged = httpx.get(on(files, link["url"]), headers={"Range": "bytes=1000-1999"})
        assert ranged.status_code == 206 and ranged.content == data[1000:2000]

    # Every files server within one second of the revocation returning.
    api1.ok("DELETE", f"/shares/{link['id']}", status=204)
    eventually(lambda: all(httpx.get(on(files, link["url"])).status_code == 410 for files in files_servers),
               1.0, "revocation on every files server")

    second = api1.ok("POST", "/shares", status=201, json={"file_id": uploaded["id"]})
    purged = api2.ok("DELETE", f"/gdpr/files/{uploaded['id']}")
    assert purged["bytes_freed"] == len(data) and purged["shares_revoked"] == 1
    eventually(lambda: all(httpx.get(on(files, second["url"])).status_code == 404 for files in files_servers),
               1.0, "purge on every files server")
    assert api1.call("GET", f"/files/{uploaded['id']}").status_code == 404
    assert api2.ok("GET", "/quota")["bytes_used"] == quota_before


def test_every_service_is_ready_and_measured(api1, api2, files_servers):
    for base in [api1.base, api2.base, *files_servers, os.environ["FLUIDCLOUD_STACK_WORKER"]]:
        assert httpx.get(f"{base}/readyz").status_code == 200, base
        metrics = httpx.get(f"{base}/metrics").text
        assert "# TYPE" in metrics or "fluidcloud_jobs_queue_depth" in metrics, base
    worker_metrics = httpx.get(f"{os.environ['FLUIDCLOUD_STACK_WORKER']}/metrics").text
    assert "fluidcloud_jobs_queue_depth" in worker_metrics
