// Command peer is the nats.go side of natsobj's interop matrix (tests/test_interop_peers.py).
//
//	peer <server-url> <bucket> <verb> [args]
//
// Verbs: create, status, delete-bucket, put, get, info, list, delete, watch, link, bucket-link,
// update-meta. Every verb prints one JSON document on stdout ({"ok": true, ...} or
// {"ok": false, "error": ..., "kind": ...}); watch prints one JSON line per event. Exit status:
// 0 ok, 1 the library returned an error, 2 bad usage, 3 the library lacks the feature asked for
// ({"ok": false, "unsupported": "<feature>"}). Built in GOPATH mode against Debian's packaged
// nats.go (golang-github-nats-io-go-nats-dev); see interop/run.sh.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

type kv []string

func (k *kv) String() string     { return strings.Join(*k, ",") }
func (k *kv) Set(v string) error { *k = append(*k, v); return nil }

func emit(doc map[string]interface{}) {
	out, _ := json.Marshal(doc)
	os.Stdout.Write(append(out, '\n'))
}

func fail(err error) {
	emit(map[string]interface{}{"ok": false, "error": err.Error(), "kind": kindOf(err)})
	os.Exit(1)
}

func unsupported(feature string) {
	emit(map[string]interface{}{"ok": false, "unsupported": feature, "peer": "nats.go " + nats.Version})
	os.Exit(3)
}

func usage(msg string) {
	fmt.Fprintln(os.Stderr, "usage: peer <server-url> <bucket> <verb> [args]:", msg)
	os.Exit(2)
}

