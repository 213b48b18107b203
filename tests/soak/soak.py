"""The soak: a mixed load of SDK-like clients on the production topology (scripts/stack)
while a fault loop restarts the store and PostgreSQL and SIGKILLs the worker, one API
and one files server; then checks that nothing acknowledged was lost.

Run it through scripts/soak, which starts the stack. Every upload the API acknowledged
(201 from complete or import-url) must end readable with the bytes sent, or reported
infected/failed; /quota must equal a recount from the rows; `admin reconcile` must find
no object without a row (beyond those whose deletion is queued) and no row without its
object; no answer may be a 5xx other than 503; each service's resident memory stays
under the bound. Prints a summary table; exits 1 on any violation.
"""

import argparse
import collections
import hashlib
import http.server
import json
import os
import random
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
import uuid

import httpx

MIB = 1024 * 1024
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
SERVICES = ["api1", "api2", "files1", "files2", "worker"]
# What the fault loop does, in turn.
FAULTS = ["store", "postgres", "worker", "api2", "files2"]
# Seconds after a fault during which refused connections and 503s are its doing.
GRACE = 15


def env(name):
    value = os.environ.get(name)
    if not value:
        sys.exit(f"{name} is not set: run the soak through scripts/soak")
    return value


def content(seed, size):
    """The bytes of a soak file, recomputable from its seed (so ranges can be checked
    without keeping every file in memory)."""
    if seed < 0:
        return EICAR
    return random.Random(seed).randbytes(size)


