"""Fixtures for driving the official FluidCloud Python SDK (fluidcloud==0.1.0),
unmodified, against a running server.

The server is named by environment variables set by scripts/sdk-test:
FLUIDCLOUD_BASE_URL, FLUIDCLOUD_API_KEY, and, for minting restricted keys with the
admin CLI, FLUIDCLOUD_BIN plus FLUIDCLOUD_ADMIN_ARGS (e.g. "--data-dir /tmp/x").
"""

import json
import os
import shlex
import subprocess
import uuid

import pytest
from fluidcloud import FluidCloud


def _env(name):
    value = os.environ.get(name)
    if not value:
        pytest.exit(f"{name} is not set; run the suite through scripts/sdk-test", returncode=2)
    return value


@pytest.fixture(scope="session")
def base_url():
    return _env("FLUIDCLOUD_BASE_URL")


@pytest.fixture(scope="session")
def api_key():
    return _env("FLUIDCLOUD_API_KEY")


@pytest.fixture
def fc(base_url, api_key):
    with FluidCloud(api_key=api_key, base_url=base_url) as client:
        yield client


def admin(*args):
    """Runs `fluidcloud admin` against the server's database and returns its JSON."""
    command = [_env("FLUIDCLOUD_BIN"), "admin", *shlex.split(_env("FLUIDCLOUD_ADMIN_ARGS")), *args]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


@pytest.fixture(scope="session")
def tenant_id(base_url, api_key):
    with FluidCloud(api_key=api_key, base_url=base_url) as client:
        return client._request("GET", "/me")["tenant_id"]


@pytest.fixture
def key_with_scopes(base_url, tenant_id):
    """Mints a key of the same tenant holding exactly the given scopes."""

    def make(*scopes):
        created = admin("key", "create", "--tenant", tenant_id, "--scopes", ",".join(scopes))
        return FluidCloud(api_key=created["api_key"], base_url=base_url)

    return make


@pytest.fixture
def space(fc):
    return fc.spaces.create(f"sdk-{uuid.uuid4().hex[:8]}")
