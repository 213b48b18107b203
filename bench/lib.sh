# Shared by bench/suite and bench/limits: wrk runs printed as one JSON line each.

cpu_ticks() { # user + system CPU of a process so far, in clock ticks
  awk '{print $14 + $15}' "/proc/$1/stat"
}
wrk_json() { # name url [wrk args…]: requests/s, transfer/s, p99 latency, and with
  # CPU_PID set the cores that process used meanwhile
  local name=$1 url=$2 before=0 after=0 started ended
  shift 2
  [ -z "${CPU_PID:-}" ] || before=$(cpu_ticks "$CPU_PID")
  started=$(date +%s.%N)
  local text
  text=$(wrk --latency "$@" "$url")
  ended=$(date +%s.%N)
  [ -z "${CPU_PID:-}" ] || after=$(cpu_ticks "$CPU_PID")
  printf '%s' "$text" | python3 -c "
import json, re, sys
text = sys.stdin.read()
cores = ($after - $before) / $(getconf CLK_TCK) / ($ended - $started) if '${CPU_PID:-}' else None
def number(pattern):
    match = re.search(pattern, text)
    return match.group(1) if match else None
def seconds(value):
    match = re.match(r'([0-9.]+)(us|ms|s)', value or '')
    return float(match.group(1)) * {'us': 1e-6, 'ms': 1e-3, 's': 1}[match.group(2)] if match else None
def rate(value):
    match = re.match(r'([0-9.]+)(B|KB|MB|GB)', value or '')
    return float(match.group(1)) * {'B': 1, 'KB': 1e3, 'MB': 1e6, 'GB': 1e9}[match.group(2)] / 1e6 if match else None
print(json.dumps({'bench': '$name', 'requests_per_second': float(number(r'Requests/sec:\s+([0-9.]+)') or 0),
    'mb_per_second': rate(number(r'Transfer/sec:\s+(\S+)')), 'p99_ms': (seconds(number(r'99%\s+(\S+)')) or 0) * 1e3,
    'non_2xx': int(number(r'Non-2xx or 3xx responses: (\d+)') or 0), 'cores': cores}))"
}

