package export_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/exporttest"
	"github.com/mailhaul/mailhaul/export/pim"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/progress"
	"github.com/mailhaul/mailhaul/report"
)

const sample = "../testdata/sample"

// A composite of a contacts and a calendar file runs into one archive,
// whose report is written beside it and says what the archive holds.
func TestRunCompositeIntoOneArchive(t *testing.T) {
	out := t.TempDir()
	var last progress.Event
	rep, err := export.Run(context.Background(), export.Job{
		User: "alice@example.org", Kind: "pim", Path: sample + "/alice-contacts.vcf",
		Source: export.Composite{pim.Contacts{Path: sample + "/alice-contacts.vcf"}, pim.Calendar{Path: sample + "/alice-calendar.ics"}},
		Out:    out, Tool: "test",
		Progress: func(e progress.Event) { last = e },
	})
	if err != nil {
		t.Fatal(err)
	}
	want := format.Counts{Contacts: 3, Events: 2, Tasks: 1}
	if got := rep.Counts; got.Contacts != want.Contacts || got.Events != want.Events || got.Tasks != want.Tasks || rep.Status != "ok" {
		t.Errorf("report: status %q counts %+v; want ok with %+v", rep.Status, rep.Counts, want)
	}
	if last.Stage != "export" || last.User != "alice@example.org" || last.Items != 6 || last.Bytes == 0 {
		t.Errorf("last progress event %+v; want export of alice, 6 items with their bytes", last)
	}
	if rep.Archive != filepath.Join(out, "alice@example.org.tgz") || rep.File != rep.Archive+".report.json" {
		t.Errorf("archive %s, report file %s", rep.Archive, rep.File)
	}
	var onDisk report.Export
	if b, err := os.ReadFile(rep.File); err != nil || json.Unmarshal(b, &onDisk) != nil || onDisk.Counts != rep.Counts || onDisk.Source.Kind != "pim" {
		t.Errorf("report file %s: %v, %+v", rep.File, err, onDisk)
	}
	r, err := format.Open(rep.Archive, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m := r.Manifest(); m.User != "alice@example.org" || m.Tool != "test" || !filepath.IsAbs(m.Source.Path) {
		t.Errorf("manifest %+v", m)
	}
	r.Close()
}

// However a run stops, the report says where and why, and no archive is
// left behind.
func TestRunStoppedEarlyWritesTheReport(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	explained := errors.New("explained")
	for _, tc := range []struct {
		name          string
		ctx           context.Context
		job           export.Job
		status, stage string
		want          error
	}{
		{"no user", context.Background(), export.Job{User: " "}, "failed", "arguments", export.ErrNoUser},
		{"missing path", context.Background(), export.Job{User: "bob", Path: "/nonexistent/x"}, "failed", "arguments", os.ErrNotExist},
		{"file for a directory", context.Background(), export.Job{User: "bob", Path: sample + "/alice-contacts.vcf", PathIsDir: true}, "failed", "arguments", nil},
		{"cutoff and archive", context.Background(), export.Job{User: "bob", After: "2026-01-01", Since: "x.tgz"}, "failed", "arguments", nil},
		{"wrong kind of file", context.Background(), export.Job{User: "bob", Path: sample,
			Source: pim.Contacts{Path: sample + "/alice-calendar.ics"}}, "failed", "export", pim.ErrCalendarFile},
		{"explained", context.Background(), export.Job{User: "bob", Path: sample,
			Source:  pim.Contacts{Path: sample + "/alice-calendar.ics"},
			Explain: func(err error) error { return explained }}, "failed", "export", explained},
		{"cancelled", cancelled, export.Job{User: "bob", Path: sample, Source: pim.Contacts{Path: sample + "/alice-contacts.vcf"}}, "cancelled", "export", context.Canceled},
		{"finishing refused", context.Background(), export.Job{User: "bob", Path: sample, Source: pim.Contacts{Path: sample + "/alice-contacts.vcf"},
			Finishing: func(string, time.Time) error { return explained }}, "failed", "write", explained},
	} {
		out := t.TempDir()
		tc.job.Out = out
		before := exporttest.Compressors()
		rep, err := export.Run(tc.ctx, tc.job)
		exporttest.NoCompressorLeft(t, before) // a failed export's archive is aborted
		if err == nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: error %v; want %v", tc.name, err, tc.want)
		}
		if rep.Status != tc.status || rep.Stage != tc.stage || rep.Error != err.Error() {
			t.Errorf("%s: report status %q stage %q error %q; want %s at %s", tc.name, rep.Status, rep.Stage, rep.Error, tc.status, tc.stage)
		}
		files, _ := filepath.Glob(filepath.Join(out, "*"))
		if rep.File == "" && tc.stage == "arguments" && len(files) == 0 {
			continue // refused before the archive's name was known: nowhere to put a report
		}
		if len(files) != 1 || files[0] != rep.File {
			t.Errorf("%s: left %v; want only the report %s", tc.name, files, rep.File)
		}
	}
}

