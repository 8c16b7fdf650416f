"""objstore.fs_listing (sans-I/O, no fsspec needed): bucket/name splitting and which names ``ls``
and ``find`` show under a path, from '/' in object names."""

from __future__ import annotations

from objstore.fs_listing import dir_entry, file_entry, find_names, ls_names, split_path
from objstore.models import ObjectInfo, ObjectLink, ObjectMetaOptions

NAMES = ["top.txt", "dir/a.txt", "dir/sub/c.txt", "dir/sub/deeper/d.txt", "dirt.txt", "x"]


def test_split_path() -> None:
    assert split_path("b/dir/a.txt") == ("b", "dir/a.txt")
    assert split_path("/b") == ("b", "") and split_path("") == ("", "")


def test_ls_names() -> None:
    top = ls_names("", NAMES)
    assert top.files == ["dirt.txt", "top.txt", "x"] and top.dirs == ["dir"] and not top.exact
    sub = ls_names("dir", NAMES)
    assert sub.files == ["dir/a.txt"] and sub.dirs == ["dir/sub"]
    assert ls_names("dir/a.txt", NAMES).exact and ls_names("dir/a.txt", NAMES).files == []
    assert ls_names("di", NAMES) == ls_names("nope", NAMES)  # a name prefix is not a directory
    assert ls_names("di", NAMES).files == [] and ls_names("di", NAMES).dirs == []


def test_find_names() -> None:
    everything = find_names("", NAMES)
    assert everything.files == sorted(NAMES)
    assert everything.dirs == ["dir", "dir/sub", "dir/sub/deeper"]
    one = find_names("dir", NAMES, maxdepth=1)
    assert one.files == ["dir/a.txt"] and one.dirs == ["dir/sub"]
    two = find_names("dir", NAMES, maxdepth=2)
    assert two.files == ["dir/a.txt", "dir/sub/c.txt"] and two.dirs == ["dir/sub", "dir/sub/deeper"]
    assert find_names("x", NAMES).exact and find_names("x", NAMES).files == []


def test_entries() -> None:
    target = ObjectInfo(name="t", bucket="b", nuid="N", size=10, chunks=1, digest="SHA-256=x")
    link = ObjectInfo(name="l", bucket="b", options=ObjectMetaOptions(link=ObjectLink(bucket="b", name="t")))
    entry = file_entry("b", link, target)
    assert entry["name"] == "b/l" and entry["size"] == 10 and entry["link"] == "b/t" and entry["type"] == "file"
    assert file_entry("b", target)["nuid"] == "N" and "link" not in file_entry("b", target)
    assert dir_entry("b/d") == {"name": "b/d", "size": 0, "type": "directory"}
