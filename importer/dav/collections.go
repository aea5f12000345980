package dav

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/internal/davclient"
	"github.com/mailhaul/mailhaul/internal/journal"
)

// collection is a target address book or calendar.
type collection struct {
	URL        *url.URL
	Name       string            // display name
	Kind       format.FolderKind // contacts or calendar
	Components []string          // supported calendar components; empty means any
	MaxSize    int64             // server's max-resource-size; 0 means unknown
	Planned    bool              // a dry run would create it

	// Created is set when this run made the collection; Color and
	// Description are the decoration it was made with. Radicale's
	// whole-collection PUT (bulk.go) is only tried on such a collection
	// and must put the decoration back afterwards.
	Created            bool
	Color, Description string

	// key is the journal record of the folder this run created the
	// collection for (keyed): a whole-collection upload marks it
	// pending until the decoration is back.
	key   journal.Key
	keyed bool
}

func (c *collection) supports(comp string) bool {
	return len(c.Components) == 0 || slices.ContainsFunc(c.Components, func(s string) bool { return strings.EqualFold(s, comp) })
}

// collections maps archive folders to target collections, listing the
// home sets once and creating what is missing. Safe for concurrent use,
// though the importer resolves from one goroutine.
//
// A folder's collection is chosen, in this order (README.md):
//  1. --map-collection, by the folder's path or display name;
//  2. the collection the journal recorded for the folder;
//  3. the collection at the path mailhaul chooses for the folder's name,
//     or a numbered sibling, with the folder's display name or none;
//  4. a collection with the folder's display name;
//  5. with one address book (or calendar) in the archives and one on the
//     target that takes the items, that one: the target's default;
//  6. the target's single pre-existing collection of the kind, when it
//     holds the folder's first object (holding);
//  7. a new collection.
//
// Rules 3, 4 and 6 skip a collection another folder took (claimed).
//
// The display name is tried only after the stable identities (journal,
// path): Radicale's whole-collection upload replaces it (bulk.go), and a
// run killed before it is put back must still find its collection.
type collections struct {
	c      *client
	homes  davclient.Homes
	dryRun bool
	note   func(format string, args ...any)

	// j and known are the journal and its collection records (nil
	// without a journal); mapping is --map-collection; archives are
	// read once more to count their folders when rule 5 needs it.
	j        *journal.Journal
	known    map[journal.Key]journal.Record
	mapping  map[string]string
	archives []string

	mu       sync.Mutex
	books    []*collection
	cals     []*collection
	listed   map[format.FolderKind]bool
	resolved map[string]*resolution
	// claimed is the archive folder (kind and path) each collection was
	// chosen for in this run, by URL path: two folders never share one
	// unless --map-collection says so. routed holds the routing notes
	// given (folder and collection), so that a calendar's events and
	// tasks going to one place are one note. hrefs caches listings.
	claimed    map[string]string
	routed     map[string]bool
	hrefs      map[string]map[string]bool
	folderN    map[format.FolderKind]int // archive folders by kind, once counted
	folderErr  error
	autoSch    *bool // the calendar home advertises RFC 6638 auto-scheduling
	countedArc bool
}

// resolution is where the items of one kind from one archive folder go,
// and why: the plan and the notes say it.
type resolution struct {
	col  *collection
	from string      // the archive folder's display name
	kind format.Kind // contact, event or task
	how  string      // how col was chosen; "" for a new or same-path one
	ours bool        // col was found by the journal or by the path mailhaul chose
	// pending is set when the journal's record of col is an intent: a
	// run stopped while creating it or while its whole-collection
	// upload was not finished.
	pending bool
}

// collectionRef marks a journal record that names the collection of an
// archive folder (Where is its URL) rather than an object.
const collectionRef = "collection"

// collectionKey is the journal key of the collection that items of kind k
// from folder go to.
func collectionKey(k format.Kind, folder string) journal.Key {
	return journal.Key(sha256.Sum256([]byte("dav-collection\x00" + string(k) + "\x00" + folder)))
}

