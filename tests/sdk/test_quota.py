"""Quota through the official SDK."""

from fluidcloud.models import Quota


def test_quota_usage_follows_uploads_and_purges(fc, space):
    before = fc.quota.usage()
    assert isinstance(before, Quota)
    assert before.bytes_limit == -1 and before.links_limit == -1
    uploaded = fc.files.upload(b"x" * 1234, space_id=space.id, name="q.txt", app="quota-test")
    after = fc.quota.usage()
    assert after.bytes_used == before.bytes_used + 1234
    apps = {entry["app"]: entry for entry in after.by_app}
    assert apps["quota-test"]["bytes"] >= 1234 and apps["quota-test"]["files"] >= 1
    fc.files.signed_url(uploaded.id, expires_in_days=1)
    assert fc.quota.usage().links_used == after.links_used + 1
