"""Uploads and file management through the official SDK, unmodified."""

import hashlib
import io
import os
import time
import uuid

import httpx
import pytest
from fluidcloud import ConflictError, FluidCloudError, NotFoundError, QuotaExceededError
from fluidcloud.models import File

MIB = 1024 * 1024


def wait_for_scan(fc, file_id, timeout=60):
    deadline = time.time() + timeout
    while True:
        current = fc.files.get(file_id)
        if current.scan_status != "pending" or time.time() > deadline:
            return current
        time.sleep(0.1)


def test_upload_bytes_is_clean_at_once(fc, space):
    data = b"hello from the sdk\n"
    uploaded = fc.files.upload(data, space_id=space.id, name="hello.txt")
    assert isinstance(uploaded, File)
    assert uploaded.scan_status == "clean" and uploaded.status == "ready"
    assert uploaded.size == len(data)
    assert uploaded.sha256 == hashlib.sha256(data).hexdigest()
    assert uploaded.original_name == uploaded.name == "hello.txt"
    assert uploaded.mime == "text/plain"


def test_upload_a_path_and_a_file_object(fc, space, tmp_path):
    path = tmp_path / "photo.png"
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(2048)
    path.write_bytes(png)
    from_path = fc.files.upload(str(path), space_id=space.id)
    assert from_path.original_name == "photo.png"
    assert from_path.mime == "image/png"
    stream = io.BytesIO(b"from a stream")
    stream.name = "/some/dir/stream.txt"
    from_stream = fc.files.upload(stream, space_id=space.id)
    assert from_stream.original_name == "stream.txt"
    assert from_stream.size == len(b"from a stream")


def test_multipart_upload_of_100_mib(fc, space, tmp_path):
    path = tmp_path / "big.bin"
    size = 100 * MIB + 12345
    with open(path, "wb") as out:
        for _ in range(size // MIB):
            out.write(os.urandom(MIB))
        out.write(os.urandom(size % MIB))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    uploaded = fc.files.upload(str(path), space_id=space.id, content_type="application/octet-stream")
    assert uploaded.size == size
    # Scanned within scan.inline_budget_secs: the answer already carries the verdict.
    assert uploaded.scan_status == "clean"
    assert uploaded.sha256 == digest


def test_list_get_rename_move_delete_restore(fc, space):
    folder = fc.folders.create("docs", space_id=space.id)
    a = fc.files.upload(b"a", space_id=space.id, name="a.txt")
    b = fc.files.upload(b"b", space_id=space.id, name="b.txt", folder_id=folder.id)
    assert [f.id for f in fc.files.list(space.id)] == [a.id]
    assert [f.id for f in fc.files.list(space.id, folder.id)] == [b.id]
    assert fc.files.get(a.id).id == a.id

    renamed = fc.files.rename(a.id, "renamed.txt")
    assert renamed.original_name == "renamed.txt"
    moved = fc.files.move(a.id, folder.id)
    assert moved.folder_id == folder.id
    moved = fc.files.move(a.id, None)
    assert moved.folder_id is None

    deleted = fc.files.delete(a.id)
    assert deleted.deleted_at is not None
    assert fc.files.list(space.id) == []
    assert [f.id for f in fc.files.list(space.id, trash=True)] == [a.id]
    restored = fc.files.restore(a.id)
    assert restored.deleted_at is None
    assert [f.id for f in fc.files.list(space.id)] == [a.id]


def test_resolve_by_client_key_and_app(fc, space):
    key = f"avatar-{uuid.uuid4().hex[:8]}"
    first = fc.files.upload(b"v1", space_id=space.id, name="v1.txt", client_key=key)
    second = fc.files.upload(b"v2", space_id=space.id, name="v2.txt", client_key=key)
    assert fc.files.resolve(key).id == second.id
    talk = fc.files.upload(b"t", space_id=space.id, name="t.txt", client_key=key, app="fluidtalk")
    assert talk.source_app == "fluidtalk"
    assert fc.files.resolve(key, app="fluidtalk").id == talk.id
    assert [f.id for f in fc.files.list(space.id, app="fluidtalk")] == [talk.id]
    fc.files.delete(second.id)
    assert fc.files.resolve(key).id == first.id
    with pytest.raises(NotFoundError):
        fc.files.resolve("no-such-key")


def test_errors_map_to_the_sdk_classes(fc, space):
    with pytest.raises(NotFoundError):
        fc.files.get(str(uuid.uuid4()))
    with pytest.raises(NotFoundError):
        fc.files.upload(b"x", space_id=str(uuid.uuid4()))
    pending = fc.files.upload(os.urandom(17 * MIB), space_id=space.id, name="p.bin")
    if fc.files.get(pending.id).scan_status == "pending":
        with pytest.raises(ConflictError):
            fc.files.download_url(pending.id)
    with pytest.raises(FluidCloudError) as caught:
        fc.files.rename(pending.id, "bad/name")
    assert caught.value.status == 400


def test_download_url_serves_from_the_files_origin(fc, space):
    uploaded = fc.files.upload(b"downloadable", space_id=space.id, name="d.txt")
    url = fc.files.download_url(uploaded.id)
    assert "/d/" in url


def test_quota_exceeded_raises(base_url, tenant_id):
    from conftest import admin
    from fluidcloud import FluidCloud

    tenant = admin("tenant", "create", "--name", f"small-{uuid.uuid4().hex[:6]}", "--bytes-limit", "10")
    key = admin("key", "create", "--tenant", tenant["id"])["api_key"]
    with FluidCloud(api_key=key, base_url=base_url) as small:
        space = small.spaces.list()[0]
        small.files.upload(b"0123456789", space_id=space.id, name="fits.txt")
        with pytest.raises(QuotaExceededError) as caught:
            small.files.upload(b"1", space_id=space.id, name="one-too-many.txt")
        assert caught.value.detail["error"] == "quota_exceeded"
        assert caught.value.detail["limit"] == "storage"
