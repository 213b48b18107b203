"""Reads bench/suite's JSON lines on stdin and prints the README's table: medians of the
repeated measurements and the ratios the targets are stated in."""

import json
import statistics
import sys

runs = {}
for line in sys.stdin:
    line = line.strip()
    if line.startswith("{"):
        record = json.loads(line)
        runs.setdefault(record["bench"], []).append(record)


def median(name, field):
    values = [r[field] for r in runs.get(name, []) if r.get(field) is not None]
    return statistics.median(values) if values else float("nan")


rows = [
    ("hot 4 KiB permanent link, 64 connections (req/s)", median("hot_4k_link", "requests_per_second"),
     f"{median('hot_4k_link', 'requests_per_second') / median('hot_4k_nginx', 'requests_per_second'):.2f}× nginx ({median('hot_4k_nginx', 'requests_per_second'):.0f} req/s)", "≥ 0.8×"),
    ("p99 latency of that link (ms)", median("hot_4k_link", "p99_ms"), f"nginx {median('hot_4k_nginx', 'p99_ms'):.1f} ms", "< 5 ms"),
]
for c in (4, 1):
    link, direct = median(f"large_64m_link_c{c}", "mb_per_second"), median(f"large_64m_presigned_c{c}", "mb_per_second")
    relay = median(f"large_64m_splice_relay_c{c}", "mb_per_second")
    plural = "s" if c > 1 else ""
    rows.append((f"64 MiB link, {c} connection{plural} (MB/s)", link, f"{link / direct:.2f}× direct presigned GET ({direct:.0f} MB/s)", "≥ 0.9×"))
    rows.append((f"the same GET through a splice-only relay, {c} connection{plural} (MB/s)", relay,
                 f"{relay / direct:.2f}× direct; the link is {link / relay:.2f}× this relay", "yardstick"))
    for name, label in ((f"large_64m_link_c{c}", "files server"), (f"large_64m_splice_relay_c{c}", "splice relay")):
        per_gb = statistics.median(r["cores"] / r["mb_per_second"] * 1000 for r in runs.get(name, []) if r.get("cores") and r.get("mb_per_second")) if runs.get(name) else float("nan")
        rows.append((f"CPU of the {label} while relaying, {c} connection{plural} (cores per GB/s)", per_gb, "", "report"))
healthz = median("api_healthz", "requests_per_second")
for name, label in (("api_me_limits_in_postgres", "in PostgreSQL"), ("api_me_limits_in_memory", "in memory")):
    me = median(name, "requests_per_second")
    rows.append((f"GET /api/v1/me, limits counted {label} (req/s)", me, f"{me / healthz:.2f}× /healthz ({healthz:.0f} req/s)", "report"))
rows += [
    ("upload round trips: initiate → PUT → complete (/s)", median("upload_pairs", "uploads_per_second"), "8 client threads", "report"),
    ("built-in scanner (MB/s)", median("scan_builtin", "mb_per_second"), "256 MiB in memory, SHA-256 alongside", "report"),
    ("clamd INSTREAM (MB/s)", median("scan_clamd", "mb_per_second"), "256 MiB", "report"),
    ("worker against clamd, pending → clean (MB/s)", median("worker_scan_clamd", "mb_per_second"), "4 × 64 MiB", "report"),
]
print("| what | median | compared | target |")
print("|---|---|---|---|")
for what, value, compared, target in rows:
    print(f"| {what} | {value:,.2f} | {compared} | {target} |" if value < 10 else f"| {what} | {value:,.0f} | {compared} | {target} |")