class Tally:
    """Counts shared by every thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ops = collections.Counter()
        self.errors = collections.Counter()
        self.faults = collections.Counter()
        self.violations = []
        self.fault_windows = []

    def op(self, name):
        with self.lock:
            self.ops[name] += 1

    def error(self, kind):
        with self.lock:
            self.errors[kind] += 1

    def violation(self, what):
        with self.lock:
            self.violations.append(what)
        print(f"VIOLATION: {what}", file=sys.stderr, flush=True)

    def in_fault_window(self, at):
        with self.lock:
            return any(start <= at <= end + GRACE for start, end in self.fault_windows)


class Ledger:
    """What the API acknowledged, and what the clients did to it since."""

    def __init__(self):
        self.lock = threading.Lock()
        self.files = {}

    def add(self, file_id, **entry):
        with self.lock:
            self.files[file_id] = dict(entry, state="live")

    def set(self, file_id, state):
        with self.lock:
            self.files[file_id]["state"] = state

    def pick(self, state="live", clean=False):
        with self.lock:
            ids = [i for i, f in self.files.items()
                   if f["state"] == state and (not clean or f.get("scan") == "clean")]
            if not ids:
                return None
            file_id = random.choice(ids)
            return file_id, dict(self.files[file_id])

    def snapshot(self):
        with self.lock:
            return {i: dict(f) for i, f in self.files.items()}


class Client:
    """One SDK-like client: its own HTTP connections, either API instance per call."""

    def __init__(self, ctx, number):
        self.ctx = ctx
        self.rng = random.Random(number)
        self.http = httpx.Client(timeout=90, headers={"X-API-Key": ctx.key})

    def api(self):
        return self.rng.choice(self.ctx.apis)

    def call(self, what, method, url, ours=True, **kwargs):
        """A request; None when it failed (counted by kind). 5xx other than 503 from our
        services are violations; the object store's own answers (`ours=False`, the
        presigned PUTs) are counted as errors whatever they are."""
        try:
            response = self.http.request(method, url, **kwargs)
        except httpx.TransportError as err:
            self.ctx.tally.error(f"{what}: {type(err).__name__}")
            return None
        if response.status_code == 503:
            detail = response.json().get("detail", "") if response.headers.get(
                "content-type", "").startswith("application/json") else ""
            self.ctx.tally.error(f"{what}: 503 {str(detail)[:40]}")
            return None
        if response.status_code >= 500 and not ours:
            self.ctx.tally.error(f"{what}: store answered {response.status_code}")
            return None
        if response.status_code >= 500:
            self.ctx.tally.violation(f"{what}: {response.status_code} {response.text[:200]}")
            return None
        return response

    def expect(self, what, response, *statuses):
        if response is None:
            return None
        if response.status_code not in statuses:
            self.ctx.tally.error(f"{what}: {response.status_code}")
            return None
        return response

    # The operations.

    def upload(self, space=None, multipart=False):
        space = space or self.ctx.space
        if multipart:
            seed, size = self.rng.getrandbits(48), self.rng.randint(13 * MIB, 20 * MIB)
        elif self.rng.random() < 0.05:
            seed, size = -1, len(EICAR)
        else:
            seed, size = self.rng.getrandbits(48), self.rng.randint(1, 256 * 1024)
        data = content(seed, size)
        base = self.api()
        kind = "multipart upload" if multipart else "upload"
        ticket = self.expect(kind, self.call(kind, "POST", f"{base}/api/v1/uploads/initiate", json={
            "original_name": f"soak-{seed}.bin", "content_type": "application/octet-stream",
            "size": size, "space_id": space}), 200)
        if ticket is None:
            return None
        ticket = ticket.json()
        body = {"file_id": ticket["file_id"], "key": ticket["key"], "original_name": f"soak-{seed}.bin",
                "size": size, "sha256": hashlib.sha256(data).hexdigest(), "space_id": space}
        if ticket["mode"] == "single":
            put = self.call(f"{kind} PUT", "PUT", ticket["upload_url"], ours=False, content=data,
                            headers=ticket["headers"])
            if self.expect(f"{kind} PUT", put, 200) is None:
                return None
        else:
            parts, part_size = [], ticket["part_size"]
            for part in ticket["part_urls"]:
                start = (part["part_number"] - 1) * part_size
                put = self.call(f"{kind} PUT", "PUT", part["url"], ours=False, content=data[start:start + part_size])
                if self.expect(f"{kind} PUT", put, 200) is None:
                    return None
                parts.append({"PartNumber": part["part_number"], "ETag": put.headers["etag"]})
            body.update(upload_id=ticket["upload_id"], parts=parts)
        done = self.expect(kind, self.call(kind, "POST", f"{base}/api/v1/uploads/complete", json=body), 201)
        if done is None:
            return None
        file = done.json()
        self.ctx.ledger.add(file["id"], seed=seed, size=size, scan=file["scan_status"], space=space)
        self.ctx.tally.op(kind)
        return file["id"]

    def import_url(self):
        seed, size = self.rng.getrandbits(48), self.rng.randint(1, 512 * 1024)
        url = f"{self.ctx.source}/{seed}/{size}"
        done = self.expect("import", self.call("import", "POST", f"{self.api()}/api/v1/uploads/import-url", json={
            "url": url, "space_id": self.ctx.space, "original_name": f"import-{seed}.bin"}), 201)
        if done is None:
            return
        file = done.json()
        self.ctx.ledger.add(file["id"], seed=seed, size=size, scan=file["scan_status"], space=self.ctx.space)
        self.ctx.tally.op("import")

    def refresh(self, file_id):
        response = self.expect("get file", self.call("get file", "GET", f"{self.api()}/api/v1/files/{file_id}"), 200)
        if response is not None:
            scan = response.json()["scan_status"]
            with self.ctx.ledger.lock:
                self.ctx.ledger.files[file_id]["scan"] = scan
            self.ctx.tally.op("get file")

    def share_and_read(self):
        picked = self.ctx.ledger.pick(clean=True)
        if picked is None:
            picked = self.ctx.ledger.pick()
            if picked:
                self.refresh(picked[0])
            return
        file_id, entry = picked
        share = self.expect("share", self.call("share", "POST", f"{self.api()}/api/v1/shares",
                                                json={"file_id": file_id}), 201, 404)
        if share is None or share.status_code == 404:  # trashed meanwhile
            return
        self.ctx.tally.op("share")
        link = share.json()["url"]
        path = link[link.index("/s/"):]
        files = self.rng.choice(self.ctx.files)
        size = entry["size"]
        start = self.rng.randrange(size)
        end = self.rng.randrange(start, size)
        got = self.call("link GET", "GET", files + path, headers={"Range": f"bytes={start}-{end}"})
        got = self.expect("link GET", got, 206, 200, 404, 410)
        if got is None or got.status_code in (404, 410):  # trashed or purged meanwhile
            return
        expected = content(entry["seed"], size)
        expected = expected[start:end + 1] if got.status_code == 206 else expected
        if got.content != expected:
            self.ctx.tally.violation(f"link of {file_id} served other bytes for {start}-{end}")
        self.ctx.tally.op("link range GET")

    def trash_restore(self):
        picked = self.ctx.ledger.pick() or self.ctx.ledger.pick("trashed")
        if picked is None:
            return
        file_id, entry = picked
        if entry["state"] == "live":
            if self.expect("trash", self.call("trash", "DELETE", f"{self.api()}/api/v1/files/{file_id}"), 204, 200):
                self.ctx.ledger.set(file_id, "trashed")
                self.ctx.tally.op("trash")
            else:
                return
        restored = self.call("restore", "POST", f"{self.api()}/api/v1/files/{file_id}/restore")
        if self.expect("restore", restored, 200):
            self.ctx.ledger.set(file_id, "live")
            self.ctx.tally.op("restore")

    def purge(self):
        picked = self.ctx.ledger.pick() or self.ctx.ledger.pick("trashed")
        if picked is None:
            return
        file_id, _ = picked
        self.ctx.ledger.set(file_id, "maybe purged")
        if self.expect("purge", self.call("purge", "DELETE", f"{self.api()}/api/v1/gdpr/files/{file_id}"), 200):
            self.ctx.ledger.set(file_id, "purged")
            self.ctx.tally.op("purge")

    def space_purge(self):
        created = self.expect("space", self.call("space", "POST", f"{self.api()}/api/v1/spaces",
                                                 json={"name": f"soak-{uuid.uuid4().hex[:8]}"}), 201)
        if created is None:
            return
        space = created.json()["id"]
        uploaded = [self.upload(space) for _ in range(2)]
        for file_id in filter(None, uploaded):
            self.ctx.ledger.set(file_id, "maybe purged")
        gone = self.call("space purge", "DELETE", f"{self.api()}/api/v1/spaces/{space}?purge=true")
        if self.expect("space purge", gone, 202, 200):
            for file_id in filter(None, uploaded):
                self.ctx.ledger.set(file_id, "purged")
            self.ctx.tally.op("space purge")

    def reads(self):
        base = self.api()
        if self.expect("list", self.call("list", "GET", f"{base}/api/v1/files?space_id={self.ctx.space}&limit=100"), 200):
            self.ctx.tally.op("list")
        if self.expect("quota", self.call("quota", "GET", f"{base}/api/v1/quota"), 200):
            self.ctx.tally.op("quota")

    def run(self, until):
        operations = [
            (self.upload, 30), (lambda: self.upload(multipart=True), 2), (self.share_and_read, 30),
            (self.trash_restore, 10), (self.purge, 4), (self.space_purge, 2), (self.import_url, 6),
            (self.reads, 16),
        ]
        actions, weights = zip(*operations)
        while time.time() < until:
            self.rng.choices(actions, weights)[0]()


class Source(http.server.BaseHTTPRequestHandler):
    """The import source: GET /SEED/SIZE answers that file's bytes."""

    def do_GET(self):
        seed, size = (int(part) for part in self.path.strip("/").split("/"))
        data = content(seed, size)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class Services:
    """The stack's processes: pids, restarts, memory."""

    def __init__(self, tally):
        self.tally = tally
        self.dir = env("FLUIDCLOUD_STACK_DIR")
        self.pids = env("FLUIDCLOUD_STACK_PIDS")
        self.urls = {"api1": env("FLUIDCLOUD_STACK_API1"), "api2": env("FLUIDCLOUD_STACK_API2"),
                     "files1": env("FLUIDCLOUD_STACK_FILES1"), "files2": env("FLUIDCLOUD_STACK_FILES2"),
                     "worker": env("FLUIDCLOUD_STACK_WORKER")}
        self.peak_rss = collections.Counter()

    def pid(self, name):
        lines = [line.split() for line in open(self.pids) if line.strip()]
        return int([pid for n, pid in lines if n == name][-1])

    def rss_mib(self, name):
        try:
            with open(f"/proc/{self.pid(name)}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except (FileNotFoundError, ProcessLookupError):
            pass
        return 0

    def sample(self):
        for name in SERVICES:
            self.peak_rss[name] = max(self.peak_rss[name], self.rss_mib(name))

    def ready(self, name, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if httpx.get(f"{self.urls[name]}/readyz", timeout=2).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.tally.violation(f"{name} not ready {timeout} s after a fault")
        return False

    def kill_and_restart(self, name):
        pid = self.pid(name)
        os.kill(pid, signal.SIGKILL)
        while alive(pid):
            time.sleep(0.05)
        time.sleep(1)
        subprocess.run([os.path.join(self.dir, "start"), name], check=True)
        self.ready(name)

    def inject(self, fault):
        if fault == "store":
            weed = env("FLUIDCLOUD_STACK_SEAWEEDFS")
            subprocess.run([os.path.join(weed, "stop")], check=True)
            time.sleep(3)
            subprocess.run([os.path.join(weed, "start")], check=True)
        elif fault == "postgres":
            subprocess.run([env("FLUIDCLOUD_STACK_POSTGRES_RESTART")], check=True)
        else:
            self.kill_and_restart(fault)
        for name in SERVICES:
            self.ready(name)


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def fault_loop(services, tally, until, every):
    turn = 0
    next_at = time.time() + every / 2
    while time.time() < until:
        if time.time() < next_at:
            time.sleep(0.2)
            continue
        fault = FAULTS[turn % len(FAULTS)]
        turn += 1
        started = time.time()
        print(f"[{time.strftime('%H:%M:%S')}] fault: {fault}", file=sys.stderr, flush=True)
        services.inject(fault)
        with tally.lock:
            tally.fault_windows.append((started, time.time()))
        tally.faults[fault] += 1
        next_at = time.time() + every


def admin(*args):
    command = [env("FLUIDCLOUD_BIN"), "admin", *shlex.split(env("FLUIDCLOUD_ADMIN_ARGS")), *args]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {done.stderr}")
    return json.loads(done.stdout)


def psql(sql):
    url = shlex.split(env("FLUIDCLOUD_ADMIN_ARGS"))[-1]
    return subprocess.run(["psql", url, "-Atc", sql], capture_output=True, text=True, check=True).stdout.strip()


class Context:
    def __init__(self, args):
        self.key = env("FLUIDCLOUD_API_KEY")
        self.apis = [env("FLUIDCLOUD_STACK_API1"), env("FLUIDCLOUD_STACK_API2")]
        self.files = [env("FLUIDCLOUD_STACK_FILES1"), env("FLUIDCLOUD_STACK_FILES2")]
        self.tally = Tally()
        self.ledger = Ledger()
        http = httpx.Client(headers={"X-API-Key": self.key}, timeout=30)
        me = http.get(f"{self.apis[0]}/api/v1/me").json()
        self.tenant = me["tenant_id"]
        # Budgets off: the soak measures faults, not rate limiting.
        admin("tenant", "update", self.tenant, "--requests-per-minute", "-1", "--shares-per-minute", "-1",
              "--initiates-per-minute", "-1", "--imports-per-minute", "-1")
        self.space = http.post(f"{self.apis[0]}/api/v1/spaces", json={"name": "soak"}).json()["id"]
        source = http_server()
        self.source = f"http://127.0.0.1:{source.server_address[1]}"


def http_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Source)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def settle(ctx, services):
    """After the load: every service up, every scan judged, the due jobs done."""
    for name in SERVICES:
        services.ready(name)
    http = httpx.Client(headers={"X-API-Key": ctx.key}, timeout=60)
    deadline = time.time() + 300
    for file_id, entry in ctx.ledger.snapshot().items():
        if entry["state"] in ("purged", "maybe purged"):
            continue
        while True:
            response = http.get(f"{ctx.apis[0]}/api/v1/files/{file_id}")
            if response.status_code != 200 or response.json()["scan_status"] != "pending":
                break
            if time.time() > deadline:
                ctx.tally.violation(f"{file_id} still pending 300 s after the load")
                break
            time.sleep(0.5)
    while int(psql("SELECT count(*) FROM jobs WHERE NOT dead AND run_at <= now()")) > 0:
        if time.time() > deadline:
            ctx.tally.violation("due jobs still queued 300 s after the load")
            break
        time.sleep(0.5)


def verify(ctx):
    """Every acknowledged file readable with its bytes or reported failed; purged ones
    gone. Returns counts for the table."""
    http = httpx.Client(headers={"X-API-Key": ctx.key}, timeout=120)
    outcome = collections.Counter()
    for file_id, entry in ctx.ledger.snapshot().items():
        base = ctx.apis[0]
        response = http.get(f"{base}/api/v1/files/{file_id}")
        if entry["state"] == "maybe purged":
            outcome["purge unacknowledged"] += 1
            continue
        if entry["state"] == "purged":
            if response.status_code != 404:
                ctx.tally.violation(f"purged file {file_id} answers {response.status_code}")
            outcome["purged, gone"] += 1
            continue
        if response.status_code == 404:
            ctx.tally.violation(f"LOSS: acknowledged file {file_id} is gone")
            outcome["lost"] += 1
            continue
        file = response.json()
        if entry["seed"] < 0:
            if file["scan_status"] != "infected":
                ctx.tally.violation(f"EICAR {file_id} ended {file['scan_status']}")
            outcome["infected, as sent"] += 1
            continue
        if file["scan_status"] != "clean":
            outcome[f"reported {file['scan_status']}"] += 1
            continue
        if file.get("deleted_at"):
            http.post(f"{base}/api/v1/files/{file_id}/restore")
        link = http.get(f"{base}/api/v1/files/{file_id}/download")
        if link.status_code != 200:
            ctx.tally.violation(f"download link of {file_id}: {link.status_code} {link.text[:100]}")
            continue
        body = httpx.get(link.json()["url"], timeout=120).content
        if hashlib.sha256(body).digest() != hashlib.sha256(content(entry["seed"], entry["size"])).digest():
            ctx.tally.violation(f"LOSS: {file_id} reads other bytes")
            outcome["corrupted"] += 1
        else:
            outcome["clean, bytes intact"] += 1
    return outcome


def check_books(ctx):
    """/quota against a recount, and rows against the bucket."""
    quota = httpx.get(f"{ctx.apis[0]}/api/v1/quota", headers={"X-API-Key": ctx.key}).json()
    usage = admin("tenant", "usage", ctx.tenant)
    recount = usage["recounted"]
    if not usage["consistent"] or (quota["bytes_used"], quota["bytes_reserved"]) != (
            recount["bytes_used"], recount["bytes_reserved"]):
        ctx.tally.violation(f"/quota {quota} differs from the recount {recount}")
    report = admin("reconcile")
    queued = set()
    for (payload,) in (row.split("\t") for row in psql(
            "SELECT payload FROM jobs WHERE NOT dead AND kind = 'delete_objects'").splitlines() if row):
        queued.update(json.loads(payload).get("object_keys", []))
    orphans = [key for key in report["objects_without_rows"] if key not in queued]
    if orphans:
        ctx.tally.violation(f"{len(orphans)} objects without rows, e.g. {orphans[:3]}")
    if report["rows_without_objects"]:
        ctx.tally.violation(f"rows without objects: {report['rows_without_objects'][:3]}")
    dead = int(psql("SELECT count(*) FROM jobs WHERE dead"))
    if dead:
        ctx.tally.violation(f"{dead} jobs gave up: {psql('SELECT kind, last_error FROM jobs WHERE dead LIMIT 3')}")
    return quota, recount, report, len(queued & set(report["objects_without_rows"]))


def print_server_lines(violation):
    """What the services logged about a violating request (by its request id)."""
    found = re.search(r'"request_id":"([0-9a-f]+)"', violation)
    if not found:
        return
    stack = env("FLUIDCLOUD_STACK_DIR")
    for log in sorted(os.listdir(stack)):
        if log.endswith(".log"):
            for line in open(os.path.join(stack, log), errors="replace"):
                if found.group(1) in line and '"level":"INFO"' not in line:
                    print(f"      {log}: {line.strip()[:1500]}")


def table(title, rows):
    print(f"\n{title}")
    width = max([len(str(name)) for name, _ in rows] + [10])
    for name, value in rows:
        print(f"  {str(name):<{width}}  {value:>8}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=600, help="seconds of load")
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--fault-every", type=int, default=20, help="seconds between faults")
    parser.add_argument("--rss-limit-mib", type=int, default=512)
    args = parser.parse_args()

    ctx = Context(args)
    services = Services(ctx.tally)
    started = time.time()
    until = started + args.duration
    threads = [threading.Thread(target=Client(ctx, n).run, args=(until,)) for n in range(args.clients)]
    threads.append(threading.Thread(target=fault_loop, args=(services, ctx.tally, until, args.fault_every)))
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        services.sample()
        time.sleep(1)
    load_secs = time.time() - started

    settle(ctx, services)
    services.sample()
    outcome = verify(ctx)
    quota, recount, report, queued_orphans = check_books(ctx)

    print(f"\nsoak: {load_secs:.0f} s of load, {args.clients} clients, a fault every {args.fault_every} s")
    table("operations acknowledged", sorted(ctx.tally.ops.items()))
    table("errors by kind (refused connections and 503s during faults are expected)",
          sorted(ctx.tally.errors.items()) or [("none", 0)])
    table("faults injected", [(f, ctx.tally.faults[f]) for f in FAULTS])
    table("acknowledged uploads at the end", sorted(outcome.items()))
    table("books", [("/quota bytes_used", quota["bytes_used"]), ("recounted bytes_used", recount["bytes_used"]),
                    ("/quota bytes_reserved", quota["bytes_reserved"]),
                    ("recounted bytes_reserved", recount["bytes_reserved"]),
                    ("objects without rows, deletion queued", queued_orphans),
                    ("rows without objects", len(report["rows_without_objects"]))])
    table(f"peak resident memory, MiB (bound {args.rss_limit_mib})",
          [(name, f"{services.peak_rss[name]:.0f}") for name in SERVICES])
    for name in SERVICES:
        if services.peak_rss[name] > args.rss_limit_mib:
            ctx.tally.violation(f"{name} peaked at {services.peak_rss[name]:.0f} MiB")
    losses = outcome["lost"] + outcome["corrupted"]
    table("verdict", [("losses", losses), ("violations", len(ctx.tally.violations))])
    for violation in ctx.tally.violations:
        print(f"  - {violation}")
        print_server_lines(violation)
    sys.exit(1 if ctx.tally.violations else 0)


if __name__ == "__main__":
    main()
