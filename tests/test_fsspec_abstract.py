"""fsspec's own test suites (``fsspec.tests.abstract``: copy, get, put, open, pipe) run on the
``natsobj://`` filesystem against a real server. Skipped when fsspec is missing.

The object store has no empty directories (they come from '/' in object names), so
``supports_empty_directories`` is False, as for S3 filesystems.
"""

from __future__ import annotations

import posixpath
from typing import Any, Iterator

import pytest

fsspec = pytest.importorskip("fsspec")
abstract = pytest.importorskip("fsspec.tests.abstract")

import objstore.fsspec_fs  # noqa: E402,F401  (registers natsobj://)

pytestmark = pytest.mark.timeout(60)
BUCKET = "abstract"


class NatsObjFixtures(abstract.AbstractFixtures):
    @pytest.fixture(scope="class")
    @classmethod
    def fs(cls, module_server: Any) -> Iterator[Any]:
        fs = fsspec.filesystem("natsobj", servers=module_server.url, skip_instance_cache=True)
        fs.mkdir(BUCKET)
        try:
            yield fs
        finally:
            fs.close()

    @pytest.fixture
    def fs_path(self) -> str:
        return BUCKET

    @pytest.fixture
    def fs_join(self) -> Any:
        return posixpath.join

    @pytest.fixture
    def supports_empty_directories(self) -> bool:
        return False


class TestNatsObjCopy(abstract.AbstractCopyTests, NatsObjFixtures):
    pass


class TestNatsObjGet(abstract.AbstractGetTests, NatsObjFixtures):
    pass


class TestNatsObjPut(abstract.AbstractPutTests, NatsObjFixtures):
    pass


class TestNatsObjOpen(abstract.AbstractOpenTests, NatsObjFixtures):
    pass


class TestNatsObjPipe(abstract.AbstractPipeTests, NatsObjFixtures):
    pass
