"""Lost responses, resets and delays between lakeml and Azure: commits stay exactly-once.

The relay forwards a request to Azurite and then loses its response, so Azure has applied the
write but the client never hears it; the Azure SDK retries and gets 409. lakeml's commits carry a
writer token and recognise their own entry (see docs/lake.md, "Idempotent commits").
"""

from __future__ import annotations

import polars as pl
import pytest

from lakeml.session import Lake
from tests.faults.relay import Relay, Rule

LOG_PUT = r"/_lakeml_log/\d{20}\.json"


@pytest.mark.parametrize("mode", ["create", "append", "overwrite"])
def test_lost_commit_response_commits_once(relay_lake: Lake, relay: Relay, mode: str):
    rows = pl.DataFrame({"i": range(10)})
    if mode != "create":
        relay_lake.write("t", rows)
    rule = relay.add(Rule("PUT", LOG_PUT, "drop"))
    relay_lake.write("t", rows.with_columns(i=pl.col("i") + 10), mode="error" if mode == "create" else mode)
    assert rule.hits, "the relay never saw the commit"
    got = relay_lake.table("t").collect()["i"].sort().to_list()
    expected = {"create": list(range(10, 20)), "append": list(range(20)), "overwrite": list(range(10, 20))}[mode]
    assert got == expected
    assert relay_lake.describe("t").version == (0 if mode == "create" else 1)


def test_every_commit_response_lost_still_once(relay_lake: Lake, relay: Relay):
    relay_lake.write("t", pl.DataFrame({"i": [0]}))
    for k in range(1, 4):
        relay.add(Rule("PUT", LOG_PUT, "drop"))
        relay_lake.write("t", pl.DataFrame({"i": [k]}), mode="append")
    assert relay_lake.table("t").collect()["i"].sort().to_list() == [0, 1, 2, 3]


def test_reset_before_commit_is_retried(relay_lake: Lake, relay: Relay):
    relay_lake.write("t", pl.DataFrame({"i": [0]}))
    rule = relay.add(Rule("PUT", LOG_PUT, "reset"))
    relay_lake.write("t", pl.DataFrame({"i": [1]}), mode="append")
    assert rule.hits
    assert relay_lake.table("t").collect()["i"].sort().to_list() == [0, 1]


def test_delayed_responses_change_nothing(relay_lake: Lake, relay: Relay):
    relay.add(Rule("PUT", LOG_PUT, "delay", times=2, delay=0.5))
    relay_lake.write("t", pl.DataFrame({"i": [0]}))
    relay_lake.write("t", pl.DataFrame({"i": [1]}), mode="append")
    assert relay_lake.table("t").collect()["i"].sort().to_list() == [0, 1]


def test_lost_alias_and_catalog_responses(relay_lake: Lake, relay: Relay, tmp_path):
    from tests.scoring.models import regressor

    relay_lake.models.register(regressor()[0], name="m")
    relay_lake.models.register(regressor()[0], name="m")
    relay.add(Rule("PUT", r"/_aliases/\d{20}\.json", "drop"))
    relay_lake.models.set_alias("m", 1, "champion")
    relay.add(Rule("PUT", r"/_aliases/\d{20}\.json", "drop"))
    relay_lake.models.set_alias("m", 2, "challenger")
    assert relay_lake.models.get("m@champion").version == 1
    assert relay_lake.models.get("m@challenger").version == 2
    relay_lake.write("src", pl.DataFrame({"i": [1]}))
    relay.add(Rule("PUT", r"/_lakeml/catalog/\d{20}\.json", "drop"))
    relay_lake.register_table("ext", relay_lake.catalog.info("src").location + "/data/*/*.parquet",
                              format="parquet")
    assert "ext" in relay_lake.tables()


def test_lost_manifest_response_registers_once(relay_lake: Lake, relay: Relay):
    from tests.scoring.models import regressor

    rule = relay.add(Rule("PUT", r"/_lakeml/models/m/1/manifest\.json", "drop"))
    mv = relay_lake.models.register(regressor()[0], name="m")
    assert rule.hits and mv.version == 1
    assert relay_lake.models.list()["version"].to_list() == [1]


@pytest.mark.parametrize("mode", ["append", "overwrite"])
def test_lost_delta_commit_response_commits_once(relay_lake: Lake, relay: Relay, mode: str):
    relay_lake.write("d", pl.DataFrame({"i": range(10)}), format="delta")
    rule = relay.add(Rule("PUT", r"/_delta_log/\d{20}\.json", "drop"))
    result = relay_lake.write("d", pl.DataFrame({"i": range(10, 20)}), mode=mode, format="delta")
    assert rule.hits, "the relay never saw the Delta commit"
    expected = list(range(20)) if mode == "append" else list(range(10, 20))
    assert relay_lake.table("d").collect()["i"].sort().to_list() == expected
    assert result.version == 1
    assert relay_lake.describe("d").version == 1  # one commit: an overwrite applied twice keeps the rows
