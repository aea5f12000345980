package zimbra

// The live export: one user of a running Zimbra, over its admin SOAP and
// REST (export/zimbra/soap), or through zmmailbox on the Zimbra host.

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/zimbra/metadata"
	"github.com/mailhaul/mailhaul/export/zimbra/soap"
	"github.com/mailhaul/mailhaul/export/zimbra/tgz"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/retry"
	"github.com/mailhaul/mailhaul/report"
)

// Live exports one user of a live Zimbra: the REST exports of soap.Plan
// (the root, then /Trash and /Junk, which the root export leaves out;
// with a cutoff each asks only for what was received since, every item
// type by its date: soap.AfterQuery), read as
// they stream in, through the same reader as tgz files. With a Client,
// the folder tree (GetFolderRequest) adds the folders no export named
// (an export with a cutoff carries no folder records) and, without a
// cutoff, its per-folder counts (read before and after the exports,
// the smaller taken) are checked against what the exports held: a
// shortfall is an error naming the folder and the numbers.
type Live struct {
	Client  *soap.Client // nil: Zmmailbox only, no tree and no counts
	Account soap.Account // as GetAccount read it (zimbraMailHost)
	// Zmmailbox, when set, is the zmmailbox program whose output is read
	// instead of HTTPS (on the Zimbra host, as the zimbra user).
	Zmmailbox string
	// IdleTimeout ends a zmmailbox whose output was silent that long
	// once it began (0: 5 min); HeaderTimeout one that sent nothing at
	// all that long (0: 10 min): its first byte comes after Zimbra
	// searched the mailbox, as an HTTPS export's headers do.
	IdleTimeout, HeaderTimeout time.Duration
}

var _ export.Source = (*Live)(nil)

// StreamError is a live export that broke mid-way: what was written from
// it must be discarded and the user's export started again.
type StreamError struct{ Err error }

func (e *StreamError) Error() string { return e.Err.Error() }
func (e *StreamError) Unwrap() error { return e.Err }

// Export reads the user's exports into sink.
func (l *Live) Export(ctx context.Context, sink export.Sink, opt export.Options) error {
	var tree *soap.Folder
	if l.Client != nil {
		var err error
		if tree, err = l.Client.Folders(ctx, l.Account); err != nil {
			return err
		}
	}
	x := newExporter(ctx, sink, opt, &Source{Streams: l.streams(opt.After), AccountID: l.Account.ID})
	held := map[int]int{} // items by Zimbra folder id
	counted := &idSet{}   // by item id: an item in two exports counts once
	x.observe = func(_ *tgz.Reader, it *tgz.Item) {
		if it.Meta != nil && inFolderCount(it.Type) && !counted.has(it.Meta.ID) {
			counted.add(it.Meta.ID)
			held[it.Meta.FolderID]++
		}
		if it.Meta != nil && (it.Type == tgz.TypeSearchFolder || it.Type == tgz.TypeMountpoint) {
			counted.add(it.Meta.ID) // counted by the export's record
		}
	}
	if err := x.exportAll(); err != nil {
		return err
	}
	if tree == nil {
		if opt.State {
			sink.AddWarning(format.Problem{Item: "state record", Reason: fmt.Sprintf(noStateReason, "zmmailbox gives no listing of the mailbox")})
		}
		if opt.After.IsZero() {
			sink.AddWarning(format.Problem{Item: "folder counts", Reason: "not checked: without --url there is no GetFolderRequest to count " +
				"against, so items Zimbra left out of the export without a word (a missing blob, a failed type group) go unnoticed"})
		}
		return nil
	}
	if err := l.addTreeFolders(x, tree, counted); err != nil {
		return err
	}
	if opt.State {
		if err := l.addState(x); err != nil {
			return err
		}
	}
	if opt.After.IsZero() {
		// Counted again after the exports: what was purged (the trash
		// and junk lifetimes) or moved meanwhile is not a shortfall.
		again, err := l.Client.Folders(ctx, l.Account)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			sink.AddWarning(format.Problem{Item: "folder counts", Reason: "not read again after the exports (" + err.Error() +
				"): items deleted or moved meanwhile show as missing"})
		}
		reconcile(sink, tree, again, held)
	}
	return nil
}

