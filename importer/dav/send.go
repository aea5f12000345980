package dav

import (
	"context"
	"net/http"
	"net/url"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer/report"
	"github.com/mailhaul/mailhaul/internal/journal"
)

func contentType(k format.Kind) string {
	if k == format.KindContact {
		return "text/vcard; charset=utf-8"
	}
	return "text/calendar; charset=utf-8"
}

// send PUTs one object, create-only, and settles it: stored, already
// there (left alone, or replaced with --update), or refused.
func (im *importer) send(ctx context.Context, jb job) {
	defer im.progress()
	if ctx.Err() != nil {
		// Queued when the run was stopped: never sent.
		im.rep.AddNotAttempted(im.failure(jb, "not sent: the run stopped first"))
		return
	}
	if im.j != nil {
		// The intent is durable before the request, so a crash leaves a
		// "maybe sent" record; If-None-Match makes the retry harmless.
		if err := im.j.Write(journal.Record{Key: jb.key, State: journal.Pending, Where: jb.col.URL.String(), Ref: jb.href.String()}); err != nil {
			im.failed(jb, err.Error())
			return
		}
	}
	res, err := im.c.put(ctx, jb.href, contentType(jb.item.Kind), jb.body, "")
	if err != nil && ctx.Err() != nil {
		im.failed(jb, "the run was stopped while it was being sent: it may be on the target, and the next run checks")
		return
	}
	if err != nil {
		im.failed(jb, err.Error())
		return
	}
	switch res.Outcome {
	case stored:
		im.settled(jb, jb.href, res.ETag, true)
	case exists:
		if im.opt.Update {
			im.update(ctx, jb, jb.href)
			return
		}
		im.settled(jb, jb.href, "", false)
	case uidElse:
		where := jb.href
		if res.Href != "" {
			if u, err := jb.href.Parse(res.Href); err == nil {
				where = u
			}
		}
		if im.opt.Update && res.Href != "" {
			im.update(ctx, jb, where)
			return
		}
		if im.opt.Update {
			im.failed(jb, "an object with this UID already exists elsewhere in the collection and the server did not say where, so it could not be updated: "+res.Answer.serverSays())
			return
		}
		im.settled(jb, where, "", false)
	default:
		im.failed(jb, "the server refused it: "+res.Answer.serverSays())
	}
}

// update replaces the object at href with ours (--update), unless it
// already holds the same content (sameContent: the same lines, perhaps
// folded or ordered differently). It uses If-Match on the object's ETag so that a
// change made on the server meanwhile is not overwritten; a weak or
// missing ETag cannot be matched, so "*" (any existing object) is sent.
func (im *importer) update(ctx context.Context, jb job, href *url.URL) {
	a, err := im.c.send(ctx, http.MethodGet, href.String(), nil, nil)
	if err != nil {
		im.failed(jb, err.Error())
		return
	}
	ifMatch := "*"
	switch {
	case a.Status == http.StatusNotFound:
		// Gone since the PUT: create it again.
		ifMatch = ""
	case a.Status/100 != 2:
		im.failed(jb, "read the existing object for --update: "+a.serverSays())
		return
	case sameContent(a.Body, jb.body):
		im.settled(jb, href, a.Header.Get("ETag"), false)
		return
	default:
		if e := strongETag(a.Header.Get("ETag")); e != "" {
			ifMatch = e
		}
	}
	res, err := im.c.put(ctx, href, contentType(jb.item.Kind), jb.body, ifMatch)
	if err != nil {
		im.failed(jb, err.Error())
		return
	}
	switch res.Outcome {
	case stored:
		im.settled(jb, href, res.ETag, true)
	case changed, exists:
		im.failed(jb, "the object changed on the server while it was being updated; run again to retry: "+res.Answer.serverSays())
	default:
		im.failed(jb, "the server refused the update: "+res.Answer.serverSays())
	}
}

// settled records an object that is on the target: sent now (imported)
// or found there.
func (im *importer) settled(jb job, href *url.URL, etag string, imported bool) {
	im.record(jb, href, etag, imported, int64(len(jb.body)))
}

// record journals a settled object and counts it; size is its length in
// bytes (its body may wait in a spool file rather than in jb).
func (im *importer) record(jb job, href *url.URL, etag string, imported bool, size int64) {
	if im.j != nil {
		if err := im.j.Write(journal.Record{Key: jb.key, State: journal.Done, Where: jb.col.URL.String(), Ref: href.String(), ETag: etag}); err != nil {
			im.rep.Note("journal: %v", err)
		}
	}
	if imported {
		im.rep.AddImported(size)
	} else {
		im.rep.AddPresent()
	}
}

func (im *importer) failed(jb job, reason string) {
	im.rep.AddFailure(im.failure(jb, reason))
}

func (im *importer) failure(jb job, reason string) report.Failure {
	return report.Failure{Archive: jb.archive, Folder: jb.item.Folder, Item: itemName(jb.item), Reason: reason}
}

// notAttempted records an object the run stopped before sending.
func (im *importer) notAttempted(jb job) {
	im.rep.AddNotAttempted(im.failure(jb, "not sent: the run stopped first"))
	im.progress()
}
