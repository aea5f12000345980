package main

import (
	"encoding/json"
	"fmt"
	"github.com/mailhaul/mailhaul/report"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const corpus = "../../testdata/corpus"

// exportAndInspect exports with args, then checks that inspect agrees with
// the export's own report: same counts, complete, errors carried over.
func exportAndInspect(t *testing.T, user string, args ...string) inspection {
	t.Helper()
	out := t.TempDir()
	args = append(args, "--user", user, "--out", out, "--json", "--quiet")
	code, stdout, stderr := mailhaul(t, args...)
	if code != exitOK && code != exitPartial {
		t.Fatalf("mailhaul %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout, stderr)
	}
	var rep report.Export
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil {
		t.Fatalf("last JSON line of export: %v\n%s", err, stdout)
	}
	ins := inspectJSON(t, rep.Archive)
	if !ins.Complete || ins.Counts != rep.Counts || len(ins.Errors) != len(rep.Errors) {
		t.Errorf("inspect disagrees with export: inspect %+v (complete %v, %d errors), export %+v (%d errors)",
			ins.Counts, ins.Complete, len(ins.Errors), rep.Counts, len(rep.Errors))
	}
	if (code == exitPartial) != (len(rep.Errors) > 0) {
		t.Errorf("exit %d with %d errors: exit 3 must mean some items failed", code, len(rep.Errors))
	}
	return ins
}

// TestCorpusThroughExportAndInspect sends every real-world fixture through
// the whole command line. The exact per-file counts are asserted in the
// source packages' own tests; here the totals are checked end to end.
func TestCorpusThroughExportAndInspect(t *testing.T) {
	t.Run("maildirs", func(t *testing.T) {
		for _, dir := range []string{"mox-importtest", "stalwart-maildirpp"} {
			ins := exportAndInspect(t, "corpus@example.org", "export", "maildir", "--src", filepath.Join(corpus, "maildir", dir))
			files := countMessageFiles(t, filepath.Join(corpus, "maildir", dir))
			if got := ins.Counts.Messages + len(ins.Errors); got != files {
				t.Errorf("%s: %d messages + %d errors, want one or the other for each of the %d files", dir, ins.Counts.Messages, len(ins.Errors), files)
			}
		}
	})
	t.Run("single messages", func(t *testing.T) {
		// The 185 .eml files, many malformed on purpose, as one Maildir:
		// every one must come out byte for byte or be reported.
		src := t.TempDir()
		os.MkdirAll(filepath.Join(src, "cur"), 0o755)
		n := 0
		filepath.WalkDir(filepath.Join(corpus, "mail"), func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".eml") {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			n++
			name := filepath.Join(src, "cur", fmt.Sprintf("1700000000.%04d.corpus:2,S", n))
			return os.WriteFile(name, data, 0o644)
		})
		if n < 150 {
			t.Fatalf("found only %d .eml fixtures", n)
		}
		ins := exportAndInspect(t, "corpus@example.org", "export", "maildir", "--src", src)
		if ins.Counts.Messages != n {
			t.Errorf("%d of %d corpus messages exported (errors: %v)", ins.Counts.Messages, n, ins.Errors)
		}
	})
	t.Run("mbox files", func(t *testing.T) {
		files, _ := filepath.Glob(filepath.Join(corpus, "mbox", "*", "*.mbox"))
		if len(files) == 0 {
			t.Fatal("no mbox fixtures")
		}
		for _, f := range files {
			ins := exportAndInspect(t, "corpus@example.org", "export", "mbox", "--src", f)
			if ins.Counts.Messages == 0 {
				t.Errorf("%s: no messages exported", f)
			}
		}
	})
	t.Run("contacts and calendars", func(t *testing.T) {
		empty := t.TempDir() // an empty Maildir: a directory with no cur/ is refused
		os.MkdirAll(filepath.Join(empty, "cur"), 0o755)
		var args []string
		vcfs, _ := filepath.Glob(filepath.Join(corpus, "vcard", "*", "*.vcf"))
		for _, f := range vcfs {
			args = append(args, "--contacts", f)
		}
		var icss []string
		filepath.WalkDir(filepath.Join(corpus, "ical"), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".ics") || strings.HasSuffix(p, ".vcs")) {
				icss = append(icss, p)
			}
			return err
		})
		for _, f := range icss {
			args = append(args, "--calendar", f)
		}
		ins := exportAndInspect(t, "corpus@example.org", append([]string{"export", "maildir", "--src", empty}, args...)...)
		if ins.Counts.Contacts == 0 || ins.Counts.Events == 0 || ins.Counts.Tasks == 0 {
			t.Errorf("contacts and calendars from %d .vcf and %d .ics files: %+v", len(vcfs), len(icss), ins.Counts)
		}
	})
}

func countMessageFiles(t *testing.T, root string) int {
	n := 0
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			parent := filepath.Base(filepath.Dir(p))
			if (parent == "cur" || parent == "new") && !strings.HasPrefix(d.Name(), ".") {
				n++
			}
		}
		return err
	})
	return n
}