// inFolderCount: the item types GetFolderRequest's n counts in a folder.
func inFolderCount(t int) bool {
	switch t {
	case tgz.TypeFolder, tgz.TypeSearchFolder, tgz.TypeTag, tgz.TypeConversation, tgz.TypeVirtualConv,
		tgz.TypeMountpoint, tgz.TypeFlag, tgz.TypeLink:
		return false
	}
	return true
}

// addTreeFolders adds the folders of the tree that no export described:
// every one, empty ones too (an export with a cutoff carries no folder
// records). They go through the same path as a folder record, with the
// tree's view and colour in Zimbra's metadata form; a search folder or
// mountpoint whose record no export held (seen: by id) is counted as not
// migrated, as its record is.
func (l *Live) addTreeFolders(x *exporter, tree *soap.Folder, seen *idSet) error {
	return tree.Walk(func(f *soap.Folder) error {
		id, _ := strconv.Atoi(f.ID)
		parent, _ := strconv.Atoi(f.Parent)
		if kind := treeKinds[f.Kind]; kind != 0 && !seen.has(id) {
			seen.add(id)
			return x.item(&tgz.Item{Type: kind, Entry: f.Path, Meta: &tgz.Meta{ID: id, Type: kind, FolderID: parent, Path: f.Path}})
		}
		if f.Kind != soap.KindFolder || id == idUserRoot || f.Path == "/" || x.folders[f.Path] != nil || x.folders[f.Path+"\x00mail"] != nil {
			return nil
		}
		md := metadata.Map{}
		if v := treeViews[f.View]; v != 0 {
			md["vt"] = int64(v)
		}
		if rgb, err := strconv.ParseUint(strings.TrimPrefix(f.RGB, "#"), 16, 32); f.Color == 0 && f.RGB != "" && err == nil {
			md["c"] = int64(rgb) | colorRGB
		} else if f.Color > 0 {
			md["c"] = int64(f.Color)
		}
		m := &tgz.Meta{ID: id, Type: tgz.TypeFolder, ParentID: parent, FolderID: parent, Path: f.Path, Metadata: metadata.Encode(md)}
		return x.item(&tgz.Item{Type: tgz.TypeFolder, Meta: m, Entry: f.Path})
	})
}

// treeKinds are the item types of the tree's nodes that are not folders.
var treeKinds = map[soap.Kind]int{soap.KindSearch: tgz.TypeSearchFolder, soap.KindLink: tgz.TypeMountpoint}

// treeViews are GetFolderRequest's view names as item type bytes, the
// form of a folder record's "vt".
var treeViews = map[string]int{"message": tgz.TypeMessage, "conversation": tgz.TypeConversation, "contact": tgz.TypeContact,
	"appointment": tgz.TypeAppointment, "task": tgz.TypeTask, "document": tgz.TypeDocument, "wiki": tgz.TypeWiki, "chat": tgz.TypeChat}

// reconcile reports every folder whose count (GetFolderRequest's n,
// the smaller of before and after the exports; after may be nil)
// exceeds the items the exports held in it: items Zimbra skipped
// without a word (a missing blob, a failed type group; see the notes).
func reconcile(sink export.Sink, before, after *soap.Folder, held map[int]int) {
	countCheck{held: held, noun: "the export held", when: "the export", path: archivePath}.run(sink, before, after)
}

// countCheck compares GetFolderRequest's counts with what was read of
// each folder.
type countCheck struct {
	held map[int]int // by folder id
	noun string      // what held is: "the export held"
	when string      // what before was before: "the export"
	path func(zimbraPath string) string
	skip func(*soap.Folder) bool // folders not checked; nil: none
}

