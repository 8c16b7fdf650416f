"""``LinkVerbs``: the meta-only verbs of ``ObjectStore`` (``update_meta`` with rename, ``add_link``,
``add_bucket_link``), mixed into it. Must not read or write object data (chunks).

Every verb validates its input before anything is read, then publishes one meta (a rollup);
a rename purges the old name's meta subject afterwards.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from protocol import Headers, next_nuid

from .errors import BadObjectMetaError, LinkNotAllowedError, ObjectAlreadyExists, ObjectNotFoundError
from .models import ObjectInfo, ObjectLink, ObjectMeta, ObjectMetaOptions
from .subjects import validate_object_name
from .validate import validate_object_meta

__all__ = ["LinkVerbs"]


class LinkVerbs:
    """Meta updates and links; expects ``ObjectStore``'s ``bucket``, ``handle``, ``stream_name``,
    ``_metas``, ``get_info``, ``_maybe_info`` and ``_other``."""

    # Meta updates and links --------------------------------------------------------------------
    async def update_meta(self, name: str, meta: ObjectMeta) -> ObjectInfo:
        """Change name (rename), description, headers or metadata; fields left ``None`` keep their
        value. With ``meta.options.link`` on a name that does not exist, creates that link (the
        seed's example). Raises ObjectNotFoundError, ObjectDeletedError, ObjectAlreadyExists,
        BadObjectHeaderError / BadObjectMetaError (bad input, refused before anything is read)."""
        validate_object_name(name)
        if meta.name is not None and meta.name != "":
            validate_object_name(meta.name)
        validate_object_meta(description=meta.description, headers=meta.headers, metadata=meta.metadata)
        try:
            info = await self.get_info(name)
        except ObjectNotFoundError:
            link = meta.options.link if meta.options is not None else None
            if link is None or await self._maybe_live(name):
                raise
            return await self._link_from_meta(name, meta, link)
        new_name = meta.name or name
        if new_name != name:
            existing = await self._maybe_info(new_name)
            if existing is not None and not existing.deleted:
                raise ObjectAlreadyExists(f"an object named {new_name!r} already exists")
        info.name = new_name
        if meta.description is not None:
            info.description = meta.description or None
        if meta.headers is not None:
            info.headers = Headers(meta.headers) if meta.headers else None
        if meta.metadata is not None:
            info.metadata = dict(meta.metadata) or None
        if meta.options is not None and meta.options.link is not None and info.is_link():
            info.options = ObjectMetaOptions(link=meta.options.link, max_chunk_size=info.chunk_size)
        info.mtime = datetime.now(timezone.utc)
        await self._metas.publish(info)
        if new_name != name:
            await self.handle.js.purge_stream(self.stream_name, subject=self.handle.meta_subject(name))
        return info

    async def _maybe_live(self, name: str) -> bool:
        info = await self._maybe_info(name)
        return info is not None and not info.deleted

    async def _link_from_meta(self, name: str, meta: ObjectMeta, link: ObjectLink) -> ObjectInfo:
        if not link.name:
            info = await self.add_bucket_link(name, await self._other(link.bucket))
        else:
            store = await self._other(link.bucket)
            info = await self.add_link(name, await store.get_info(link.name))
        if meta.description or meta.headers or meta.metadata:
            info.description = meta.description or None
            info.headers = Headers(meta.headers) if meta.headers else None
            info.metadata = dict(meta.metadata) if meta.metadata else None
            await self._metas.publish(info)
        return info

    async def _check_link_name(self, name: str) -> None:
        existing = await self._maybe_info(name)
        if existing is not None and not existing.is_link() and not existing.deleted:
            raise ObjectAlreadyExists(f"an object named {name!r} already exists and is not a link")

    async def add_link(self, name: str, obj: ObjectInfo) -> ObjectInfo:
        """Make ``name`` a link to the object ``obj`` (in any bucket). Links to links and to
        deleted objects are refused (LinkNotAllowedError)."""
        validate_object_name(name)
        if obj is None or not obj.name:
            raise BadObjectMetaError("a link needs a target object")
        if obj.deleted:
            raise LinkNotAllowedError("not allowed to link to a deleted object")
        if obj.is_link():
            raise LinkNotAllowedError("not allowed to link to another link")
        await self._check_link_name(name)
        info = ObjectInfo(
            name=name,
            bucket=self.bucket,
            nuid=next_nuid(),
            options=ObjectMetaOptions(link=ObjectLink(bucket=obj.bucket or self.bucket, name=obj.name)),
            mtime=datetime.now(timezone.utc),
        )
        await self._metas.publish(info)
        return info

    async def add_bucket_link(self, name: str, bucket: Any) -> ObjectInfo:
        """Make ``name`` a link to a whole bucket."""
        validate_object_name(name)
        if bucket is None or not getattr(bucket, "bucket", None):
            raise BadObjectMetaError("a bucket link needs a target bucket")
        await self._check_link_name(name)
        info = ObjectInfo(
            name=name,
            bucket=self.bucket,
            nuid=next_nuid(),
            options=ObjectMetaOptions(link=ObjectLink(bucket=bucket.bucket)),
            mtime=datetime.now(timezone.utc),
        )
        await self._metas.publish(info)
        return info
