from __future__ import annotations

import pytest

from lakeml.errors import ConfigError
from lakeml.storage.lakefs import clean_relpath
from lakeml.storage.uri import parse_location


@pytest.mark.parametrize(
    ("uri", "container", "path", "account"),
    [
        ("az://data/lake", "data", "lake", None),
        ("abfs://data/lake/x", "data", "lake/x", None),
        ("abfss://data@acct.dfs.core.windows.net/lake/", "data", "lake", "acct"),
        ("abfss://data@acct.dfs.core.windows.net", "data", "", "acct"),
    ],
)
def test_azure_uris(uri, container, path, account):
    loc = parse_location(uri)
    assert (loc.scheme, loc.container, loc.path, loc.account) == ("azure", container, path, account)
    assert loc.uri.startswith(f"az://{container}")


def test_local_paths_and_file_uris(tmp_path):
    assert parse_location(str(tmp_path)).path == tmp_path.resolve().as_posix()
    assert parse_location(f"file://{tmp_path}").path == tmp_path.resolve().as_posix()
    assert parse_location(tmp_path / "x").join("a", "b").path.endswith("/x/a/b")


def test_unsupported_scheme_and_empty():
    with pytest.raises(ConfigError, match="s3://"):
        parse_location("s3://bucket/x")
    with pytest.raises(ConfigError, match="empty"):
        parse_location("  ")


@pytest.mark.parametrize("bad", ["../x", "a/../../x", "/etc/passwd", "C:/x"])
def test_relpaths_cannot_escape_the_root(bad):
    with pytest.raises(ConfigError.__mro__[1]):  # LakeMLError
        clean_relpath(bad)