// run reports every folder whose count (n, the smaller of before and
// after; after may be nil) exceeds what was held of it, as an error
// naming the folder.
func (c countCheck) run(sink export.Sink, before, after *soap.Folder) {
	later := map[string]int{}
	if after != nil {
		after.Walk(func(f *soap.Folder) error {
			later[f.ID] = f.Items
			return nil
		})
	}
	before.Walk(func(f *soap.Folder) error {
		id, _ := strconv.Atoi(f.ID)
		n := f.Items
		if after != nil {
			n = min(n, later[f.ID]) // a folder gone meanwhile counts 0
		}
		if f.Kind == soap.KindFolder && n > c.held[id] && (c.skip == nil || !c.skip(f)) {
			what := fmt.Sprintf("Zimbra counts %d items in it (GetFolderRequest n), %s %d: %d missing", n, c.noun, c.held[id], n-c.held[id])
			if n != f.Items {
				what = fmt.Sprintf("Zimbra counts %d items in it (GetFolderRequest n, %d before %s), %s %d: %d missing",
					n, f.Items, c.when, c.noun, c.held[id], n-c.held[id])
			}
			sink.AddError(format.Problem{Folder: c.path(f.Path), Item: "folder " + f.Path, Reason: what})
		}
		return nil
	})
}

// streams are the exports of soap.Plan, over HTTPS or through zmmailbox.
func (l *Live) streams(after time.Time) []Stream {
	var out []Stream
	for _, e := range soap.Plan(after) {
		name := restPath(e)
		if l.Zmmailbox != "" {
			out = append(out, Stream{Name: name, Open: func(ctx context.Context) (io.ReadCloser, error) {
				return l.runZmmailbox(ctx, name)
			}})
			continue
		}
		out = append(out, Stream{Name: name, Open: func(ctx context.Context) (io.ReadCloser, error) {
			st, err := l.Client.Export(ctx, l.Account, e)
			if err != nil || st.Empty {
				return nil, err
			}
			return st, nil
		}})
	}
	return out
}

// restPath is e as zmmailbox's getRestURL takes it: relative to the
// user's REST URL, "//" the mailbox root.
func restPath(e soap.Export) string {
	p := "/" + strings.Trim(e.Folder, "/")
	if p == "/" {
		p = "//"
	}
	p += "?fmt=tgz"
	if e.Query != "" {
		p += "&query=" + url.QueryEscape(e.Query)
	}
	return p
}

// runZmmailbox starts `zmmailbox -z -m USER -t 0 getRestURL PATH` (-z:
// the local admin login from localconfig, no password on the command
// line; -t 0: no socket timeout, which large exports hit) and gives its
// output; nil when it wrote nothing and succeeded (an empty export).
// It runs in a process group of its own, ended whole when ctx is done,
// on Close, or when a Read waited too long (-t 0 leaves that unbounded
// otherwise): HeaderTimeout for the first byte, IdleTimeout after it;
// Wait gives up on its pipes 5 s after the exit.
func (l *Live) runZmmailbox(ctx context.Context, path string) (io.ReadCloser, error) {
	cmd := exec.CommandContext(ctx, l.Zmmailbox, "-z", "-m", l.Account.Name, "-t", "0", "getRestURL", path)
	ownGroup(cmd)
	cmd.Cancel = func() error { return killGroup(cmd) }
	cmd.WaitDelay = 5 * time.Second
	stderr := &tailBuffer{max: 4 << 10}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("zmmailbox: %w", err)
	}
	z := &zmOutput{cmd: cmd, r: bufio.NewReaderSize(out, 64<<10), stderr: stderr, what: path,
		first: cmp.Or(max(l.HeaderTimeout, 0), 10*time.Minute), idle: cmp.Or(max(l.IdleTimeout, 0), 5*time.Minute)}
	z.timer = time.AfterFunc(z.first, func() { z.stalled.Store(true); killGroup(cmd) })
	_, err = z.r.Peek(1)
	z.timer.Stop()
	if err == io.EOF {
		if err := z.wait(false, z.first); err != nil {
			return nil, err
		}
		return nil, nil
	}
	return z, nil
}

// zmOutput is zmmailbox's standard output; its end is the program's
// exit, and a failure after output began is a broken stream.
type zmOutput struct {
	cmd    *exec.Cmd
	r      *bufio.Reader
	stderr *tailBuffer
	what   string
	n      int64
	done   bool
	// first and idle bound a Read's wait, for the first byte and after
	// it; the timer runs only while a Read waits (a slow reader is not
	// a silent zmmailbox).
	first, idle time.Duration
	timer       *time.Timer
	stalled     atomic.Bool // the timer ended it
}

