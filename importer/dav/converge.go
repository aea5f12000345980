package dav

// Applying a delta: a cutover that converges (issue 13).
//
// A delta carries the contacts and events edited at the source since the
// export before it, with their new content, and its state record lists
// every item the source still held. The journal knows what mailhaul
// itself placed on the target: each object's href and the ETag the server
// gave it. So:
//
//   - an edited object (same href, another version than the journal's)
//     is PUT with If-Match on the recorded ETag: the server replaces it
//     only if it still holds what mailhaul put there. A 412 means the user
//     changed (or removed) it on the target since: that is a conflict,
//     reported and left alone, unless Options.PreferSource.
//   - an object mailhaul placed in a collection the last archive's state
//     record covers, that the record no longer lists, was deleted at the
//     source: it is removed with DELETE and If-Match on its recorded ETag
//     only with ApplyDeletions, otherwise listed as a would-be deletion.
//     The record lists an object by its UID (the resource mailhaul named
//     after it) or by its sourceId, which the journal keeps with each
//     object placed: a DAV source's record has only the latter, from a
//     listing of hrefs and ETags. An object journalled without its
//     sourceId (an older mailhaul) in a collection the record names by
//     sourceId alone is left alone: there is no evidence either way.
//
// Each change is journalled, so a run stopped anywhere is finished by the
// next one and nothing is done twice: an update as every PUT is (an intent
// before, the outcome after; the next run's If-Match fails on the object
// already replaced and finds it equal), a deletion by its outcome, Gone
// (the next run's DELETE of an object a stopped run removed answers 404,
// which is gone too). An object the journal calls Gone is not brought back
// by an archive that still holds it (the full archive passed again).
// Objects the user created on the target are never in the journal and
// never touched.

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"sort"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/davclient"
	"github.com/mailhaul/mailhaul/internal/journal"
	"github.com/mailhaul/mailhaul/report"
)

// placedObject is the journal's latest word on an href mailhaul put an
// object at.
type placedObject struct {
	key   journal.Key
	where string // the collection's URL
	etag  string // as the server gave it when mailhaul put or found it
	// source and folder are the item's sourceId and archive folder, as
	// the journal recorded them (empty in older journals).
	source, folder string
}

// loadPlaced reads from the journal where mailhaul placed objects: for
// each href its latest settled record. An object being sent (a pending
// PUT) keeps the record of the version before it; a Gone one is not there.
func loadPlaced(j *journal.Journal) (map[string]placedObject, error) {
	placed := map[string]placedObject{}
	err := j.Scan(func(r journal.Record) {
		if r.Ref == "" || r.Ref == collectionRef {
			return
		}
		switch r.State {
		case journal.Gone:
			delete(placed, r.Ref)
		case journal.Done:
			placed[r.Ref] = placedObject{key: r.Key, where: r.Where, etag: r.ETag, source: r.Source, folder: r.Folder}
		}
	})
	return placed, err
}

// isDelta reports whether archive is a delta (--since): its items replace
// the versions mailhaul placed before. A full archive's items never do,
// so that two objects of one archive sharing a UID stay a conflict.
func (im *session) isDelta(archive string) bool {
	if d, ok := im.deltas[archive]; ok {
		return d
	}
	d := false
	if r, err := format.Open(archive, nil); err == nil {
		d = !r.Manifest().After.IsZero()
		r.Close()
	}
	im.deltas[archive] = d
	return d
}

// previous returns the object mailhaul placed earlier at jb's href when jb
// is another version of it, from a delta, in a collection that was there
// all along.
func (im *session) previous(jb job) (placedObject, bool) {
	if !jb.delta || jb.col.Created || jb.col.Planned {
		return placedObject{}, false
	}
	p, ok := im.placed[jb.href.String()]
	if !ok || p.key == jb.key || p.where != jb.col.URL.String() {
		return placedObject{}, false
	}
	return p, true
}

// replace updates the object mailhaul placed at jb.href with jb, on the
// condition that the target still holds what mailhaul put there.
func (im *session) replace(ctx context.Context, jb job, p placedObject) {
	jb.update = true
	etag := strongETag(p.etag)
	if etag == "" {
		// Nothing to make the PUT conditional on: look at what is there.
		im.diverged(ctx, jb, "mailhaul recorded no ETag for it, so it cannot tell a change made on the target from its own copy")
		return
	}
	im.putIfMatch(ctx, jb, jb.href, etag, func(*answer) {
		im.diverged(ctx, jb, "it was changed on the target after mailhaul put it there")
	})
}

