package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/mbox"
	"github.com/mailhaul/mailhaul/migrate"
	"github.com/mailhaul/mailhaul/progress"
)

// A real run of the engine (the export part, three users, one whose
// mailbox is missing) counted through Progress, then scraped over HTTP:
// users by status, items and bytes of the export, the failure by class;
// the run's own progress still hears every event.
func TestScrapeAfterRun(t *testing.T) {
	dir := t.TempDir()
	msg := "From a@example.org Mon Jan  1 00:00:00 2024\nFrom: a@example.org\nSubject: hi\n\nbody\n\n"
	writeFile(t, filepath.Join(dir, "mail", "a.mbox"), msg+msg+msg)
	writeFile(t, filepath.Join(dir, "mail", "b.mbox"), msg)
	users := []migrate.User{{Name: "a"}, {Name: "b"}, {Name: "c"}} // c has no mailbox
	state := filepath.Join(dir, "state")
	m := New(len(users), state)
	var heard atomic.Int64
	job := migrate.Job{Users: users, Stage: migrate.Full, Part: migrate.ExportOnly, StateDir: state, ArchiveDir: filepath.Join(dir, "archives"),
		Progress: m.Progress(func(progress.Event) { heard.Add(1) }),
		Steps: migrate.Steps{Export: func(_ context.Context, u migrate.User, _ string) (export.Job, error) {
			p := filepath.Join(dir, "mail", u.Name+".mbox")
			return export.Job{Kind: "mbox", Path: p, Source: &mbox.Source{Path: p}}, nil
		}}}
	res, err := migrate.Run(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	if res.Count(migrate.Done) != 2 || res.Count(migrate.FailedPerm) != 1 {
		t.Fatalf("run: %s", res.Summary())
	}
	ln, err := Listen("127.0.0.1:0", false)
	if err != nil {
		t.Fatal(err)
	}
	go m.Serve(ln)
	defer ln.Close()
	resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	got := string(b)
	var exported int64
	for _, u := range res.Users {
		for _, a := range u.State.Archives {
			exported += a.Bytes
		}
	}
	for _, want := range []string{
		`mailhaul_migrate_users{status="done"} 2`,
		`mailhaul_migrate_users{status="failed-permanent"} 1`,
		`mailhaul_migrate_users{status="queued"} 0`,
		`mailhaul_migrate_users{status="exporting"} 0`,
		`mailhaul_migrate_items_total{stage="export"} 4`,
		`mailhaul_migrate_user_failures_total{class="permanent"} 1`,
		`mailhaul_migrate_users_finished 3`,
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("metrics lack %q:\n%s", want, got)
		}
	}
	if !strings.Contains(got, `mailhaul_migrate_bytes_total{stage="export"} `) || exported == 0 {
		t.Errorf("no export bytes:\n%s", got)
	}
	if heard.Load() == 0 {
		t.Error("the run's own progress heard nothing")
	}
}

// Only loopback unless asked: ":9090" would listen on every network.
func TestListenLoopbackOnly(t *testing.T) {
	for _, addr := range []string{":0", "0.0.0.0:0", "192.0.2.1:9090"} {
		if ln, err := Listen(addr, false); !errors.Is(err, ErrNotLoopback) {
			if ln != nil {
				ln.Close()
			}
			t.Errorf("%s: %v, want refused", addr, err)
		}
	}
	ln, err := Listen("[::1]:0", false)
	if err == nil {
		ln.Close()
	}
	ln, err = Listen("127.0.0.1:0", true)
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}