func newCollections(c *client, h davclient.Homes, dryRun bool, note func(string, ...any)) *collections {
	return &collections{c: c, homes: h, dryRun: dryRun, note: note,
		listed: map[format.FolderKind]bool{}, resolved: map[string]*resolution{},
		claimed: map[string]string{}, routed: map[string]bool{}, hrefs: map[string]map[string]bool{}}
}

// useJournal reads the collection records of j.
func (cs *collections) useJournal(j *journal.Journal) error {
	known, err := j.Select(func(r journal.Record) bool { return r.Ref == collectionRef })
	if err != nil {
		return err
	}
	cs.j, cs.known = j, known
	return nil
}

// forItem returns the collection for an item of kind k from folder f;
// probe is the resource name the item gets (names.go), by which an
// existing collection holding the folder's objects is recognised.
func (cs *collections) forItem(ctx context.Context, f format.Folder, k format.Kind, probe string) (*collection, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	key := string(k) + "\x00" + f.Path
	if r, ok := cs.resolved[key]; ok {
		return r.col, nil
	}
	var r *resolution
	var err error
	switch k {
	case format.KindContact:
		r, err = cs.resolve(ctx, f, k, format.FolderContacts, "", probe)
	case format.KindEvent:
		r, err = cs.resolve(ctx, f, k, format.FolderCalendar, "VEVENT", probe)
	case format.KindTask:
		r, err = cs.resolve(ctx, f, k, format.FolderCalendar, "VTODO", probe)
	default:
		return nil, fmt.Errorf("dav: %s items do not go to DAV", k)
	}
	if err != nil {
		return nil, err
	}
	cs.resolved[key] = r
	cs.claimed[r.col.URL.Path] = folderID(f)
	if err := cs.settle(ctx, f, r); err != nil {
		return nil, err
	}
	return r.col, nil
}

// resolution returns how items of kind k from folder went, once resolved.
func (cs *collections) resolution(k format.Kind, folder string) *resolution {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.resolved[string(k)+"\x00"+folder]
}

func displayNameOf(f format.Folder) string {
	if f.DisplayName != "" {
		return f.DisplayName
	}
	return lastSegment(f.Path)
}

func kindWord(kind format.FolderKind) string {
	if kind == format.FolderContacts {
		return "address book"
	}
	return "calendar"
}

// resolve chooses the collection for items of kind k (comp: the calendar
// component they need) from folder f, by the rules above.
func (cs *collections) resolve(ctx context.Context, f format.Folder, k format.Kind, kind format.FolderKind, comp, probe string) (*resolution, error) {
	name := displayNameOf(f)
	r := &resolution{from: name, kind: k}
	list, err := cs.list(ctx, kind)
	if err != nil {
		return nil, err
	}
	jkey := collectionKey(k, f.Path)
	if target, ok := cs.mapped(f, name); ok {
		col, err := cs.byTarget(ctx, kind, target, name, comp, f, jkey)
		if err != nil {
			return nil, err
		}
		r.col, r.how = col, "--map-collection"
		return cs.tasksBeside(ctx, r, kind, comp, f, jkey)
	}
	if rec, ok := cs.known[jkey]; ok {
		for _, col := range list {
			if col.URL.String() == rec.Where {
				r.col, r.how, r.ours, r.pending = col, "recorded in the journal", true, rec.State != journal.Done
				return r, nil
			}
		}
	}
	// Events and tasks of one folder stay together where the calendar
	// takes both, whichever came first.
	if k != format.KindContact {
		other := format.KindTask
		if k == format.KindTask {
			other = format.KindEvent
		}
		if o, ok := cs.resolved[string(other)+"\x00"+f.Path]; ok {
			if o.col.supports(comp) {
				r.col, r.how, r.ours = o.col, o.how, o.ours
				return r, nil
			}
			if comp == "VTODO" {
				r.col, r.how, r.ours = o.col, o.how, o.ours
				return cs.tasksBeside(ctx, r, kind, comp, f, jkey)
			}
		}
	}
	if col, ours := cs.byIdentity(list, kind, name, comp, f); col != nil {
		r.col, r.ours = col, ours
		if !ours {
			r.how = "same display name"
		}
		return cs.tasksBeside(ctx, r, kind, comp, f, jkey)
	}
	if col, err := cs.only(ctx, list, kind, comp); err != nil {
		return nil, err
	} else if col != nil {
		r.col = col
		r.how = fmt.Sprintf("the target's only %s, taken as its default; --map-collection %s=PATH_OR_NAME chooses another", kindWord(kind), name)
		if comp != "" {
			r.how = fmt.Sprintf("the target's only calendar taking %s, taken as its default; --map-collection %s=PATH_OR_NAME chooses another", comp, name)
		}
		return r, nil
	}
	if col, err := cs.holding(ctx, list, comp, f, probe); err != nil {
		return nil, err
	} else if col != nil {
		r.col = col
		r.how = fmt.Sprintf("it already holds this folder's objects, as a run without the journal leaves them; --map-collection %s=PATH_OR_NAME chooses another", name)
		return cs.tasksBeside(ctx, r, kind, comp, f, jkey)
	}
	col, err := cs.create(ctx, kind, name, comp, f, jkey)
	if err != nil {
		return nil, err
	}
	r.col = col
	return r, nil
}