// kindOf maps nats.go's errors onto the matrix's error kinds.
func kindOf(err error) string {
	switch {
	case errors.Is(err, nats.ErrObjectNotFound):
		return "not_found"
	case errors.Is(err, nats.ErrDigestMismatch):
		return "digest_mismatch"
	case errors.Is(err, nats.ErrCantGetBucket):
		return "bucket_link"
	case errors.Is(err, nats.ErrNoObjectsFound):
		return "no_objects"
	case errors.Is(err, nats.ErrObjectAlreadyExists):
		return "exists"
	case errors.Is(err, nats.ErrUpdateMetaDeleted):
		return "deleted"
	case errors.Is(err, nats.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, nats.ErrStreamNotFound):
		return "bucket_not_found"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() { // Get's pipe gives up after 2 s without a chunk
		return "timeout"
	}
	return "other"
}

func headersOf(pairs kv) nats.Header {
	if len(pairs) == 0 {
		return nil
	}
	h := nats.Header{}
	for _, p := range pairs {
		k, v, _ := strings.Cut(p, "=")
		h.Add(k, v)
	}
	return h
}

func infoDoc(info *nats.ObjectInfo) interface{} {
	// The wire shape (nats.go's JSON tags) plus the time GetInfo took from the message.
	raw, _ := json.Marshal(info)
	var doc map[string]interface{}
	_ = json.Unmarshal(raw, &doc)
	return doc
}

func main() {
	if len(os.Args) < 4 {
		usage("too few arguments")
	}
	url, bucket, verb := os.Args[1], os.Args[2], os.Args[3]
	fs := flag.NewFlagSet(verb, flag.ExitOnError)
	var headers, metas kv
	fs.Var(&headers, "header", "k=v (repeatable)")
	fs.Var(&metas, "meta", "k=v metadata (repeatable)")
	file := fs.String("file", "", "put: read from this file (default stdin)")
	out := fs.String("out", "", "get: write to this file (default stdout)")
	chunk := fs.Uint("chunk-size", 0, "put: max chunk size")
	desc := fs.String("description", "", "description")
	newName := fs.String("name", "", "update-meta: the new name (rename)")
	target := fs.String("target-bucket", "", "link: the target's bucket (default this one)")
	timeout := fs.Float64("timeout", 10, "seconds")
	count := fs.Int("count", 1, "watch: events to print")
	history := fs.Bool("history", false, "watch: include history")
	ignoreDeletes := fs.Bool("ignore-deletes", false, "watch: skip deletes")
	showDeleted := fs.Bool("show-deleted", false, "info/list/get: show deleted")
	ttl := fs.Float64("ttl", 0, "create: bucket max age in seconds; put: per-object TTL")
	compression := fs.Bool("compression", false, "create: S2 compression")
	fastIngest := fs.Bool("fast-ingest", false, "create: allow batched (ADR-50) publishes")
	// Flags may come before or after the positional arguments.
	var args []string
	for rest := os.Args[4:]; ; {
		fs.Parse(rest)
		if rest = fs.Args(); len(rest) == 0 {
			break
		}
		args, rest = append(args, rest[0]), rest[1:]
	}
	need := func(n int) {
		if len(args) < n {
			usage(fmt.Sprintf("%s needs %d argument(s)", verb, n))
		}
	}

	if verb == "version" {
		emit(map[string]interface{}{"ok": true, "client": "nats.go", "version": nats.Version})
		return
	}
	nc, err := nats.Connect(url, nats.Timeout(5*time.Second))
	if err != nil {
		fail(err)
	}
	defer nc.Close()
	js, err := nc.JetStream(nats.MaxWait(time.Duration(*timeout * float64(time.Second))))
	if err != nil {
		fail(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(*timeout*float64(time.Second)))
	defer cancel()

	if verb == "create" {
		if *compression {
			unsupported("bucket compression (ObjectStoreConfig has no Compression field)")
		}
		if *fastIngest {
			unsupported("fast ingest (ADR-50 batched publish)")
		}
		if len(metas) > 0 {
			unsupported("bucket metadata")
		}
		_, err := js.CreateObjectStore(&nats.ObjectStoreConfig{
			Bucket: bucket, Description: *desc, TTL: time.Duration(*ttl * float64(time.Second)),
		})
		if err != nil {
			fail(err)
		}
		emit(map[string]interface{}{"ok": true, "bucket": bucket})
		return
	}
	if verb == "delete-bucket" {
		if err := js.DeleteObjectStore(bucket); err != nil {
			fail(err)
		}
		emit(map[string]interface{}{"ok": true})
		return
	}
	obs, err := js.ObjectStore(bucket)
	if err != nil {
		fail(err)
	}

	switch verb {
	case "status":
		st, err := obs.Status()
		if err != nil {
			fail(err)
		}
		emit(map[string]interface{}{"ok": true, "bucket": st.Bucket(), "description": st.Description(),
			"ttl": st.TTL().Seconds(), "sealed": st.Sealed(), "size": st.Size(), "replicas": st.Replicas()})
	case "put":
		need(1)
		if len(metas) > 0 {
			unsupported("object metadata (ObjectMeta has no Metadata field)")
		}
		if *ttl > 0 {
			unsupported("per-object TTL")
		}
		if *fastIngest {
			unsupported("fast ingest (ADR-50 batched publish)")
		}
		var r io.Reader = os.Stdin
		if *file != "" {
			f, err := os.Open(*file)
			if err != nil {
				fail(err)
			}
			defer f.Close()
			r = f
		}
		meta := &nats.ObjectMeta{Name: args[0], Description: *desc, Headers: headersOf(headers)}
		if *chunk > 0 {
			meta.Opts = &nats.ObjectMetaOptions{ChunkSize: uint32(*chunk)}
		}
		info, err := obs.Put(meta, r, nats.Context(ctx))
		if err != nil {
			fail(err)
		}
		emit(map[string]interface{}{"ok": true, "info": infoDoc(info)})
	case "get":
		need(1)
		opts := []nats.GetObjectOpt{nats.Context(ctx)}
		if *showDeleted {
			opts = append(opts, nats.GetObjectShowDeleted())
		}
		res, err := obs.Get(args[0], opts...)
		if err != nil {
			fail(err)
		}
		defer res.Close()
		var w io.Writer = os.Stdout
		if *out != "" {
			f, err := os.Create(*out)
			if err != nil {
				fail(err)
			}
			defer f.Close()
			w = f
		}
		n, err := io.Copy(w, res)
		if err != nil {
			emit(map[string]interface{}{"ok": false, "error": err.Error(), "kind": kindOf(err), "bytes_delivered": n})
			os.Exit(1)
		}
		if *out != "" {
			info, _ := res.Info()
			emit(map[string]interface{}{"ok": true, "bytes": n, "info": infoDoc(info)})
		}
	case "info":
		need(1)
		var opts []nats.GetObjectInfoOpt
		if *showDeleted {
			opts = append(opts, nats.GetObjectInfoShowDeleted())
		}
		info, err := obs.GetInfo(args[0], opts...)
		if err != nil {
			fail(err)
		}
		emit(map[string]interface{}{"ok": true, "info": infoDoc(info)})
	case "list":
		var opts []nats.ListObjectsOpt
		if *showDeleted {
			opts = append(opts, nats.ListObjectsShowDeleted())
		}
		infos, err := obs.List(append(opts, nats.Context(ctx))...)
		if err != nil {
			fail(err)
		}
		docs := []interface{}{}
		for _, i := range infos {
			docs = append(docs, infoDoc(i))
		}
		emit(map[string]interface{}{"ok": true, "objects": docs})
	case "delete":
		need(1)
		if err := obs.Delete(args[0]); err != nil {
			fail(err)
		}
		emit(map[string]interface{}{"ok": true})
	case "link", "bucket-link":
		need(2)
		var info *nats.ObjectInfo
		if verb == "link" {
			from := obs
			if *target != "" {
				if from, err = js.ObjectStore(*target); err != nil {
					fail(err)
				}
			}
			t, err := from.GetInfo(args[1])
			if err != nil {
				fail(err)
			}
			info, err = obs.AddLink(args[0], t)
		} else {
			other, err2 := js.ObjectStore(args[1])
			if err2 != nil {
				fail(err2)
			}
			info, err = obs.AddBucketLink(args[0], other)
		}
		if err != nil {
			fail(err)
		}
		emit(map[string]interface{}{"ok": true, "info": infoDoc(info)})
	case "update-meta":
		need(1)
		if len(metas) > 0 {
			unsupported("object metadata (ObjectMeta has no Metadata field)")
		}
		name := args[0]
		if *newName != "" {
			name = *newName
		}
		if err := obs.UpdateMeta(args[0], &nats.ObjectMeta{Name: name, Description: *desc, Headers: headersOf(headers)}); err != nil {
			fail(err)
		}
		emit(map[string]interface{}{"ok": true})
	case "watch":
		var opts []nats.WatchOpt
		if *history {
			opts = append(opts, nats.IncludeHistory())
		}
		if *ignoreDeletes {
			opts = append(opts, nats.IgnoreDeletes())
		}
		w, err := obs.Watch(opts...)
		if err != nil {
			fail(err)
		}
		defer w.Stop()
		emit(map[string]interface{}{"ready": true})
		for seen := 0; seen < *count; {
			select {
			case info := <-w.Updates():
				if info == nil {
					emit(map[string]interface{}{"marker": "initial_done"})
					continue
				}
				seen++
				emit(map[string]interface{}{"event": infoDoc(info)})
			case <-ctx.Done():
				emit(map[string]interface{}{"ok": false, "kind": "timeout", "error": "watch: fewer events than --count"})
				os.Exit(1)
			}
		}
		emit(map[string]interface{}{"ok": true})
	default:
		usage("unknown verb " + verb)
	}
}
