"""The least a relay can do, as a yardstick for the files server's 64 MiB figure: an
HTTP/1.1 keep-alive proxy with no logic at all (no token, no lookup, no headers of its
own) that forwards each request's path to the store and moves the body with splice(2),
socket → pipe → socket, so the bytes never enter user space.
Usage: relay.py PORT UPSTREAM_HOST UPSTREAM_PORT (serves until killed)."""

import fcntl
import os
import socket
import sys
import threading

F_SETPIPE_SZ = 1031  # from <fcntl.h>; Python exposes it only on some builds
CHUNK = 1 << 20


def read_head(sock, buffered=b""):
    """Reads up to the blank line; returns (head lines, bytes read past it) or None at EOF."""
    data = buffered
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        if not more:
            return None
        data += more
    head, rest = data.split(b"\r\n\r\n", 1)
    return head.split(b"\r\n"), rest


def content_length(lines):
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise ValueError("upstream answered without Content-Length")


def serve(client, upstream_host, upstream_port):
    upstream = socket.create_connection((upstream_host, upstream_port))
    pipe_out, pipe_in = os.pipe()
    fcntl.fcntl(pipe_in, F_SETPIPE_SZ, CHUNK)
    try:
        leftover = b""
        while (request := read_head(client, leftover)) is not None:
            lines, leftover = request
            target = lines[0].split(b" ")[1]
            host = f"{upstream_host}:{upstream_port}".encode()
            upstream.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
            response = read_head(upstream)
            if response is None:
                return
            status_lines, body_start = response
            length = content_length(status_lines)
            client.sendall(b"\r\n".join(status_lines) + b"\r\n\r\n" + body_start)
            remaining = length - len(body_start)
            while remaining:
                moved = os.splice(upstream.fileno(), pipe_in, min(remaining, CHUNK))
                if moved == 0:
                    return
                remaining -= moved
                while moved:
                    moved -= os.splice(pipe_out, client.fileno(), moved)
    except (OSError, ValueError):
        pass  # the load generator hangs up mid-body when its time is up
    finally:
        for fd in (pipe_in, pipe_out):
            os.close(fd)
        upstream.close()
        client.close()


def main():
    port, upstream_host, upstream_port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    listener = socket.create_server(("127.0.0.1", port))
    while True:
        client, _ = listener.accept()
        threading.Thread(target=serve, args=(client, upstream_host, upstream_port), daemon=True).start()


if __name__ == "__main__":
    main()
