package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/report"
)

// The registry names every kind a plan file may name; each source kind
// builds its source and has its export subcommand.
func TestRegistryKinds(t *testing.T) {
	var sources []string
	root := (&app{}).rootCommand()
	for _, k := range sourceKinds() {
		sources = append(sources, k.name)
		if src, err := k.new(sourceSettings{Path: t.TempDir(), Layout: "auto"}); err != nil || src == nil {
			t.Errorf("source %s: %v", k.name, err)
		}
		if c, _, err := root.Find([]string{"export", k.name}); err != nil || c.Name() != k.name {
			t.Errorf("no export %s subcommand: %v", k.name, err)
		}
	}
	if want := []string{"maildir", "mbox", "zimbra"}; !slices.Equal(sources, want) {
		t.Errorf("source kinds %v, want %v", sources, want)
	}
	var targets []string
	for _, k := range targetKinds() {
		targets = append(targets, k.name)
	}
	if want := []string{"imap", "dav", "maildir", "mbox", "eml"}; !slices.Equal(targets, want) {
		t.Errorf("target kinds %v, want %v", targets, want)
	}
	if _, err := findSource("exchange"); err == nil || !strings.Contains(err.Error(), "maildir, mbox, zimbra") {
		t.Errorf("unknown source kind: %v; want an error listing the kinds", err)
	}
	if _, err := findTarget("pop3"); err == nil || !strings.Contains(err.Error(), "imap, dav, maildir, mbox, eml") {
		t.Errorf("unknown target kind: %v; want an error listing the kinds", err)
	}
	for _, k := range targetKinds() {
		if _, err := findTarget(k.name); (err == nil) != (k.new != nil) {
			t.Errorf("target %s: %v; an empty slot must be refused, a filled one found", k.name, err)
		}
	}
}

// export --from KIND is export KIND: the same archive and report.
func TestExportFromKind(t *testing.T) {
	var got []report.Export
	for _, args := range [][]string{{"export", "--from", "mbox"}, {"export", "mbox"}} {
		out := t.TempDir()
		args = append(args, "--json", "-q", "--user", "bob@example.org", "--src", sample+"/bob-mbox", "--out", out)
		code, stdout, stderr := mailhaul(t, args...)
		if code != exitOK {
			t.Fatalf("%v: exit %d\n%s%s", args, code, stdout, stderr)
		}
		var rep report.Export
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, stdout)
		}
		var prog map[string]any
		if err := json.Unmarshal([]byte(lines[0]), &prog); err != nil || prog["event"] != "progress" || prog["stage"] != "export" ||
			prog["user"] != "bob@example.org" || prog["items"] == nil || prog["folder"] == nil {
			t.Errorf("%v: first line %s; want an export progress event of bob with items and folder", args, lines[0])
		}
		if _, err := os.Stat(filepath.Join(out, "bob@example.org.tgz.report.json")); err != nil {
			t.Errorf("%v: no report beside the archive: %v", args, err)
		}
		got = append(got, rep)
	}
	if got[0].Source.Kind != "mbox" || got[0].Counts != got[1].Counts || got[0].Counts.Messages == 0 ||
		got[0].Skipped["expunged"] != 1 || got[0].SkipCodes[report.CodeExpunged] != 1 {
		t.Errorf("--from mbox %+v\nmbox %+v\nwant the same mbox export, its expunged message skipped with its code", got[0], got[1])
	}
	if code, _, stderr := mailhaul(t, "export", "--from", "exchange", "--user", "a", "--src", "x", "--out", t.TempDir()); code != exitFailed || !strings.Contains(stderr, "unknown source kind") {
		t.Errorf("--from exchange: exit %d, %q", code, stderr)
	}
}

// A dry run's plan is printed by the command, as text or as one JSON line,
// for any target; the report file holds the report.
func TestPrintPlan(t *testing.T) {
	rep := report.New("alice", "imap", "imap://x", []string{"a.tgz"})
	rep.DryRun = true
	rep.AddImported(10)
	rep.Finish()
	res := &importer.Result{Report: rep, Plan: &importer.Plan{Folders: []importer.PlanFolder{
		{Source: "Sent", Target: "Sent Items", Kind: "mail", Create: false, Items: 3, Bytes: 300, Present: 1, Note: "role sent\x1b[2J"},
		{Source: "Contacts", Target: "https://dav/alice/contacts/", Kind: "contacts", Create: true, Items: 2, Bytes: 20, Note: `named "Contacts"`},
		{Source: "Work", Target: "https://dav/alice/work/", Kind: "tasks", Items: 1, Bytes: 10, Present: 4},
	}}}
	var out bytes.Buffer
	a := &app{stdout: &out, stderr: &out}
	path := filepath.Join(t.TempDir(), "r.json")
	if err := a.printPlan(path, res); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		`reuse  "Sent Items"                   <- "Sent"                              3 messages        300 bytes to send,      1 already there`,
		`address book "Contacts" -> new https://dav/alice/contacts/: 2 to send (20 bytes), 0 already there; named "Contacts"` + "\n",
		`tasks of calendar "Work" -> existing https://dav/alice/work/: 1 to send (10 bytes), 4 already there` + "\n",
		"       role sent\\x1b[2J", rep.Line(), rep.Statement,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("plan text lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "state record") {
		t.Errorf("a plan without a state record speaks of one:\n%s", text)
	}

	// A delta's plan shows what its state record would change.
	delta := report.New("alice", "imap", "imap://x", []string{"a.after.tgz"})
	delta.DryRun = true
	delta.StateApplied()
	delta.AddUpdated()
	delta.AddUpdated()
	delta.AddMoved()
	delta.AddDeleted()
	delta.AddConflict(report.Failure{Folder: "INBOX", Item: "m1", Reason: "flags changed on the target"})
	delta.AddWouldDelete(report.Failure{Folder: "Trash", Item: "m2", Reason: "deleted at the source"})
	delta.Finish()
	out.Reset()
	if err := a.printPlan("", &importer.Result{Report: delta, Plan: &importer.Plan{}}); err != nil {
		t.Fatal(err)
	}
	if want := "state record: would update 2, move 1, delete 1; 1 left alone as conflicts; " +
		"1 deleted at the source would stay on the target (--apply-deletions deletes them)\n"; !strings.Contains(out.String(), want) {
		t.Errorf("delta plan lacks %q:\n%s", want, out.String())
	}

	var onDisk report.Report
	if b, err := os.ReadFile(path); err != nil || json.Unmarshal(b, &onDisk) != nil || onDisk.WouldImport != 1 {
		t.Errorf("report file: %v, would import %d; want the dry run's report", err, onDisk.WouldImport)
	}

	out.Reset()
	a.json = true
	rep.AddFailure(report.Failure{Item: "x", Reason: "the target refused it"})
	if err := a.printPlan("", res); !errors.Is(err, errPartial) {
		t.Errorf("a plan with a failure: %v, want errPartial", err)
	}
	var line struct {
		Event   string
		User    string
		Folders []importer.PlanFolder
		Report  report.Report
	}
	if err := json.Unmarshal(out.Bytes(), &line); err != nil || line.Event != "plan" || line.User != "alice" ||
		len(line.Folders) != 3 || line.Folders[1].Kind != "contacts" || line.Report.Failures[0].Code != report.CodeRefused {
		t.Errorf("JSON plan %s: %v", out.String(), err)
	}
}