// folderID names an archive folder in claimed.
func folderID(f format.Folder) string { return string(f.Kind) + "\x00" + f.Path }

// free reports whether col may be chosen for folder f by identity or
// content: no other folder of this run took it, and the journal records
// it for no other folder.
func (cs *collections) free(col *collection, f format.Folder) bool {
	if by, ok := cs.claimed[col.URL.Path]; ok && by != folderID(f) {
		return false
	}
	mine := map[journal.Key]bool{}
	for _, k := range []format.Kind{format.KindContact, format.KindEvent, format.KindTask} {
		mine[collectionKey(k, f.Path)] = true
	}
	for key, rec := range cs.known {
		if rec.Where == col.URL.String() && !mine[key] {
			return false
		}
	}
	return true
}

// holding recognises where an earlier run without the journal put the
// folder into the target's default: it returns the target's single
// pre-existing collection of the kind (taking comp), when it is free for
// f and already holds the resource name probe (the folder's first
// object). With two or more such collections on the target it returns
// none: a user's other book holding a card of that UID is not this
// folder's (review 2 of issue 9, item 21). Listing costs one PROPFIND,
// once per run, and only for a folder that would otherwise get a new
// collection.
func (cs *collections) holding(ctx context.Context, list []*collection, comp string, f format.Folder, probe string) (*collection, error) {
	if probe == "" {
		return nil, nil
	}
	var c *collection
	for _, cand := range list {
		if cand.Planned || cand.Created || (comp != "" && !cand.supports(comp)) {
			continue
		}
		if c != nil {
			return nil, nil // not the target's single one: no default to recognise
		}
		c = cand
	}
	if c == nil || !cs.free(c, f) {
		return nil, nil
	}
	hrefs, ok := cs.hrefs[c.URL.Path]
	if !ok {
		var err error
		if hrefs, err = cs.c.listHrefs(ctx, c.URL); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			cs.note("could not list %s to look for this run's objects: %v", davclient.Redact(c.URL), err)
		}
		cs.hrefs[c.URL.Path] = hrefs
	}
	if !hrefs[probe] {
		return nil, nil
	}
	return c, nil
}