// Finishing hears of the archive once, by its final path and start time,
// before the archive has that name.
func TestRunFinishingNamesTheArchiveBeforeIt(t *testing.T) {
	var calls int
	var path string
	var started time.Time
	rep, err := export.Run(context.Background(), export.Job{User: "alice@example.org", Kind: "pim", Path: sample + "/alice-contacts.vcf",
		Source: pim.Contacts{Path: sample + "/alice-contacts.vcf"}, Out: t.TempDir(),
		Finishing: func(p string, s time.Time) error {
			calls++
			path, started = p, s
			if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s exists before the export finished it (%v)", p, err)
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 || path != rep.Archive || !started.Equal(rep.Started) {
		t.Errorf("Finishing called %d times with %s, %v; want once with %s, %v", calls, path, started, rep.Archive, rep.Started)
	}
}

// --since takes the cutoff from an earlier archive of the same user only.
func TestRunSince(t *testing.T) {
	out := t.TempDir()
	job := export.Job{User: "alice@example.org", Kind: "pim", Path: sample + "/alice-contacts.vcf",
		Source: pim.Contacts{Path: sample + "/alice-contacts.vcf"}, Out: out}
	full, err := export.Run(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	delta := job
	delta.Since, delta.Out = full.Archive, t.TempDir()
	rep, err := export.Run(context.Background(), delta)
	if err != nil || !rep.After.Equal(full.Started.Add(-delta.Overlap)) || rep.Skipped[export.SkipBeforeCutoff] != 3 {
		t.Errorf("delta: %v, after %v (full started %v), skipped %v; want the 3 contacts before the cutoff", err, rep.After, full.Started, rep.Skipped)
	}
	other := delta
	other.User = "bob@example.org"
	_, err = export.Run(context.Background(), other)
	if ae, ok := errors.AsType[*export.ArgError](err); !ok || ae.Name != "since" {
		t.Errorf("bob's delta on alice's archive: %v; want an ArgError naming since", err)
	}
}

// A delta (a cutoff) carries the state record through the job's sink
// wrappers (progress, error count); a full export does not.
func TestRunDeltaCarriesState(t *testing.T) {
	for _, after := range []string{"", "2999-01-01"} {
		out := t.TempDir()
		rep, err := export.Run(context.Background(), export.Job{
			User: "alice@example.org", Kind: "pim", Path: sample + "/alice-contacts.vcf",
			Source: export.Composite{pim.Contacts{Path: sample + "/alice-contacts.vcf"}, pim.Calendar{Path: sample + "/alice-calendar.ics"}},
			Out:    out, After: after, Progress: func(progress.Event) {},
		})
		if err != nil {
			t.Fatal(err)
		}
		items, state := exporttest.ReadArchive(t, rep.Archive)
		switch {
		case after == "" && (len(items) != 6 || len(state) != 0):
			t.Errorf("full export: %d items, %d state lines; want 6 and none", len(items), len(state))
		case after != "" && (len(items) != 0 || len(state) != 6):
			t.Errorf("delta after %s: %d items, %d state lines; want none and 6", after, len(items), len(state))
		}
	}
}
