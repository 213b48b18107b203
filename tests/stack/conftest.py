"""Helpers for the end-to-end suite, which runs against scripts/stack: raw HTTP against
two API instances and two files servers, and control over the processes."""

import hashlib
import os
import signal
import subprocess
import time
import uuid

import httpx
import pytest

MIB = 1024 * 1024


def env(name):
    value = os.environ.get(name)
    if not value:
        pytest.exit(f"{name} is not set; run the suite through scripts/e2e-test", returncode=2)
    return value


class Api:
    """One API instance, as one key."""

    def __init__(self, base, key):
        self.base = base.rstrip("/")
        self.http = httpx.Client(timeout=120, headers={"X-API-Key": key})

    def call(self, method, path, **kwargs):
        return self.http.request(method, f"{self.base}/api/v1{path}", **kwargs)

    def ok(self, method, path, status=200, **kwargs):
        response = self.call(method, path, **kwargs)
        assert response.status_code == status, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    def default_space(self):
        return self.ok("GET", "/spaces")[0]["id"]

    def upload(self, space, name, data, content_type="application/octet-stream"):
        """initiate → presigned PUT(s) → complete, as the SDK does; returns the file."""
        ticket = self.ok("POST", "/uploads/initiate", json={
            "original_name": name, "content_type": content_type, "size": len(data), "space_id": space,
        })
        body = {
            "file_id": ticket["file_id"], "key": ticket["key"], "original_name": name, "mime": content_type,
            "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "space_id": space,
        }
        if ticket["mode"] == "single":
            put = httpx.put(ticket["upload_url"], content=data, headers=ticket["headers"], timeout=120)
            assert put.status_code == 200, put.text
        else:
            parts, size = [], ticket["part_size"]
            for part in ticket["part_urls"]:
                start = (part["part_number"] - 1) * size
                put = httpx.put(part["url"], content=data[start:start + size], timeout=120)
                assert put.status_code == 200, put.text
                parts.append({"PartNumber": part["part_number"], "ETag": put.headers["etag"]})
            body.update(upload_id=ticket["upload_id"], parts=parts)
        return self.ok("POST", "/uploads/complete", status=201, json=body)

    def wait_for_scan(self, file_id, timeout=120):
        deadline = time.time() + timeout
        while True:
            current = self.ok("GET", f"/files/{file_id}")
            if current["scan_status"] != "pending" or time.time() > deadline:
                return current
            time.sleep(0.1)


def eventually(check, timeout, what):
    """Polls `check` until it returns something truthy; fails after `timeout` seconds."""
    deadline = time.time() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.time() < deadline, f"{what} did not happen within {timeout} s"
        time.sleep(0.02)


class Processes:
    """The stack's service processes, by name."""

    def __init__(self):
        self.dir = env("FLUIDCLOUD_STACK_DIR")
        self.pids_file = env("FLUIDCLOUD_STACK_PIDS")

    def pid(self, name):
        pids = [line.split() for line in open(self.pids_file) if line.strip()]
        return int([pid for n, pid in pids if n == name][-1])

    def signal(self, name, sig):
        os.kill(self.pid(name), sig)

    def wait_exit(self, name, timeout):
        pid = self.pid(name)
        eventually(lambda: not alive(pid), timeout, f"{name} exiting")

    def start(self, name):
        subprocess.run([os.path.join(self.dir, "start"), name], check=True)

    def log(self, name):
        return open(os.path.join(self.dir, f"{name}.log")).read()


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture(scope="session")
def key():
    return env("FLUIDCLOUD_API_KEY")


@pytest.fixture(scope="session")
def api1(key):
    return Api(env("FLUIDCLOUD_STACK_API1"), key)


@pytest.fixture(scope="session")
def api2(key):
    return Api(env("FLUIDCLOUD_STACK_API2"), key)


@pytest.fixture(scope="session")
def files_servers():
    return [env("FLUIDCLOUD_STACK_FILES1"), env("FLUIDCLOUD_STACK_FILES2")]


@pytest.fixture(scope="session")
def processes():
    return Processes()


@pytest.fixture
def space(api1):
    return api1.ok("POST", "/spaces", status=201, json={"name": f"e2e-{uuid.uuid4().hex[:8]}"})["id"]