// tasksBeside gives tasks a task list of their own, "<name> (tasks)",
// when the calendar chosen for their folder does not take VTODO.
func (cs *collections) tasksBeside(ctx context.Context, r *resolution, kind format.FolderKind, comp string, f format.Folder, jkey journal.Key) (*resolution, error) {
	if r.col.supports(comp) {
		return r, nil
	}
	if comp != "VTODO" {
		return nil, fmt.Errorf("dav: the calendar %q at %s does not take %s items", r.col.Name, davclient.Redact(r.col.URL), comp)
	}
	base := r.col.Name
	if base == "" || lostName(r.col) {
		base = r.from
	}
	name := base + " (tasks)"
	list, err := cs.list(ctx, kind)
	if err != nil {
		return nil, err
	}
	if col, ours := cs.byIdentity(list, kind, name, comp, f); col != nil && col.supports(comp) {
		return &resolution{col: col, from: r.from, kind: r.kind, how: "the task list beside " + base, ours: ours}, nil
	}
	if col, err := cs.only(ctx, list, kind, comp); err != nil {
		return nil, err
	} else if col != nil {
		return &resolution{col: col, from: r.from, kind: r.kind,
			how: fmt.Sprintf("%s takes no tasks; the target's only calendar taking VTODO, taken as its default task list", base)}, nil
	}
	col, err := cs.create(ctx, kind, name, comp, f, jkey)
	if err != nil {
		return nil, err
	}
	return &resolution{col: col, from: r.from, kind: r.kind, how: "a task list beside " + base + ", which takes no tasks"}, nil
}

// byIdentity finds the collection for folder f, whose display name is
// name: at the path mailhaul chooses for name (its slug) or a numbered
// sibling of it, one whose display name is name (or f's path), or is
// lost (none, or the path Radicale reports after a whole-collection
// upload): ours, made by an earlier run; else one elsewhere with that
// display name. A
// collection another folder of this run took, or that the journal
// records for another folder, is never it: "Work Old" and "Work-Old"
// share a slug but are different folders, and the second gets the
// numbered sibling, found again next time by its display name. comp
// "VTODO" accepts any calendar (tasks then go beside it); otherwise the
// collection must take comp.
func (cs *collections) byIdentity(list []*collection, kind format.FolderKind, name, comp string, f format.Folder) (col *collection, ours bool) {
	home := cs.home(kind)
	base := slug(name)
	chosen := home.ResolveReference(&url.URL{Path: base + "/"}).Path
	best, bestRank := (*collection)(nil), 0
	for _, c := range list {
		if comp != "" && comp != "VTODO" && !c.supports(comp) {
			continue
		}
		if !cs.free(c, f) {
			continue
		}
		seg := lastSegment(c.URL.Path)
		atChosen := c.URL.Path == chosen
		sibling := !atChosen && numberedSibling(seg, base) && home.ResolveReference(&url.URL{Path: seg + "/"}).Path == c.URL.Path
		named := c.Name == name || c.Name == f.Path
		rank := 0
		switch {
		case atChosen && named:
			rank = 1
		case sibling && named:
			rank = 2
		case atChosen && lostName(c):
			rank = 3
		case sibling && lostName(c):
			rank = 4
		case c.Name == name:
			rank = 5
		}
		if rank > 0 && (best == nil || rank < bestRank) {
			best, bestRank = c, rank
		}
	}
	return best, best != nil && bestRank < 5
}

