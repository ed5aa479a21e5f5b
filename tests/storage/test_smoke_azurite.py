import polars as pl


def test_write_read_roundtrip(any_lake):
    any_lake.write("t", pl.DataFrame({"a": [1, 2, 3], "p": ["x", "y", "x"]}), partition_by="p")
    any_lake.write("t", pl.DataFrame({"a": [4], "p": ["y"]}), mode="append")
    got = any_lake.table("t").sort("a").collect()
    assert got["a"].to_list() == [1, 2, 3, 4]
    any_lake.write("d", pl.DataFrame({"a": [1]}), format="delta")
    any_lake.write("d", pl.DataFrame({"a": [2]}), format="delta", mode="append")
    assert sorted(any_lake.table("d").collect()["a"].to_list()) == [1, 2]
    assert any_lake.tables() == ["d", "t"]
