"""Raw links through the official SDK: public hotlinks, expiring links, owner downloads,
listing and revoking — and plain GETs of the URLs it hands out."""

import hashlib
import os
import time

import httpx
import pytest
from fluidcloud import ConflictError, NotFoundError
from fluidcloud.models import Link, Share


MIB = 1024 * 1024


def get(url, **kwargs):
    return httpx.get(url, timeout=30, **kwargs)


def wait_for_status(url, status, timeout=1.0):
    deadline = time.time() + timeout
    while True:
        response = get(url)
        if response.status_code == status or time.time() > deadline:
            return response
        time.sleep(0.02)


def test_upload_public_then_plain_get(fc, space):
    data = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"pixels" * 100
    uploaded = fc.files.upload(data, space_id=space.id, name="logo.png", public=True)
    assert uploaded.public_url and "/s/" in uploaded.public_url
    response = get(uploaded.public_url)
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == "image/png"
    assert response.headers["cache-control"] == "public, max-age=3600"
    assert response.headers["content-disposition"].startswith("inline;")
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize("mib", [20, 120])
def test_large_public_uploads_are_shared_at_once(fc, space, tmp_path, mib):
    # The SDK shares right after complete, without polling: complete must answer with
    # the verdict (120 MiB is a multipart upload).
    path = tmp_path / "video.bin"
    data = os.urandom(mib * MIB + 321)
    path.write_bytes(data)
    uploaded = fc.files.upload(str(path), space_id=space.id, public=True,
                               content_type="application/octet-stream")
    assert uploaded.scan_status == "clean"
    assert uploaded.public_url and "/s/" in uploaded.public_url
    response = httpx.get(uploaded.public_url, timeout=120)
    assert response.status_code == 200
    assert hashlib.sha256(response.content).digest() == hashlib.sha256(data).digest()


def test_public_url_and_signed_url(fc, space):
    uploaded = fc.files.upload(b"shared text", space_id=space.id, name="s.txt")
    public = fc.files.public_url(uploaded.id)
    assert isinstance(public, Link)
    assert public.expires_at is None and public.permission == "view"
    signed = fc.files.signed_url(uploaded.id, expires_in_days=3)
    assert signed.expires_at is not None and signed.permission == "view"
    response = get(signed.url)
    assert response.status_code == 200 and response.content == b"shared text"
    assert response.headers["cache-control"] == "private, no-store"
    download = fc.files.signed_url(uploaded.id, expires_in_days=1, permission="download")
    assert get(download.url).headers["content-disposition"].startswith("attachment;")


def test_download_url_serves_the_bytes(fc, space):
    uploaded = fc.files.upload(b"mine to download", space_id=space.id, name="m.txt")
    response = get(fc.files.download_url(uploaded.id))
    assert response.status_code == 200
    assert response.content == b"mine to download"
    assert response.headers["content-disposition"].startswith("attachment;")


def test_shares_list_and_revoke(fc, space):
    uploaded = fc.files.upload(b"revocable", space_id=space.id, name="r.txt")
    link = fc.files.public_url(uploaded.id)
    shares = fc.shares.list(file_id=uploaded.id)
    assert [s.id for s in shares] == [link.id]
    assert isinstance(shares[0], Share)
    assert shares[0].revoked is False and shares[0].has_password is False
    assert get(link.url).status_code == 200
    assert fc.shares.revoke(link.id) is None
    assert wait_for_status(link.url, 410).status_code == 410
    assert fc.shares.list(file_id=uploaded.id) == []
    inactive = fc.shares.list(file_id=uploaded.id, include_inactive=True)
    assert inactive[0].revoked is True
    fc.shares.revoke(link.id)  # again: fine
    with pytest.raises(NotFoundError):
        fc.shares.revoke("00000000-0000-4000-8000-000000000000")


def test_sharing_a_file_that_is_not_clean_is_a_conflict(fc, space):
    eicar = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
    infected = fc.files.upload(eicar, space_id=space.id, name="eicar.com")
    assert infected.scan_status == "infected"
    with pytest.raises(ConflictError):
        fc.files.public_url(infected.id)
    with pytest.raises(ConflictError):
        fc.files.upload(eicar, space_id=space.id, name="eicar2.com", public=True)


def test_trashed_files_stop_serving_and_restore_brings_them_back(fc, space):
    uploaded = fc.files.upload(b"now you see me", space_id=space.id, name="t.txt", public=True)
    fc.files.delete(uploaded.id)
    assert wait_for_status(uploaded.public_url, 404).status_code == 404
    fc.files.restore(uploaded.id)
    assert wait_for_status(uploaded.public_url, 200).status_code == 200
