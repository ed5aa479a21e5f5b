"""``LakeStorage.modified_times`` of a folder, of a single file and of nothing, locally and on Azurite."""

from __future__ import annotations


def test_modified_times_of_a_folder_a_file_and_nothing(any_lake):
    storage = any_lake.storage
    storage.write_bytes("d/a.bin", b"a")
    storage.write_bytes("d/sub/b.bin", b"b")
    assert set(storage.modified_times("d")) == {"a.bin", "sub/b.bin"}
    single = storage.modified_times("d/a.bin")  # adlfs answers a file with a list of names, not details
    assert list(single) == [""] and single[""] > 0
    assert storage.modified_times("nothing-here") == {}