// clock is how long the next Read may wait.
func (z *zmOutput) clock() time.Duration {
	if z.n == 0 {
		return z.first
	}
	return z.idle
}

func (z *zmOutput) Read(p []byte) (int, error) {
	wait := z.clock()
	z.timer.Reset(wait)
	n, err := z.r.Read(p)
	z.timer.Stop()
	z.n += int64(n)
	if err == io.EOF {
		if werr := z.wait(true, wait); werr != nil {
			return n, werr
		}
	} else if err != nil {
		err = retry.MarkTransient(fmt.Errorf("zmmailbox getRestURL %s: read its output: %w", z.what, err))
	}
	return n, err
}

// wait reaps the program; started says output had begun (a failure is
// then a cut stream, worth a fresh try, as is a silent one).
func (z *zmOutput) wait(started bool, waited time.Duration) error {
	if z.done {
		return nil
	}
	z.done = true
	z.timer.Reset(waited) // a program that closed its output but hangs
	err := z.cmd.Wait()
	z.timer.Stop()
	if z.stalled.Load() {
		return &StreamError{Err: retry.MarkTransient(fmt.Errorf("zmmailbox -m %s getRestURL %s sent nothing for %s after %d bytes; ended it",
			z.cmd.Args[3], z.what, waited, z.n))}
	}
	if err != nil {
		err = fmt.Errorf("zmmailbox -m %s getRestURL %s: %w after %d bytes: %s", z.cmd.Args[3], z.what, err, z.n, strings.TrimSpace(z.stderr.String()))
		if started {
			return retry.MarkTransient(err)
		}
		return err
	}
	return nil
}

func (z *zmOutput) Close() error {
	if !z.done {
		killGroup(z.cmd)
		z.done = true
		z.cmd.Wait()
		z.timer.Stop()
	}
	return nil
}

// tailBuffer keeps the last max bytes written (a program's stderr, for
// its error message).
type tailBuffer struct {
	bytes.Buffer
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.Buffer.Write(p)
	if over := t.Len() - t.max; over > 0 {
		t.Next(over)
	}
	return len(p), nil
}

// Record is a's account.json: the facts a target is provisioned from.
// The password hash is there only when a carries it (asked for).
func Record(a soap.Account) *format.Account {
	r := &format.Account{
		DisplayName:     a.Attr("displayName"),
		GivenName:       a.Attr("givenName"),
		Surname:         a.Attr("sn"),
		Aliases:         a.Attrs["zimbraMailAlias"],
		Status:          a.Attr("zimbraAccountStatus"),
		TimeZone:        a.Attr("zimbraPrefTimeZoneId"),
		NoLocalDelivery: strings.EqualFold(a.Attr("zimbraPrefMailLocalDeliveryDisabled"), "TRUE"),
		Sieve:           a.Attr("zimbraMailSieveScript"),
		OutgoingSieve:   a.Attr("zimbraMailOutgoingSieveScript"),
		PasswordHash:    a.PasswordHash,
	}
	r.QuotaBytes, _ = strconv.ParseInt(a.Attr("zimbraMailQuota"), 10, 64)
	for _, v := range append(a.Attrs["zimbraPrefMailForwardingAddress"], a.Attrs["zimbraMailForwardingAddress"]...) {
		for _, addr := range strings.Split(v, ",") {
			if addr = strings.TrimSpace(addr); addr != "" {
				r.Forwarding = append(r.Forwarding, addr)
			}
		}
	}
	if reply, on := a.Attr("zimbraPrefOutOfOfficeReply"), a.Attr("zimbraPrefOutOfOfficeReplyEnabled"); reply != "" || on != "" {
		r.OutOfOffice = &format.Reply{Enabled: strings.EqualFold(on, "TRUE"), Text: reply}
	}
	if len(a.Attrs) > 0 {
		r.SourceAttributes = a.Attrs
	}
	return r
}