// numberedSibling reports whether seg is base-N, as create numbers a
// path that is taken.
func numberedSibling(seg, base string) bool {
	n, ok := strings.CutPrefix(seg, base+"-")
	if !ok || n == "" {
		return false
	}
	for _, r := range n {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// lostName reports whether col has no display name of its own: none, or
// the path Radicale reports in its place after a whole-collection upload.
func lostName(col *collection) bool {
	return col.Name == "" || col.Name == strings.Trim(col.URL.Path, "/") || strings.HasSuffix(strings.Trim(col.URL.Path, "/"), "/"+col.Name) && strings.Contains(col.Name, "/")
}

// only returns the target's one collection of kind taking comp when the
// archives hold one folder of that kind: the target's default.
func (cs *collections) only(ctx context.Context, list []*collection, kind format.FolderKind, comp string) (*collection, error) {
	var cand *collection
	for _, c := range list {
		if comp == "" || c.supports(comp) {
			if cand != nil {
				return nil, nil
			}
			cand = c
		}
	}
	if cand == nil {
		return nil, nil
	}
	n, err := cs.countFolders(ctx, kind)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		cs.note("the target's only %s %q is not used as the default: the archives could not be read through to count theirs: %v", kindWord(kind), cand.Name, err)
		return nil, nil
	}
	if n != 1 {
		return nil, nil
	}
	return cand, nil
}

// countFolders counts the archives' folders of kind, from their
// summaries: format.ScanSummary reads the tar headers and skips every
// item's data unhashed, so a damaged item (FORMAT.md: it costs that item
// alone) does not change where collections go, and the mail is not
// hashed a second time.
func (cs *collections) countFolders(ctx context.Context, kind format.FolderKind) (int, error) {
	if !cs.countedArc {
		cs.countedArc = true
		cs.folderN, cs.folderErr = countFolders(ctx, cs.archives)
	}
	return cs.folderN[kind], cs.folderErr
}

func countFolders(ctx context.Context, archives []string) (map[format.FolderKind]int, error) {
	seen := map[string]bool{}
	n := map[format.FolderKind]int{}
	for _, a := range archives {
		s, err := format.ScanSummary(ctx, a)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(a), err)
		}
		for _, fc := range s.Folders {
			if k := string(fc.Kind) + "\x00" + fc.Path; fc.Kind != format.FolderMail && !seen[k] {
				seen[k] = true
				n[fc.Kind]++
			}
		}
	}
	return n, nil
}

// mapped returns --map-collection's target for f, by its path or name.
func (cs *collections) mapped(f format.Folder, name string) (string, bool) {
	for _, k := range []string{f.Path, name} {
		if t, ok := cs.mapping[k]; ok {
			return t, true
		}
	}
	return "", false
}

// checkMapping refuses, before anything is sent, a --map-collection
// whose name is no archive address book or calendar (a typo would send
// a folder where the user did not mean) or whose target is not a
// collection under the home set (checkTarget). It reads the archives'
// folder records (a damaged item is no matter here).
func (cs *collections) checkMapping(ctx context.Context) error {
	if len(cs.mapping) == 0 {
		return nil
	}
	var folders []format.Folder
	err := importer.Walk(ctx, cs.archives, importer.Visitor{Folder: func(_ string, f format.Folder, _ []string) error {
		if f.Kind != format.FolderMail {
			folders = append(folders, f)
		}
		return nil
	}})
	if err != nil {
		return fmt.Errorf("dav: %w", err)
	}
	keys := make([]string, 0, len(cs.mapping))
	for k := range cs.mapping {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		matched := false
		for _, f := range folders {
			if k != f.Path && k != displayNameOf(f) {
				continue
			}
			matched = true
			if err := cs.checkTarget(f.Kind, cs.mapping[k]); err != nil {
				return fmt.Errorf("dav: --map-collection %s=%s: %w", k, cs.mapping[k], err)
			}
		}
		if !matched {
			var names []string
			for _, f := range folders {
				names = append(names, fmt.Sprintf("%q", f.Path))
			}
			return fmt.Errorf("dav: --map-collection %s=%s: the archives have no address book or calendar with that path or display name (they have %s); nothing was sent",
				k, cs.mapping[k], strings.Join(names, ", "))
		}
	}
	return nil
}

// checkTarget refuses a --map-collection target that is not a collection
// in the user's home set: a URL (another server or scheme), a path with
// "." or ".." segments, or a path that resolves outside the home set.
// A target without "/" is a display name or path segment: it names a
// collection in the home set, or one created there.
func (cs *collections) checkTarget(kind format.FolderKind, target string) error {
	if u, err := url.Parse(target); err != nil || u.Scheme != "" || u.Host != "" || strings.HasPrefix(target, "//") || strings.Contains(target, "://") {
		return fmt.Errorf("not a path in the home set (a URL is not accepted: give a path relative to the home set, or a display name)")
	}
	for _, seg := range strings.Split(target, "/") {
		if seg == "." || seg == ".." {
			return fmt.Errorf(`a path with "." or ".." segments is not accepted`)
		}
	}
	home := cs.home(kind)
	if home == nil || !strings.Contains(target, "/") {
		return nil
	}
	u := home.ResolveReference(&url.URL{Path: dirPath(target)})
	if hp := dirPath(home.Path); !strings.HasPrefix(u.Path, hp) || u.Path == hp {
		return fmt.Errorf("%s is not a collection in the %s home %s", u.Path, kindWord(kind), home.Path)
	}
	return nil
}

