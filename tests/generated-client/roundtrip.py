"""Round trip through a client generated from /api/v1/openapi.json (scripts/generated-client-test).

Only the generated package's operations and models are used for the API (with the key
as `Authorization: Bearer`); the PUT to the presigned URL and the raw link are plain
HTTP, as they are not part of the API document.
"""

import hashlib
import os
import sys
import urllib.request

from fc_generated import AuthenticatedClient
from fc_generated.api.files import get_file
from fc_generated.api.shares import create_share, list_shares
from fc_generated.api.spaces import create_space, list_spaces
from fc_generated.api.uploads import complete, initiate
from fc_generated.models import (
    CompleteUpload,
    CreateShare,
    CreateSpace,
    File,
    InitiateUpload,
    Link,
    Space,
    UploadTicket,
)


def check(condition, message):
    if not condition:
        print(f"FAILED: {message}", file=sys.stderr)
        sys.exit(1)


def main():
    client = AuthenticatedClient(base_url=os.environ["FC_API_URL"], token=os.environ["FC_API_KEY"])

    reply = create_space.sync_detailed(client=client, body=CreateSpace(name="Generated client", app="gen-test"))
    check(reply.status_code == 201, f"create space: {reply.status_code} {reply.content!r}")
    space = reply.parsed
    check(isinstance(space, Space) and space.name == "Generated client", f"space: {space!r}")

    spaces = list_spaces.sync_detailed(client=client, limit=1000)
    check(spaces.status_code == 200, f"list spaces: {spaces.status_code}")
    check(any(s.id == space.id for s in spaces.parsed), "the new space is listed")

    data = b"generated client round trip\n" * 64
    reply = initiate.sync_detailed(
        client=client,
        body=InitiateUpload(
            original_name="roundtrip.txt", content_type="text/plain", size=len(data), space_id=space.id
        ),
    )
    check(reply.status_code == 200, f"initiate: {reply.status_code} {reply.content!r}")
    ticket = reply.parsed
    check(isinstance(ticket, UploadTicket) and ticket.mode.value == "single", f"ticket: {ticket!r}")
    put = urllib.request.Request(
        ticket.upload_url, data=data, method="PUT", headers=ticket.to_dict()["headers"]
    )
    with urllib.request.urlopen(put) as answer:
        check(answer.status == 200, f"PUT: {answer.status}")

    reply = complete.sync_detailed(
        client=client,
        body=CompleteUpload(
            file_id=ticket.file_id,
            key=ticket.key,
            original_name="roundtrip.txt",
            mime="text/plain",
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            space_id=space.id,
        ),
    )
    check(reply.status_code == 201, f"complete: {reply.status_code} {reply.content!r}")
    file = reply.parsed
    check(isinstance(file, File) and file.scan_status.value == "clean", f"file: {file!r}")

    again = get_file.sync_detailed(client=client, id=file.id)
    check(again.status_code == 200 and again.parsed.size == len(data), f"get file: {again.status_code}")

    reply = create_share.sync_detailed(client=client, body=CreateShare(file_id=file.id, expires_in_days=7))
    check(reply.status_code == 201, f"share: {reply.status_code} {reply.content!r}")
    link = reply.parsed
    check(isinstance(link, Link) and link.permission.value == "download", f"link: {link!r}")
    with urllib.request.urlopen(link.url) as answer:
        check(answer.read() == data, "the link serves the uploaded bytes")

    shares = list_shares.sync_detailed(client=client, file_id=file.id)
    check(shares.status_code == 200 and [s.id for s in shares.parsed] == [link.id], "share listed")

    missing = get_file.sync_detailed(client=client, id=space.id)
    check(missing.status_code == 404, f"unknown file: {missing.status_code}")
    print("generated client round trip: OK")


main()
