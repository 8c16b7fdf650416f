"""The ``objstore`` conformance group (ADR-20; found by ``protocol.conformance.runner`` by name).

Rule: this module owns the object-store checks. On a scratch bucket (deleted afterwards): the
bucket's stream config, a multi-chunk round trip, the meta subject encoding (URL-safe base64
*with* padding), the digest form (``SHA-256=`` + URL-safe base64 of 32 bytes), rollup (one meta
message per name) and purge of the chunks on delete; the meta and chunk messages are read back
raw through the JetStream API, so what is checked is what the server stored. ``lint`` checks an
existing bucket written by any client (``--bucket NAME --read-only``: the scratch checks skip,
nothing is written), reusing the doctor's checks (``ObjectStore.check``) for chunk counts,
sizes and malformed metas. Without ``--bucket`` it lints a scratch bucket it fills itself.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from jetstream import subjects as js_subj
from jetstream.conformance import PREFIX, api, jetstream_available
from protocol.conformance import CheckFailed, Context, Group

from .chunks import decode_digest
from .errors import BadObjectMetaError
from .manager import Client
from .store import ObjectStore
from .subjects import all_chunks, all_meta, chunk_subject, meta_subject, stream_name

__all__ = ["GROUP", "GROUPS"]

CHUNK = 1024
DATA = bytes(range(256)) * 13  # 3328 bytes: 4 chunks, the last one short
NAMES = ("conformance/a b.txt", "ü")  # "/" and " " are legal; both encodings need "=" padding


async def _precondition(ctx: Context) -> "str | None":
    return await jetstream_available(ctx)


GROUP = Group("objstore", "ADR-20 object store: round trip, meta subjects, digests, rollup, purge, bucket lint", _precondition)
GROUPS = [GROUP]
check = GROUP.check


def _scratch_only(ctx: Context) -> None:
    if ctx.target.read_only:
        ctx.skip("read-only mode: no scratch bucket is written")


async def _scratch(ctx: Context) -> tuple[Client, ObjectStore, str]:
    nc = await ctx.connect(connection_class=Client)
    js = nc.jetstream()
    bucket = ctx.unique("conformance")
    store = await js.create_object_store(bucket=bucket, storage="memory")

    async def delete() -> None:
        await js.delete_object_store(bucket)

    ctx.on_cleanup(delete)
    return nc, store, bucket


async def _last(nc: Client, bucket: str, subject: str) -> dict[str, Any]:
    """The last message on ``subject`` in the bucket's stream, raw (``STREAM.MSG.GET``)."""
    doc = await api(nc, js_subj.stream_msg_get(PREFIX, stream_name(bucket)), {"last_by_subj": subject}, expect_error=True)
    if "error" in doc:
        raise CheckFailed(f"no message on {subject}: {doc['error']}")
    msg = doc["message"]
    return {"subject": msg["subject"], "data": base64.b64decode(msg.get("data", "")),
            "hdrs": base64.b64decode(msg.get("hdrs", ""))}


async def _subject_counts(nc: Client, bucket: str, filt: str) -> dict[str, int]:
    doc = await api(nc, js_subj.stream_info(PREFIX, stream_name(bucket)), {"subjects_filter": filt})
    return dict(doc.get("state", {}).get("subjects") or {})


