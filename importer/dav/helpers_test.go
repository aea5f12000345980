package dav

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/exporttest"
	"github.com/mailhaul/mailhaul/export/pim"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/internal/davclient"
	"github.com/mailhaul/mailhaul/internal/retry"
	"github.com/mailhaul/mailhaul/report"
)

// corpusFiles lists the vCard and iCalendar fixtures.
func corpusFiles(t *testing.T) (vcf, ics []string) {
	t.Helper()
	root := filepath.Join("..", "..", "testdata", "corpus")
	filepath.WalkDir(filepath.Join(root, "vcard"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".vcf") {
			vcf = append(vcf, p)
		}
		return nil
	})
	filepath.WalkDir(filepath.Join(root, "ical"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".ics") || strings.HasSuffix(p, ".vcs")) {
			ics = append(ics, p)
		}
		return nil
	})
	if len(vcf) == 0 || len(ics) == 0 {
		t.Fatalf("no corpus files found under %s", root)
	}
	return vcf, ics
}

// folderName names the collection of a corpus file: its directory and
// base name, so that equal base names in different folders stay apart.
func folderName(p string) string {
	return filepath.Base(filepath.Dir(p)) + " " + strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
}

// exportedItem is an item as the exporter wrote it.
type exportedItem struct {
	format.Item
	Body []byte
}

// buildArchive exports the files with export/pim, as `mailhaul export`
// does, into an archive in dir, and returns its path and items.
func buildArchive(t *testing.T, dir, user string, vcf, ics []string) (string, []exportedItem) {
	t.Helper()
	ctx := context.Background()
	var sink exporttest.Sink
	for _, p := range vcf {
		if err := pim.AddContacts(ctx, &sink, folderName(p), p, export.Options{}); err != nil {
			t.Fatalf("export %s: %v", p, err)
		}
	}
	for _, p := range ics {
		if err := pim.AddCalendar(ctx, &sink, folderName(p), p, export.Options{}); err != nil {
			t.Fatalf("export %s: %v", p, err)
		}
	}
	path := filepath.Join(dir, user+".tgz")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := format.NewWriter(f, format.Manifest{User: user, Source: format.Source{Kind: "files"}},
		&format.WriterOptions{Now: func() time.Time { return time.Unix(1700000000, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	var items []exportedItem
	for _, fo := range sink.Folders {
		if err := w.AddFolder(fo); err != nil {
			t.Fatal(err)
		}
		for _, it := range sink.Items {
			if it.Folder != fo.Path || (it.Kind == format.KindContact) != (fo.Kind == format.FolderContacts) {
				continue
			}
			if err := w.AddItem(it.Item, bytes.NewReader(it.Body)); err != nil {
				t.Fatal(err)
			}
			items = append(items, exportedItem{it.Item, it.Body})
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path, items
}

// getter reads resources back with credentials.
type getter struct {
	user, pass string
}

func (g getter) get(t *testing.T, url string) (int, string, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if g.user != "" {
		req.SetBasicAuth(g.user, g.pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("ETag"), b
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// testRun is one import as a test describes it: the target's options and
// what the request carries beside the archives.
type testRun struct {
	Options
	StateDir string
	DryRun   bool
}

// importArchives runs the target on archives as the command does.
func importArchives(ctx context.Context, archives []string, o testRun) (*report.Report, error) {
	res, err := runTarget(ctx, archives, o)
	return res.Report, err
}

func runTarget(ctx context.Context, archives []string, o testRun) (*importer.Result, error) {
	var tg importer.Target = New(o.Options)
	return tg.Import(ctx, importer.Request{User: o.User, Archives: archives, StateDir: o.StateDir, DryRun: o.DryRun})
}

// dryRunPlan runs a dry run and returns its report and plan.
func dryRunPlan(t *testing.T, archive string, o testRun) (*report.Report, *importer.Plan) {
	t.Helper()
	o.DryRun = true
	res, err := runTarget(context.Background(), []string{archive}, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Plan == nil {
		t.Fatal("a dry run returned no plan")
	}
	t.Logf("plan: %+v", res.Plan.Folders)
	return res.Report, res.Plan
}

// planFolder is the plan's folder whose source, target URL or note
// contains each of parts, or false.
func planFolder(p *importer.Plan, parts ...string) (importer.PlanFolder, bool) {
	for _, f := range p.Folders {
		all := f.Source + " " + f.Target + " " + f.Note
		ok := true
		for _, s := range parts {
			ok = ok && strings.Contains(all, s)
		}
		if ok {
			return f, true
		}
	}
	return importer.PlanFolder{}, false
}

// newTestClient is a DAV client as Import makes one; tr nil: a transport
// with the system's roots.
func newTestClient(tr http.RoundTripper, user, password string, l retry.Loop) *client {
	return &client{davclient.New(davclient.Config{User: user, Password: password, Transport: tr, Conns: 3, Retry: l})}
}

// wantPlanned fails t unless the plan sends the items of kind from the
// archive folder source to a collection whose URL contains target,
// created or existing as create says, with a note holding each of notes.
func wantPlanned(t *testing.T, p *importer.Plan, source, kind string, create bool, target string, notes ...string) {
	t.Helper()
	for _, f := range p.Folders {
		if f.Source != source || f.Kind != kind {
			continue
		}
		ok := f.Create == create && strings.Contains(f.Target, target)
		for _, n := range notes {
			ok = ok && strings.Contains(f.Note, n)
		}
		if !ok {
			t.Errorf("plan: %s %q goes to %+v; want create=%v, a URL with %q and a note with %q", kind, source, f, create, target, notes)
		}
		return
	}
	t.Errorf("plan has no line for %s %q: %+v", kind, source, p.Folders)
}

// realServer marks a test that starts its own Radicale or Xandikos: -short
// skips it, and it runs in parallel with the others.
func realServer(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("real server")
	}
	t.Parallel()
}