// byTarget finds --map-collection's target: a path (containing "/",
// relative to the home set or absolute) or a display name or path
// segment; a collection that does not exist is created there, or with
// that name.
func (cs *collections) byTarget(ctx context.Context, kind format.FolderKind, target, name, comp string, f format.Folder, jkey journal.Key) (*collection, error) {
	list, err := cs.list(ctx, kind)
	if err != nil {
		return nil, err
	}
	if err := cs.checkTarget(kind, target); err != nil {
		return nil, fmt.Errorf("dav: --map-collection %s=%s: %w", name, target, err)
	}
	if strings.Contains(target, "/") {
		u := cs.home(kind).ResolveReference(&url.URL{Path: dirPath(target)})
		for _, c := range list {
			if c.URL.Path == u.Path {
				return c, nil
			}
		}
		return cs.createAt(ctx, kind, name, comp, f, u, jkey)
	}
	for _, c := range list {
		if c.Name == target {
			return c, nil
		}
	}
	for _, c := range list {
		if lastSegment(c.URL.Path) == target {
			return c, nil
		}
	}
	return cs.create(ctx, kind, target, comp, f, jkey)
}

// settle records where the folder's items go, tells the user when the
// collection was not found by its own name, and finishes an address book
// a stopped run left without its display name.
func (cs *collections) settle(ctx context.Context, f format.Folder, r *resolution) error {
	col := r.col
	routed := f.Path + "\x00" + col.URL.String()
	if r.how != "" && r.how != "recorded in the journal" && r.how != "same display name" && !cs.dryRun && !cs.routed[routed] {
		cs.routed[routed] = true
		state := "existing"
		if col.Created {
			state = "new"
		}
		cs.note("%s %q goes to the %s %s %q at %s (%s)", kindWord(col.Kind), r.from, state, kindWord(col.Kind), col.Name, davclient.Redact(col.URL), r.how)
	}
	restore := r.ours && col.Kind == format.FolderContacts && !col.Created && !col.Planned && (r.pending || lostName(col))
	if cs.dryRun {
		if restore {
			r.how = fmt.Sprintf("its display name is lost, as a stopped run leaves it; it would be set to %q again", r.from)
		}
		return nil
	}
	jkey := collectionKey(r.kind, f.Path)
	if restore {
		col.Name, col.Color, col.Description = r.from, f.Color, f.Description
		if cs.redecorate(ctx, col) {
			cs.note("%s: display name %q, colour and description set again (a previous run stopped before it could)", davclient.Redact(col.URL), col.Name)
		} else {
			return nil // still pending: the next run tries again
		}
	}
	if cs.j == nil {
		return nil
	}
	if rec, ok := cs.known[jkey]; ok && rec.State == journal.Done && rec.Where == col.URL.String() {
		return nil
	}
	rec := journal.Record{Key: jkey, State: journal.Done, Where: col.URL.String(), Ref: collectionRef}
	if err := cs.j.Write(rec); err != nil {
		return fmt.Errorf("dav: %w", err)
	}
	cs.known[jkey] = rec
	return nil
}

// redecorate sets an address book's display name, description and colour
// (col's) again with PROPPATCH: Radicale's whole-collection upload
// replaces them. False, with a note, when the server did not take them.
func (cs *collections) redecorate(ctx context.Context, col *collection) bool {
	a, err := cs.c.Send(ctx, "PROPPATCH", col.URL.String(), http.Header{"Content-Type": {"application/xml; charset=utf-8"}},
		proppatchBody(col))
	why := ""
	switch {
	case err != nil:
		why = err.Error()
	case a.Status != http.StatusMultiStatus && a.Status/100 != 2:
		why = a.ServerSays()
	default:
		for _, code := range multiStatusCodes(a.Body) {
			if code/100 != 2 {
				why = a.ServerSays()
				break
			}
		}
	}
	if why != "" {
		cs.note("%s: set the display name %q again: %s", davclient.Redact(col.URL), col.Name, why)
		return false
	}
	return true
}

