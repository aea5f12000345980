package dav

import (
	"context"
	"net/http"
	"net/url"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/journal"
	"github.com/mailhaul/mailhaul/report"
)

func contentType(k format.Kind) string {
	if k == format.KindContact {
		return "text/vcard; charset=utf-8"
	}
	return "text/calendar; charset=utf-8"
}

// send PUTs one object, create-only, and settles it: stored (and read
// back, check.go), already there (the same object, or with --update
// replaced), or failed: refused, or the UID is held by an object with
// other content. With --update the target is looked at first, so that an
// object it already holds unchanged is not sent again.
func (im *session) send(ctx context.Context, jb job) {
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
	if im.opt.Update {
		im.existing(ctx, jb, jb.href)
		return
	}
	if p, ok := im.previous(jb); ok {
		im.replace(ctx, jb, p)
		return
	}
	im.create(ctx, jb, true)
}

// create PUTs jb with If-None-Match. When something is there already,
// compare says to settle against it (existing); false when existing
// itself found nothing there a moment ago, which bounds the round.
func (im *session) create(ctx context.Context, jb job, compare bool) {
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
		im.stored(jb, jb.href, res.ETag)
	case exists, uidElse:
		where := jb.href
		if res.Href != "" {
			if u, err := jb.href.Parse(res.Href); err == nil {
				where = u
			}
		}
		if res.Outcome == uidElse && res.Href == "" {
			if u := im.c.findByUID(ctx, jb); u != nil {
				where, res.Href = u, u.String()
			}
		}
		switch {
		case res.Outcome == uidElse && res.Href == "":
			im.failed(jb, "an object with this UID is already in the collection under another name, and neither the server's answer nor a query by UID found which, so it could not be compared with this one; it was left alone: "+res.Answer.ServerSays())
		case !compare:
			im.failed(jb, "the object appeared and disappeared on the server while it was being sent; run again to retry: "+res.Answer.ServerSays())
		default:
			im.existing(ctx, jb, where)
		}
	default:
		im.failed(jb, "the server refused it: "+refusal(res.Answer, jb.item.Kind, jb.body))
	}
}

// existing settles jb against what the target holds at href: the same
// object (sameContent) is present; another is a failure naming what
// differs, or with --update is replaced, with If-Match on its ETag so
// that a change made on the server meanwhile is not overwritten (a weak
// or missing ETag cannot be matched, so "*" is sent). Nothing at href:
// jb is created.
func (im *session) existing(ctx context.Context, jb job, href *url.URL) {
	a, err := im.c.Send(ctx, http.MethodGet, href.String(), nil, nil)
	if err != nil {
		im.failed(jb, err.Error())
		return
	}
	switch {
	case a.Status == http.StatusNotFound && href.String() == jb.href.String():
		im.create(ctx, jb, false)
		return
	}
	same, diff, ok := im.holds(jb, a)
	if !ok {
		return
	}
	if same {
		im.settled(jb, href, a.Header.Get("ETag"))
		return
	}
	if !im.opt.Update {
		im.failed(jb, conflictReason(diff))
		return
	}
	im.overwrite(ctx, jb, href, a)
}

// overwrite replaces the object the target holds at href, as a read it,
// with jb: If-Match on its ETag, so that a change made on the server
// meanwhile is not overwritten (a weak or missing ETag cannot be matched,
// so "*" is sent).
func (im *session) overwrite(ctx context.Context, jb job, href *url.URL, a *answer) {
	ifMatch := "*"
	if e := strongETag(a.Header.Get("ETag")); e != "" {
		ifMatch = e
	}
	im.putIfMatch(ctx, jb, href, ifMatch, func(a *answer) {
		im.failed(jb, "the object changed on the server while it was being updated; run again to retry: "+a.ServerSays())
	})
}

// putIfMatch PUTs jb at href on the condition If-Match ifMatch and
// settles it; onChanged is called with the server's answer when the object
// there is no longer the one ifMatch names.
func (im *session) putIfMatch(ctx context.Context, jb job, href *url.URL, ifMatch string, onChanged func(*answer)) {
	res, err := im.c.put(ctx, href, contentType(jb.item.Kind), jb.body, ifMatch)
	if err != nil {
		im.failed(jb, err.Error())
		return
	}
	switch res.Outcome {
	case stored:
		im.stored(jb, href, res.ETag)
	case changed, exists:
		onChanged(res.Answer)
	default:
		im.failed(jb, "the server refused the update: "+refusal(res.Answer, jb.item.Kind, jb.body))
	}
}

// holds compares jb with the object the target answered a GET with: ok is
// false (jb failed) when the answer holds none.
func (im *session) holds(jb job, a *answer) (same bool, diff []string, ok bool) {
	if a.Status/100 != 2 {
		im.failed(jb, "read the object the target holds with this UID: "+a.ServerSays())
		return false, nil, false
	}
	same, diff, latin1 := sameAsSent(a.Body, jb.body)
	if same && latin1 {
		im.noteLatin1(jb)
	}
	return same, diff, true
}

// conflictReason is the failure of an object whose UID the target holds
// with other content.
func conflictReason(diff []string) string {
	what := "its content lines differ"
	if len(diff) > 0 {
		what = describeDiff(diff)
	}
	return "the target already holds an object with this UID but different content (" + what + "); it was left alone. " +
		"If it is an earlier version of this item, or one the server changed, --update replaces it; " +
		"if it is another contact or event that shares the UID, give one of them a new UID"
}

// settled records an object the target already holds as it is.
func (im *session) settled(jb job, href *url.URL, etag string) {
	im.record(jb, href, etag, false, int64(len(jb.body)))
}

// record journals a settled object and counts it; size is its length in
// bytes.
func (im *session) record(jb job, href *url.URL, etag string, imported bool, size int64) {
	if im.j != nil {
		if err := im.j.Write(journal.Record{Key: jb.key, State: journal.Done, Where: jb.col.URL.String(), Ref: href.String(), ETag: etag,
			Source: jb.item.SourceID, Folder: jb.item.Folder}); err != nil {
			im.rep.Note("journal: %v", err)
		}
	}
	switch {
	case imported && jb.update:
		im.rep.AddUpdatedItem()
	case imported:
		im.rep.AddImported(size)
	default:
		im.rep.AddPresent()
	}
}

func (im *session) failed(jb job, reason string) {
	im.rep.AddFailure(im.failure(jb, reason))
}

func (im *session) failure(jb job, reason string) report.Failure {
	return report.Failure{Archive: jb.archive, Folder: jb.item.Folder, Item: itemName(jb.item), Reason: reason}
}

// notAttempted records an object the run stopped before sending.
func (im *session) notAttempted(jb job) {
	im.rep.AddNotAttempted(im.failure(jb, "not sent: the run stopped first"))
	im.progress()
}
