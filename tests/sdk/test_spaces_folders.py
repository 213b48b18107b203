"""Spaces, folders and the error classes, through the official SDK."""

import uuid

import pytest
from fluidcloud import AuthError, FluidCloud, FluidCloudError, NotFoundError, PermissionError_
from fluidcloud.models import Folder, Space


def test_spaces_list_and_create(fc):
    spaces = fc.spaces.list()
    assert spaces, "the list is never empty"
    assert all(isinstance(s, Space) for s in spaces)
    created = fc.spaces.create("SDK space")
    assert created.name == "SDK space"
    assert created.id in {s.id for s in fc.spaces.list()}
    assert created.created_at.endswith("Z")


def test_folders_lifecycle(fc, space):
    parent = fc.folders.create("parent", space_id=space.id)
    assert isinstance(parent, Folder)
    assert parent.parent_id is None and parent.space_id == space.id
    child = fc.folders.create("child", space_id=space.id, parent_id=parent.id)
    assert child.parent_id == parent.id

    assert [f.id for f in fc.folders.list(space.id)] == [parent.id]
    assert [f.id for f in fc.folders.list(space.id, parent.id)] == [child.id]

    renamed = fc.folders.rename(child.id, "renamed")
    assert renamed.name == "renamed" and renamed.parent_id == parent.id

    moved = fc.folders.move(child.id, None)  # explicit null: to the space root
    assert moved.parent_id is None
    moved = fc.folders.move(child.id, parent.id)
    assert moved.parent_id == parent.id

    trashed = fc.folders.delete(parent.id)
    assert trashed.deleted_at is not None
    assert fc.folders.list(space.id) == []
    assert {f.id for f in fc.folders.list(space.id, trash=True)} == {parent.id, child.id}

    restored = fc.folders.restore(parent.id)
    assert restored.deleted_at is None
    assert [f.id for f in fc.folders.list(space.id, parent.id)] == [child.id]


def test_moving_into_a_descendant_is_refused(fc, space):
    a = fc.folders.create("a", space_id=space.id)
    b = fc.folders.create("b", space_id=space.id, parent_id=a.id)
    with pytest.raises(FluidCloudError) as caught:
        fc.folders.move(a.id, b.id)
    assert caught.value.status == 400


def test_unknown_ids_raise_not_found(fc, space):
    missing = str(uuid.uuid4())
    with pytest.raises(NotFoundError):
        fc.folders.rename(missing, "x")
    with pytest.raises(NotFoundError):
        fc.folders.create("x", space_id=missing)
    with pytest.raises(NotFoundError) as caught:
        fc.folders.list(space.id, parent_id=missing)
    assert caught.value.status == 404
    assert isinstance(caught.value.detail, str)


def test_bad_keys_raise_auth_error(base_url):
    for key in ["fck_live_" + "x" * 40, "fck_nope", "not-even-a-key"]:
        with FluidCloud(api_key=key, base_url=base_url) as bad:
            with pytest.raises(AuthError) as caught:
                bad.spaces.list()
            assert caught.value.status == 401


def test_missing_scope_raises_permission_error(key_with_scopes, space):
    with key_with_scopes("spaces:read") as reader:
        assert reader.spaces.list()
        with pytest.raises(PermissionError_) as caught:
            reader.spaces.create("nope")
        assert caught.value.detail == {
            "error": "insufficient_scope",
            "required": ["spaces:write"],
            "missing": ["spaces:write"],
        }
        with pytest.raises(PermissionError_):
            reader.folders.list(space.id)


def test_federation_calls_are_not_served(fc):
    """The SDK's service-token exchange is part of the hosted product's federation,
    which this server does not implement: it answers 404, so the SDK raises cleanly."""
    with pytest.raises(NotFoundError) as caught:
        fc.exchange_service_token("a-user-jwt", "fluidtalk")
    assert caught.value.status == 404
    with pytest.raises(NotFoundError):
        fc.as_user("a-user-jwt", "fluidtalk")
