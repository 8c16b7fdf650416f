// The nats.js side of natsobj's interop matrix (tests/test_interop_peers.py), on @nats-io/obj 3.x.
//
//   node peer.mjs <server-url> <bucket> <verb> [args]
//
// Verbs: create, status, delete-bucket, put, get, info, list, delete, watch, link, bucket-link,
// update-meta, version. Every verb prints one JSON document on stdout ({"ok": true, ...} or
// {"ok": false, "error": ..., "kind": ...}); watch prints one JSON line per event. Exit status:
// 0 ok, 1 the library returned an error, 2 bad usage, 3 the library lacks the feature asked for
// ({"ok": false, "unsupported": "<feature>"}).
import { createReadStream, createWriteStream, readFileSync } from "node:fs";
import { Readable } from "node:stream";
import { parseArgs } from "node:util";
import { connect, headers as makeHeaders } from "@nats-io/transport-node";
import { Objm } from "@nats-io/obj";

const VERSION = JSON.parse(readFileSync(new URL("./node_modules/@nats-io/obj/package.json", import.meta.url), "utf8")).version;

function emit(doc) {
  process.stdout.write(JSON.stringify(doc) + "\n");
}

function usage(msg) {
  process.stderr.write(`usage: peer <server-url> <bucket> <verb> [args]: ${msg}\n`);
  process.exit(2);
}

function kindOf(err) {
  const m = String(err?.message ?? err);
  if (/not found/i.test(m)) return "not_found";
  if (/digests do not match/.test(m)) return "digest_mismatch";
  if (/link is a bucket/.test(m)) return "bucket_link";
  if (/already exists/.test(m)) return "exists";
  if (/deleted/.test(m)) return "deleted";
  if (/timeout|timed out/i.test(m)) return "timeout";
  return "other";
}

class Unsupported extends Error {}

const [url, bucket, verb, ...rest] = process.argv.slice(2);
if (!verb) usage("too few arguments");
if (verb === "version") {
  emit({ ok: true, client: "@nats-io/obj", version: VERSION, node: process.version });
  process.exit(0);
}
const { values: o, positionals: args } = parseArgs({
  args: rest,
  allowPositionals: true,
  options: {
    header: { type: "string", multiple: true, default: [] },
    meta: { type: "string", multiple: true, default: [] },
    file: { type: "string" },
    out: { type: "string" },
    "chunk-size": { type: "string" },
    description: { type: "string" },
    name: { type: "string" },
    "target-bucket": { type: "string" },
    timeout: { type: "string", default: "10" },
    count: { type: "string", default: "1" },
    "ignore-deletes": { type: "boolean", default: false },
    "show-deleted": { type: "boolean", default: false },
    ttl: { type: "string" },
    compression: { type: "boolean", default: false },
    "fast-ingest": { type: "boolean", default: false },
  },
});
const need = (n) => args.length >= n || usage(`${verb} needs ${n} argument(s)`);
const timeoutMs = Number(o.timeout) * 1000;

function pairs(list) {
  return list.map((p) => {
    const i = p.indexOf("=");
    return i < 0 ? [p, ""] : [p.slice(0, i), p.slice(i + 1)];
  });
}

function headersOf(list) {
  if (!list.length) return undefined;
  const h = makeHeaders();
  for (const [k, v] of pairs(list)) h.append(k, v);
  return h;
}

function metaOf(list) {
  return list.length ? Object.fromEntries(pairs(list)) : undefined;
}

// The info as the library hands it over: the stored document (wire shape) with the header map
// as the library reads it.
function infoDoc(info) {
  if (info === null || info === undefined) return null;
  const raw = info.info ?? info;
  const doc = { ...raw };
  if (info.headers && typeof info.headers.toRecord === "function") doc.headers = info.headers.toRecord();
  return doc;
}