// setPending records, before a whole-collection upload, that col's
// properties are about to be replaced, so that a run stopped before they
// are put back has the next run put them back.
func (cs *collections) setPending(col *collection, done bool) error {
	if cs.j == nil || !col.keyed {
		return nil
	}
	st := journal.Pending
	if done {
		st = journal.Done
	}
	rec := journal.Record{Key: col.key, State: st, Where: col.URL.String(), Ref: collectionRef}
	if err := cs.j.Write(rec); err != nil {
		return err
	}
	cs.mu.Lock()
	cs.known[col.key] = rec
	cs.mu.Unlock()
	return nil
}

func (cs *collections) home(kind format.FolderKind) *url.URL {
	if kind == format.FolderContacts {
		return cs.homes.AddressBooks
	}
	return cs.homes.Calendars
}

// list returns the collections of kind, reading the home set once.
func (cs *collections) list(ctx context.Context, kind format.FolderKind) ([]*collection, error) {
	if cs.listed[kind] {
		if kind == format.FolderContacts {
			return cs.books, nil
		}
		return cs.cals, nil
	}
	home := cs.home(kind)
	if home == nil && kind == format.FolderContacts {
		return nil, fmt.Errorf("dav: the server offers no CardDAV address book home (give --carddav)")
	}
	if home == nil {
		return nil, fmt.Errorf("dav: the server offers no CalDAV calendar home (give --caldav)")
	}
	find := cs.c.Calendars
	if kind == format.FolderContacts {
		find = cs.c.AddressBooks
	}
	found, err := find(ctx, home)
	if err != nil {
		return nil, err
	}
	for _, f := range found {
		col := &collection{URL: f.URL, Name: f.Name, Kind: kind, MaxSize: f.MaxSize, Components: f.Components}
		if kind == format.FolderContacts {
			cs.books = append(cs.books, col)
		} else {
			cs.cals = append(cs.cals, col)
		}
	}
	cs.listed[kind] = true
	return cs.list(ctx, kind)
}

// create makes a collection for name under the home set, at the path
// mailhaul chooses for it (slug, numbered when taken).
func (cs *collections) create(ctx context.Context, kind format.FolderKind, name, comp string, f format.Folder, jkey journal.Key) (*collection, error) {
	taken := map[string]bool{}
	for _, col := range append(slices.Clone(cs.books), cs.cals...) {
		taken[col.URL.Path] = true
	}
	base := slug(name)
	var target *url.URL
	for i := 1; ; i++ {
		seg := base
		if i > 1 {
			seg = fmt.Sprintf("%s-%d", base, i)
		}
		target = cs.home(kind).ResolveReference(&url.URL{Path: seg + "/"})
		if !taken[target.Path] {
			break
		}
	}
	return cs.createAt(ctx, kind, name, comp, f, target, jkey)
}

// createAt makes the collection at target: extended MKCOL (RFC 5689) for
// an address book, MKCALENDAR (RFC 4791) for a calendar, with the
// folder's colour and description. A server that rejects those
// properties gets a second, minimal request. The journal records the
// URL before the request, so that a run stopped after it finds it.
func (cs *collections) createAt(ctx context.Context, kind format.FolderKind, name, comp string, f format.Folder, target *url.URL, jkey journal.Key) (*collection, error) {
	col := &collection{URL: target, Name: name, Kind: kind, key: jkey, keyed: true}
	if kind == format.FolderCalendar && comp == "VTODO" && strings.HasSuffix(name, " (tasks)") {
		col.Components = []string{"VTODO"}
	}
	if cs.dryRun {
		col.Planned = true
	} else {
		if cs.j != nil {
			rec := journal.Record{Key: jkey, State: journal.Pending, Where: target.String(), Ref: collectionRef}
			if err := cs.j.Write(rec); err != nil {
				return nil, fmt.Errorf("dav: %w", err)
			}
			cs.known[jkey] = rec
		}
		if err := cs.mkcol(ctx, col, f); err != nil {
			return nil, fmt.Errorf("dav: create %s %q at %s: %w", kindWord(kind), name, davclient.Redact(target), err)
		}
		col.Created = true
		cs.note("created %s %q at %s", kindWord(kind), name, davclient.Redact(target))
	}
	if kind == format.FolderContacts {
		cs.books = append(cs.books, col)
	} else {
		cs.cals = append(cs.cals, col)
	}
	return col, nil
}