// LiveJob is one user's live export into one archive.
type LiveJob struct {
	// Job is the export job; Kind, Path, Source and Account are filled in.
	Job       export.Job
	Client    *soap.Client // nil with Zmmailbox: no account record, tree or counts
	Zmmailbox string
	// PasswordHash asks for userPassword (Zimbra sends it only to zmprov
	// -l; over SOAP it stays VALUE-BLOCKED and is left out).
	PasswordHash bool
	// Listed is the account as a listing gave it (zmprov -l gaa -v
	// output): with PasswordHash its hash is kept, GetAccount giving none.
	Listed soap.Account
	// Retry bounds the fresh starts of the user's export after a broken
	// stream; zero fields: 3 attempts, 5 s doubling up to 1 min.
	Retry retry.Loop
	// IdleTimeout gives up zmmailbox's output when it sent nothing for
	// that long (it runs with -t 0, no timeout of its own); 0: 5 min.
	IdleTimeout time.Duration
	// HeaderTimeout bounds the wait for zmmailbox's first byte, which
	// comes after Zimbra searched the mailbox; 0: 10 min.
	HeaderTimeout time.Duration
}

// RunLive exports one user: GetAccount (its record into the manifest),
// then export.Run, which writes to a temporary file renamed only when
// complete; a stream that broke fails that run (its temporary file
// removed) and the whole user's export starts again, within Retry. Any
// other failure (an unknown account, a refused login) is not repeated.
func RunLive(ctx context.Context, lj LiveJob) (*report.Export, error) {
	job := PrepareLive(ctx, lj)
	if lj.Client != nil {
		defer lj.Client.Done(job.User)
	}
	loop := lj.Retry
	if loop.Attempts <= 0 {
		loop.Attempts = 3
	}
	if loop.Backoff.First <= 0 {
		loop.Backoff = retry.Policy{First: 5 * time.Second, Max: time.Minute}
	}
	var rep *report.Export
	err := retry.Do(ctx, loop, func(ctx context.Context, _ int) error {
		var err error
		rep, err = export.Run(ctx, job)
		var broken *StreamError
		if err != nil && errors.As(err, &broken) && ctx.Err() == nil {
			return retry.MarkTransient(err)
		}
		return retry.MarkPermanent(err)
	})
	return rep, err
}

// PrepareLive looks lj's user up (with a Client: GetAccount, for the
// manifest's account record and the mail host) and returns the export
// job whose Source is the user's live export, for a caller that runs
// export.Run itself under a retry loop of its own (migrate): a broken
// stream is marked transient there, so the loop starts the user's export
// again, and the user's delegated token is forgotten when each try ends.
// A lookup that failed is the Source's error, so that export.Run reports
// it.
func PrepareLive(ctx context.Context, lj LiveJob) export.Job {
	job := lj.Job
	job.Kind, job.PathIsURL = "zimbra", true
	live := &Live{Client: lj.Client, Account: soap.Account{Name: job.User}, Zmmailbox: lj.Zmmailbox, IdleTimeout: lj.IdleTimeout,
		HeaderTimeout: lj.HeaderTimeout}
	job.Source = liveTry{live}
	if lj.Client != nil {
		a, err := lj.Client.GetAccount(ctx, job.User, lj.PasswordHash)
		if err != nil {
			job.Source = failed{err}
		} else {
			if lj.PasswordHash && a.PasswordHash == "" {
				a.PasswordHash = lj.Listed.PasswordHash
			}
			live.Account, job.Account = a, Record(a)
		}
	}
	if lj.Client == nil && len(lj.Listed.Attrs) > 0 {
		// No SOAP: the record is what the listing (gaa -v) said.
		a := lj.Listed
		if !lj.PasswordHash {
			a.PasswordHash = ""
		}
		job.Account = Record(a)
	}
	return job
}

// liveTry is one try of a live export (PrepareLive).
type liveTry struct{ *Live }

func (l liveTry) Export(ctx context.Context, sink export.Sink, opt export.Options) error {
	if l.Client != nil {
		defer l.Client.Done(l.Account.Name)
	}
	err := l.Live.Export(ctx, sink, opt)
	var broken *StreamError
	if errors.As(err, &broken) && !retry.IsRetryable(err) {
		return retry.MarkTransient(err)
	}
	return err
}

// failed is a source that cannot start, so that export.Run reports it.
type failed struct{ err error }

func (f failed) Export(context.Context, export.Sink, export.Options) error { return f.err }