function withTimeout(promise, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout: ${what} took over ${o.timeout}s`)), timeoutMs);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

async function getTo(os, name) {
  const r = await os.get(name);
  if (r === null) return { ok: false, error: "object not found (get returned null)", kind: "not_found" };
  const sink = o.out ? createWriteStream(o.out) : process.stdout;
  let delivered = 0;
  const reader = r.data.getReader();
  try {
    await withTimeout((async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        delivered += value.length;
        if (!sink.write(value)) await new Promise((res) => sink.once("drain", res));
      }
      await r.error;
    })(), "get");
  } catch (err) {
    return { ok: false, error: String(err?.message ?? err), kind: kindOf(err), bytes_delivered: delivered };
  } finally {
    if (o.out) await new Promise((res) => sink.end(res));
  }
  return o.out ? { ok: true, bytes: delivered, info: infoDoc(r.info) } : null;
}

async function run(nc) {
  const objm = new Objm(nc);
  if (verb === "create") {
    const opts = { description: o.description, metadata: metaOf(o.meta) };
    if (o.ttl) opts.ttl = Math.round(Number(o.ttl) * 1e9);
    if (o.compression) opts.compression = true;
    if (o["fast-ingest"]) opts.allowBatched = true; // @nats-io/obj's internal opt-in (ADR-50)
    await objm.create(bucket, opts);
    return { ok: true, bucket };
  }
  const os = await objm.open(bucket, o["fast-ingest"] ? { check: true, allowBatched: true } : true);
  switch (verb) {
    case "delete-bucket":
      return { ok: await os.destroy() };
    case "status": {
      const st = await os.status();
      return { ok: true, bucket: st.bucket, description: st.description, ttl: st.ttl / 1e9, sealed: st.sealed,
        size: st.size, replicas: st.replicas, compression: st.compression, metadata: st.metadata ?? null };
    }
    case "put": {
      need(1);
      if (o.ttl) throw new Unsupported("per-object TTL");
      const meta = { name: args[0], description: o.description, headers: headersOf(o.header), metadata: metaOf(o.meta) };
      if (o["chunk-size"]) meta.options = { max_chunk_size: Number(o["chunk-size"]) };
      const src = o.file ? createReadStream(o.file) : process.stdin;
      const info = await os.put(meta, Readable.toWeb(src), { timeout: timeoutMs });
      return { ok: true, info: infoDoc(info) };
    }
    case "get":
      need(1);
      return getTo(os, args[0]);
    case "info": {
      need(1);
      const info = await os.info(args[0]);
      if (info === null) return { ok: false, error: "object not found (info returned null)", kind: "not_found" };
      if (info.deleted && !o["show-deleted"]) return { ok: true, info: infoDoc(info), note: "info() returns deleted objects" };
      return { ok: true, info: infoDoc(info) };
    }
    case "list":
      return { ok: true, objects: (await withTimeout(os.list(), "list")).map(infoDoc) };
    case "delete": {
      const r = await os.delete(args[0]);
      return r.success ? { ok: true, purged: r.purged } : { ok: false, error: "object not found", kind: "not_found" };
    }
    case "link": {
      need(2);
      const from = o["target-bucket"] ? await objm.open(o["target-bucket"]) : os;
      const target = await from.info(args[1]);
      if (target === null) return { ok: false, error: "link target not found", kind: "not_found" };
      return { ok: true, info: infoDoc(await os.link(args[0], target)) };
    }
    case "bucket-link": {
      need(2);
      const other = await objm.open(args[1]);
      return { ok: true, info: infoDoc(await os.linkStore(args[0], other)) };
    }
    case "update-meta": {
      need(1);
      const meta = { name: o.name ?? args[0], description: o.description, headers: headersOf(o.header), metadata: metaOf(o.meta) };
      const ack = await os.update(args[0], meta);
      return { ok: true, seq: ack.seq };
    }
    case "watch": {
      const iter = await os.watch({ includeHistory: true, ignoreDeletes: o["ignore-deletes"] });
      emit({ ready: true });
      const want = Number(o.count);
      let seen = 0;
      try {
        await withTimeout((async () => {
          for await (const info of iter) {
            emit({ event: infoDoc(info) });
            if (++seen >= want) break;
          }
        })(), "watch");
      } catch (err) {
        return { ok: false, error: String(err?.message ?? err), kind: kindOf(err) };
      } finally {
        iter.stop();
      }
      return { ok: true };
    }
    default:
      usage(`unknown verb ${verb}`);
  }
}

let code = 0;
let nc;
try {
  nc = await connect({ servers: url, timeout: 5000 });
  const doc = await run(nc);
  if (doc) emit(doc);
  code = doc && doc.ok === false ? 1 : 0;
} catch (err) {
  if (err instanceof Unsupported) {
    emit({ ok: false, unsupported: err.message, peer: `@nats-io/obj ${VERSION}` });
    code = 3;
  } else {
    emit({ ok: false, error: String(err?.message ?? err), kind: kindOf(err) });
    code = 1;
  }
}
if (nc) await nc.close().catch(() => {});
process.exit(code);