func (cs *collections) mkcol(ctx context.Context, col *collection, f format.Folder) error {
	method := "MKCOL"
	if col.Kind == format.FolderCalendar {
		method = "MKCALENDAR"
	}
	hdr := http.Header{"Content-Type": {"application/xml; charset=utf-8"}}
	full := creationBody(col, f.Color, f.Description, false)
	a, err := cs.c.Send(ctx, method, col.URL.String(), hdr, full)
	if err != nil {
		return err
	}
	viaMkcol := false
	if method == "MKCALENDAR" && (a.Status == http.StatusMethodNotAllowed || a.Status == http.StatusNotImplemented) {
		// No MKCALENDAR here: RFC 5689 extended MKCOL can make calendars too.
		method, viaMkcol = "MKCOL", true
		if a, err = cs.c.Send(ctx, method, col.URL.String(), hdr, creationBody(col, f.Color, f.Description, true)); err != nil {
			return err
		}
	}
	if a.Status/100 == 2 {
		col.Color, col.Description = f.Color, f.Description
		return nil
	}
	if f.Color == "" && f.Description == "" && len(col.Components) == 0 {
		return fmt.Errorf("server answered %s", a.ServerSays())
	}
	// Some servers refuse a property they do not know (RFC 5689 fails the
	// whole request); keep the collection and lose the decoration.
	first := a.ServerSays()
	plain := &collection{URL: col.URL, Name: col.Name, Kind: col.Kind}
	a, err = cs.c.Send(ctx, method, col.URL.String(), hdr, creationBody(plain, "", "", viaMkcol))
	if err != nil {
		return err
	}
	if a.Status/100 != 2 {
		return fmt.Errorf("server answered %s (and, with colour, description and components, %s)", a.ServerSays(), first)
	}
	col.Components = nil
	cs.note("%s: created without colour, description or component set: the server refused them with %s", col.Name, first)
	return nil
}

// autoSchedules reports whether the calendar home advertises RFC 6638
// server-side scheduling ("calendar-auto-schedule" in the DAV header),
// which could e-mail attendees about imported events.
func (cs *collections) autoSchedules(ctx context.Context) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.autoSch != nil {
		return *cs.autoSch
	}
	v := false
	if cs.homes.Calendars != nil {
		a, err := cs.c.Send(ctx, http.MethodOptions, cs.homes.Calendars.String(), nil, nil)
		if err == nil {
			for _, h := range a.Header.Values("DAV") {
				for _, tok := range strings.Split(h, ",") {
					if strings.EqualFold(strings.TrimSpace(tok), "calendar-auto-schedule") {
						v = true
					}
				}
			}
		}
	}
	cs.autoSch = &v
	if v {
		cs.note("the server schedules invitations itself (RFC 6638); imported ORGANIZER and ATTENDEE properties get SCHEDULE-AGENT=CLIENT so that nobody is e-mailed")
	}
	return v
}

func lastSegment(p string) string {
	p = strings.TrimSuffix(p, "/")
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		p = p[i+1:]
	}
	if u, err := url.PathUnescape(p); err == nil {
		return u
	}
	return p
}

func dirPath(p string) string {
	if !strings.HasSuffix(p, "/") {
		return p + "/"
	}
	return p
}