def padded_b64(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode()


@check("bucket-config", "a bucket is stream OBJ_<bucket> on $O.<bucket>.C.> and .M.>, with rollup headers and direct get allowed")
async def bucket_config(ctx: Context) -> None:
    _scratch_only(ctx)
    nc, _, bucket = await _scratch(ctx)
    cfg = (await api(nc, js_subj.stream_info(PREFIX, stream_name(bucket))))["config"]
    ctx.expect(sorted(cfg.get("subjects", [])) == sorted([all_chunks(bucket), all_meta(bucket)]), f"stream subjects {cfg.get('subjects')}")
    ctx.expect(cfg.get("allow_rollup_hdrs") is True, "the bucket's stream does not allow rollup headers")
    ctx.expect(cfg.get("allow_direct") is True, "the bucket's stream does not allow direct get")
    ctx.expect(cfg.get("discard") == "new", f"stream discard policy {cfg.get('discard')!r}, expected 'new'")


@check("roundtrip", "a multi-chunk object reads back byte for byte; its info counts size and chunks")
async def roundtrip(ctx: Context) -> str:
    _scratch_only(ctx)
    _, store, _ = await _scratch(ctx)
    info = await store.put(NAMES[0], DATA, chunk_size=CHUNK)
    ctx.expect((info.size, info.chunks) == (len(DATA), 4), f"put info size/chunks {(info.size, info.chunks)}, expected {(len(DATA), 4)}")
    back = await store.get(NAMES[0])
    ctx.expect(back == DATA, f"read back {len(back)} bytes that differ from the {len(DATA)} written")
    return f"{len(DATA)} bytes in {info.chunks} chunks"


@check("meta-subject", "metas live on $O.<bucket>.M.<URL-safe base64 of the name, padded>, chunks on $O.<bucket>.C.<nuid>")
async def meta_subjects(ctx: Context) -> None:
    _scratch_only(ctx)
    nc, store, bucket = await _scratch(ctx)
    for name in NAMES:
        info = await store.put(name, b"x")
        subject = f"$O.{bucket}.M.{padded_b64(name)}"
        ctx.expect(subject == meta_subject(bucket, name) and subject.endswith("="), f"meta subject of {name!r} is not padded base64")
        raw = await _last(nc, bucket, subject)
        ctx.expect(json.loads(raw["data"]).get("name") == name, f"meta on {subject} names {raw['data'][:60]!r}")
        chunks = await _subject_counts(nc, bucket, chunk_subject(bucket, info.nuid))
        ctx.expect(chunks == {chunk_subject(bucket, info.nuid): 1}, f"chunk subjects of {name!r}: {chunks}")


@check("digest", "the meta's digest is SHA-256= and the URL-safe base64 (padded) of the object's SHA-256")
async def digest(ctx: Context) -> None:
    _scratch_only(ctx)
    nc, store, bucket = await _scratch(ctx)
    await store.put(NAMES[0], DATA, chunk_size=CHUNK)
    meta = json.loads((await _last(nc, bucket, meta_subject(bucket, NAMES[0])))["data"])
    want = "SHA-256=" + base64.urlsafe_b64encode(hashlib.sha256(DATA).digest()).decode()
    ctx.expect(meta.get("digest") == want, f"stored digest {meta.get('digest')!r}, expected {want!r}")


@check("rollup", "a replaced object leaves one meta message on its subject (Nats-Rollup: sub honoured)")
async def rollup(ctx: Context) -> None:
    _scratch_only(ctx)
    nc, store, bucket = await _scratch(ctx)
    for i in range(3):
        await store.put(NAMES[0], b"version %d" % i)
    subject = meta_subject(bucket, NAMES[0])
    raw = await _last(nc, bucket, subject)
    ctx.expect(b"Nats-Rollup: sub" in raw["hdrs"], "the meta message carries no Nats-Rollup: sub header")
    counts = await _subject_counts(nc, bucket, subject)
    ctx.expect(counts.get(subject) == 1, f"{counts.get(subject)} meta messages on {subject} after 3 puts (rollup keeps 1)")
    chunks = await _subject_counts(nc, bucket, all_chunks(bucket))
    ctx.expect(len(chunks) == 1, f"{len(chunks)} chunk subjects after replacing an object twice (old chunks not purged)")


@check("purge-on-delete", "delete purges the chunks and leaves a delete marker meta (deleted, size 0)")
async def purge_on_delete(ctx: Context) -> None:
    _scratch_only(ctx)
    nc, store, bucket = await _scratch(ctx)
    info = await store.put(NAMES[0], DATA, chunk_size=CHUNK)
    await store.delete(NAMES[0])
    counts = await _subject_counts(nc, bucket, chunk_subject(bucket, info.nuid))
    ctx.expect(not counts, f"chunks left after delete: {counts}")
    meta = json.loads((await _last(nc, bucket, meta_subject(bucket, NAMES[0])))["data"])
    ctx.expect(meta.get("deleted") is True and not meta.get("size"), f"delete marker {meta}")


def _lint_meta(subject: str, bucket: str, meta: dict[str, Any]) -> list[str]:
    problems = []
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        return [f"{subject}: meta has no name"]
    if subject != meta_subject(bucket, name):
        problems.append(f"{subject}: name {name!r} belongs on {meta_subject(bucket, name)} (padded URL-safe base64)")
    if meta.get("deleted"):
        return problems
    try:
        decode_digest(meta.get("digest") or "")
    except BadObjectMetaError as err:
        problems.append(f"{subject}: {err}")
    for key in ("size", "chunks"):
        if type(meta.get(key, 0)) is not int:
            problems.append(f"{subject}: {key} is not an integer")
    return problems


@check("lint", "every meta of the bucket (--bucket, else a scratch one) is well formed; the doctor finds no problem", timeout=60.0)
async def lint(ctx: Context) -> str:
    if ctx.target.bucket:
        nc = await ctx.connect(connection_class=Client)
        bucket = ctx.target.bucket
        store = await nc.jetstream().object_store(bucket)
    else:
        _scratch_only(ctx)
        nc, store, bucket = await _scratch(ctx)
        for name in NAMES:
            await store.put(name, DATA, chunk_size=CHUNK)
    counts = await _subject_counts(nc, bucket, all_meta(bucket))
    problems: list[str] = []
    for subject in sorted(counts):
        raw = await _last(nc, bucket, subject)
        try:
            meta = json.loads(raw["data"])
        except ValueError:
            problems.append(f"{subject}: meta is not JSON")
            continue
        problems += _lint_meta(subject, bucket, meta if isinstance(meta, dict) else {})
    report = await store.check()
    for kind in ("missing_chunks", "chunk_mismatches", "size_mismatches", "malformed"):
        for item in getattr(report, kind):
            problems.append(f"doctor: {kind.replace('_', ' ')}: {item}")
    ctx.expect(not problems, "; ".join(problems[:10]) + (f" (+{len(problems) - 10} more)" if len(problems) > 10 else ""))
    return f"{len(counts)} metas, {report.objects} live objects"