// diverged settles an update whose target no longer holds what mailhaul
// put there (why says how we know): already the new version (a run
// stopped after the PUT), a conflict left alone, or with PreferSource
// overwritten.
func (im *session) diverged(ctx context.Context, jb job, why string) {
	a, err := im.c.Send(ctx, http.MethodGet, jb.href.String(), nil, nil)
	if err != nil {
		im.failed(jb, err.Error())
		return
	}
	switch {
	case a.Status == http.StatusNotFound && im.opt.PreferSource:
		im.create(ctx, jb, false)
		return
	case a.Status == http.StatusNotFound:
		im.conflict(jb, "it was deleted on the target after mailhaul put it there; the edit made at the source was not applied (--prefer source puts it back)")
		return
	}
	same, diff, ok := im.holds(jb, a)
	if !ok {
		return
	}
	if same {
		im.record(jb, jb.href, a.Header.Get("ETag"), true, int64(len(jb.body)))
		return
	}
	if !im.opt.PreferSource {
		what := "its content lines differ"
		if len(diff) > 0 {
			what = describeDiff(diff)
		}
		im.conflict(jb, why+" (the target's copy differs from the source's new version: "+what+"); it was left alone, the edit made at the source was not applied (--prefer source applies it)")
		return
	}
	im.overwrite(ctx, jb, jb.href, a)
}

// conflict reports an object left alone because the target changed it.
func (im *session) conflict(jb job, reason string) {
	im.rep.AddConflictItem(im.failure(jb, reason))
}

// sourceState is what the last archive's state record says the source
// held, reduced to what deletions need: the collections it covers and the
// objects in them.
type sourceState struct {
	archive string
	// folders are the archive folders (kind key) the delta listed
	// completely: its summary names them and no error of its export does.
	folders map[journal.Key]bool
	// objects are the resources (collection key, resource name) the
	// source held, where the state gives their UID or digest.
	objects map[objectAt]bool
	// sources are the objects (collection key, archive folder and
	// sourceId) the source held: every line gives them.
	sources map[sourceAt]bool
	// blind are the collections (keys) with lines that give no UID or
	// digest (a DAV source's, from its listing): an object the journal
	// recorded without its sourceId cannot be found in them.
	blind map[journal.Key]bool
	// whole is false when the record or the summary cannot be trusted to
	// say what was deleted (truncated error list, an error not tied to
	// a folder, a damaged record).
	whole bool
}

type objectAt struct {
	col  journal.Key
	name string
}

type sourceAt struct {
	col            journal.Key
	folder, source string
}

// readState reduces a state record (items) to a sourceState, given the
// summary of the same archive.
func readState(archive string, s *format.Summary, items iter.Seq2[format.StateItem, error]) (*sourceState, error) {
	st := &sourceState{archive: archive, folders: map[journal.Key]bool{}, objects: map[objectAt]bool{}, sources: map[sourceAt]bool{}, blind: map[journal.Key]bool{}, whole: s != nil && s.Truncated == 0}
	if s == nil {
		return st, nil
	}
	bad := map[string]bool{}
	for _, p := range s.Errors {
		if p.Folder == "" {
			st.whole = false
		}
		bad[p.Folder] = true
	}
	for _, f := range s.Folders {
		if bad[f.Path] {
			continue
		}
		switch f.Kind {
		case format.FolderContacts:
			st.folders[collectionKey(format.KindContact, f.Path)] = true
		case format.FolderCalendar:
			st.folders[collectionKey(format.KindEvent, f.Path)] = true
			st.folders[collectionKey(format.KindTask, f.Path)] = true
		}
	}
	for it, err := range items {
		if err != nil {
			return nil, fmt.Errorf("archive %s: state record: %w", archive, err)
		}
		if it.Kind == format.KindMessage {
			continue
		}
		// A calendar's events and tasks share its collection, and a
		// line from a listing gives a task as an event.
		kinds := []format.Kind{it.Kind}
		if it.Kind != format.KindContact {
			kinds = []format.Kind{format.KindEvent, format.KindTask}
		}
		uid := it.UID
		if uid == "" && len(it.SHA256) >= 32 {
			uid = "mailhaul-" + it.SHA256[:32] // as prepare names it
		}
		if uid != "" {
			st.objects[objectAt{collectionKey(it.Kind, it.Folder), resourceName(uid, it.Kind.Ext())}] = true
		}
		for _, k := range kinds {
			col := collectionKey(k, it.Folder)
			st.sources[sourceAt{col, it.Folder, it.SourceID}] = true
			if uid == "" {
				st.blind[col] = true
			}
		}
	}
	return st, nil
}

// deleted handles what the source no longer holds: every object mailhaul
// placed in a collection the state covers, that the state does not list.
// Only with ApplyDeletions is it removed; otherwise it is listed.
func (im *session) deleted(ctx context.Context, st *sourceState) {
	if st == nil || im.j == nil {
		return
	}
	if im.fresh != "" {
		// Nothing to converge from: the pre-migration's journal is
		// elsewhere (it is kept beside the first archive by default).
		im.rep.Note("%s is a delta, but the journal %s knows of no earlier import, so edits and deletions since it could not be applied; give --state the directory of the pre-migration's journal",
			st.archive, im.fresh)
		return
	}
	if !st.whole {
		im.rep.Note("%s: its export could not list everything, so its state record is no evidence of deletions; none were looked for", st.archive)
		return
	}
	// Which archive folders each collection serves, from the journal: a
	// collection that also holds a folder the state does not cover is
	// left alone.
	im.cols.mu.Lock()
	defer im.cols.mu.Unlock()
	covered := map[string]bool{}
	for k, rec := range im.cols.known {
		if rec.State != journal.Done {
			continue
		}
		c, seen := covered[rec.Where]
		covered[rec.Where] = st.folders[k] && (c || !seen)
	}
	held := map[[2]string]bool{} // collection URL, resource name
	for o := range st.objects {
		if rec, ok := im.cols.known[o.col]; ok {
			held[[2]string{rec.Where, o.name}] = true
		}
	}
	heldSource := map[[3]string]bool{} // collection URL, folder, sourceId
	for o := range st.sources {
		if rec, ok := im.cols.known[o.col]; ok {
			heldSource[[3]string{rec.Where, o.folder, o.source}] = true
		}
	}
	blind := map[string]bool{} // collection URLs
	for col := range st.blind {
		if rec, ok := im.cols.known[col]; ok {
			blind[rec.Where] = true
		}
	}
	var gone []string
	for href, p := range im.placed {
		u, err := url.Parse(href)
		switch {
		case err != nil || !covered[p.where] || held[[2]string{p.where, lastSegment(u.Path)}]:
			continue
		case p.source != "" && heldSource[[3]string{p.where, p.folder, p.source}]:
			continue
		case p.source == "" && blind[p.where]:
			// Recorded by an older mailhaul, without its sourceId, and
			// the state names this collection's objects by theirs
			// alone: no evidence either way.
			continue
		}
		gone = append(gone, href)
	}
	sort.Strings(gone)
	for _, href := range gone {
		if ctx.Err() != nil {
			return
		}
		p := im.placed[href]
		u, _ := url.Parse(href)
		item := davclient.Redact(u)
		switch {
		case im.req.DryRun && im.req.ApplyDeletions:
			im.rep.AddDeleted() // the statement says a dry run's "would make"
			continue
		case !im.req.ApplyDeletions:
			im.rep.AddWouldDelete(report.Failure{Archive: st.archive, Item: item,
				Reason: "deleted at the source; left on the target (--apply-deletions removes it)"})
			continue
		}
		im.remove(ctx, st.archive, u, p)
	}
}

// remove deletes one object mailhaul placed, on the condition that the
// target still holds it as mailhaul left it.
func (im *session) remove(ctx context.Context, archive string, u *url.URL, p placedObject) {
	fail := func(reason string) {
		im.rep.AddFailure(report.Failure{Archive: archive, Item: davclient.Redact(u), Reason: reason})
	}
	hdr := http.Header{}
	etag := strongETag(p.etag)
	if etag == "" {
		im.rep.AddConflict(report.Failure{Archive: archive, Item: davclient.Redact(u),
			Reason: "deleted at the source, but mailhaul recorded no ETag for it, so it cannot tell whether it was changed on the target; it was left alone"})
		return
	}
	hdr.Set("If-Match", etag)
	a, err := im.c.Send(ctx, http.MethodDelete, u.String(), hdr, nil)
	if err != nil {
		fail("delete: " + err.Error())
		return
	}
	switch {
	case a.Status/100 == 2, a.Status == http.StatusNotFound:
		// Gone either way (a 404: a run stopped after the DELETE, or the
		// user removed it too).
		rec := journal.Record{Key: p.key, State: journal.Gone, Where: p.where, Ref: u.String(), ETag: p.etag}
		if err := im.j.Write(rec); err != nil {
			fail(err.Error())
			return
		}
		im.rep.AddDeleted()
	case a.Status == http.StatusPreconditionFailed:
		im.rep.AddConflict(report.Failure{Archive: archive, Item: davclient.Redact(u),
			Reason: "deleted at the source, but changed on the target after mailhaul put it there; it was left alone"})
	default:
		fail("delete: " + a.ServerSays())
	}
}
