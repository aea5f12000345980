package zimbra_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/exporttest"
	"github.com/mailhaul/mailhaul/export/zimbra"
	"github.com/mailhaul/mailhaul/export/zimbra/metadata"
	"github.com/mailhaul/mailhaul/export/zimbra/soap"
	"github.com/mailhaul/mailhaul/export/zimbra/zimbratest"
	"github.com/mailhaul/mailhaul/format"
)

// stateMailbox is liveMailbox with flags, tags and unread messages, a
// folder whose name is not safe as is, a contact, an appointment and a
// task.
func stateMailbox() zimbratest.Mailbox {
	mb := liveMailbox()
	mb.Items = append(mb.Items, zimbratest.Item{ID: 259, Type: zimbratest.TypeFolder, Folder: "/", FolderID: 1, Name: "a.b", Date: lday})
	for i := range mb.Items {
		switch mb.Items[i].ID {
		case 300:
			mb.Items[i].Unread = 1
		case 301:
			mb.Items[i].Flags, mb.Items[i].Tags = zimbratest.FlagFlagged|zimbratest.FlagReplied|zimbratest.FlagForwarded, []string{"Work", "two words", `a,b`}
		case 302:
			mb.Items[i].Flags = zimbratest.FlagDraft
		}
	}
	odd := zimbratest.Message(305, "/a.b", 259, "odd folder", lday.Add(9*time.Hour))
	mb.Items = append(mb.Items, odd,
		zimbratest.Contact(400, "/Contacts", 7, "Bob", lday, map[string]string{"firstName": "Bob", "email": "bob@example.org"}),
		zimbratest.Calendar(zimbratest.TypeAppointment, 401, "/Calendar", 10, "Meet", "meet-1", lday,
			metadata.Map{"u": "meet-1", "st": "20240601T090000Z", "et": "20240601T100000Z", "n": "Meet", "dts": int64(1714554000000)}),
		zimbratest.Calendar(zimbratest.TypeTask, 402, "/Tasks", 15, "Do", "task-1", lday,
			metadata.Map{"u": "task-1", "st": "20240510T090000Z", "n": "Do", "dts": int64(1714554000000)}))
	return mb
}

// archiveState reads an archive's items (kind, folder, flags by
// sourceId) and its state record in the same form.
func archiveState(t *testing.T, path string) (items, state map[string]string) {
	t.Helper()
	its, st := exporttest.ReadArchive(t, path)
	line := func(k format.Kind, folder string, flags []string) string {
		return fmt.Sprintf("%s %s %q", k, folder, slices.Sorted(slices.Values(flags)))
	}
	items, state = map[string]string{}, map[string]string{}
	for id, it := range its {
		items[id] = line(it.Kind, it.Folder, it.Flags)
	}
	for id, s := range st {
		state[id] = line(s.Kind, s.Folder, s.Flags)
		if (id == "zimbra:401" && s.UID != "meet-1") || (id == "zimbra:402" && s.UID != "task-1") {
			t.Errorf("state line %s: UID %q", id, s.UID)
		}
	}
	return items, state
}

// A live delta carries a state line for every item of the mailbox, with
// the sourceId, folder and flags the full export gives it, read over
// several pages of SearchRequest; the full export carries none.
func TestLiveDeltaState(t *testing.T) {
	mb := stateMailbox()
	s, c := liveServer(t, mb, zimbratest.ServerOptions{}, nil, func(cfg *soap.Config) { cfg.PageSize = 3 })
	full, err := runLive(t, c, t.TempDir(), "")
	if err != nil || full.Status != "ok" {
		t.Fatalf("full: err %v report %+v", err, full)
	}
	fullItems, fullState := archiveState(t, full.Archive)
	if len(fullState) != 0 || s.Stats().SOAP["SearchRequest"] != 0 {
		t.Errorf("a full export carries a state record (%d lines, %d searches)", len(fullState), s.Stats().SOAP["SearchRequest"])
	}
	if len(fullItems) != 9 {
		t.Fatalf("full export: %d items: %v", len(fullItems), fullItems)
	}
	delta, err := runLive(t, c, t.TempDir(), lday.Add(100*time.Hour).Format(time.RFC3339))
	if err != nil || delta.Status != "ok" {
		t.Fatalf("delta: err %v report %+v", err, delta)
	}
	deltaItems, state := archiveState(t, delta.Archive)
	if len(deltaItems) != 0 {
		t.Errorf("the delta holds items: %v", deltaItems)
	}
	if !maps.Equal(state, fullItems) {
		for _, id := range slices.Sorted(maps.Keys(fullItems)) {
			if state[id] != fullItems[id] {
				t.Errorf("%s: state %s, full export %s", id, state[id], fullItems[id])
			}
		}
		t.Errorf("state has %d lines, full export %d items", len(state), len(fullItems))
	}
	if n := s.Stats().SOAP["SearchRequest"]; n != 3 { // 9 items, pages of 3, the last says no more
		t.Errorf("%d SearchRequests, want 3 pages", n)
	}
}

// A search answer that breaks mid-way (stalls) is asked again and the
// state is whole; one that ends cut short fails the export, leaving no
// archive, rather than carry a partial state.
func TestLiveDeltaStateCutSearch(t *testing.T) {
	mb := stateMailbox()
	searches := 0
	var s *zimbratest.Server
	s, c := liveServer(t, mb, zimbratest.ServerOptions{OnSOAP: func(name string) {
		if name == "SearchRequest" {
			if searches++; searches == 1 {
				s.StallSOAP(60) // the next SOAP answer: the second page
			}
		}
	}}, nil, func(cfg *soap.Config) { cfg.PageSize = 3; cfg.IdleTimeout = 300 * time.Millisecond })
	after := lday.Add(100 * time.Hour).Format(time.RFC3339)
	rep, err := runLive(t, c, t.TempDir(), after)
	if err != nil || rep.Status != "ok" {
		t.Fatalf("stalled page: err %v report %+v", err, rep)
	}
	if _, state := archiveState(t, rep.Archive); len(state) != 9 || searches != 4 {
		t.Errorf("after a stalled page: %d state lines (want 9), %d searches (want 4)", len(state), searches)
	}

	s.CutSOAP("SearchRequest", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) // every try
	s.CutSOAP("SearchRequest", 100)
	out := t.TempDir()
	searches = 0
	rep, err = runLive(t, c, out, after)
	if err == nil && rep.Status == "ok" {
		t.Fatalf("a cut search answer gave an archive: %+v", rep)
	}
	if err == nil || !strings.Contains(err.Error(), "state record") {
		t.Errorf("the error does not name the state record: %v", err)
	}
	left, _ := filepath.Glob(filepath.Join(out, "*.tgz"))
	if len(left) != 0 {
		t.Errorf("archives left: %v", left)
	}
}

// A folder that SearchRequest lists fewer items of than GetFolderRequest
// counts is an error naming it (an importer then deletes nothing there).
func TestLiveDeltaStateShortFolder(t *testing.T) {
	mb := stateMailbox()
	_, c := liveServer(t, mb, zimbratest.ServerOptions{}, map[int]int{257: 2})
	rep, err := runLive(t, c, t.TempDir(), lday.Add(100*time.Hour).Format(time.RFC3339))
	if err != nil || rep.Status != "partial" {
		t.Fatalf("err %v report %+v", err, rep)
	}
	var named []string
	for _, p := range rep.Errors {
		named = append(named, p.Folder)
		if !strings.Contains(p.Reason, "SearchRequest listed 1") {
			t.Errorf("reason: %s", p.Reason)
		}
	}
	if !slices.Equal(named, []string{"Projects"}) {
		t.Errorf("errors name %q, want Projects", named)
	}
}

// Without SOAP (zmmailbox) or from tgz files a delta has no state
// record, and says so; a full export has nothing to say.
func TestDeltaWithoutStateWarns(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ann.tgz")
	os.WriteFile(file, zimbratest.Build(t, zimbratest.Options{}, stateMailbox().Items...), 0o600)
	script, _ := fakeZmmailbox(t, `[ "$7" = "//?fmt=tgz" ] && exec cat "$DIR/root.tgz"; exit 0`)
	for _, src := range []struct {
		name string
		src  export.Source
	}{{"tgz", &zimbra.Source{Files: []string{file}}}, {"zmmailbox", &zimbra.Live{Zmmailbox: script, Account: soap.Account{Name: liveUser}}}} {
		for _, state := range []bool{false, true} {
			sink := &exporttest.Sink{}
			opt := export.Options{State: state}
			if state {
				opt.After = lday
			}
			if err := src.src.Export(context.Background(), sink, opt); err != nil {
				t.Fatalf("%s: %v", src.name, err)
			}
			warned := slices.ContainsFunc(sink.Warnings, func(p format.Problem) bool { return strings.Contains(p.Reason, "no state record") })
			if warned != state {
				t.Errorf("%s, state asked %v: warned %v (%+v)", src.name, state, warned, sink.Warnings)
			}
		}
	}
}

// Through the admin port the hits' ids and folders are qualified
// ("<zimbraId>:300"): the state names the same items and folders.
func TestLiveDeltaStateViaAdminPort(t *testing.T) {
	mb := stateMailbox()
	_, c := liveServer(t, mb, zimbratest.ServerOptions{}, nil, func(cfg *soap.Config) { cfg.ViaAdminPort = true })
	full, err := runLive(t, c, t.TempDir(), "")
	if err != nil || full.Status != "ok" {
		t.Fatalf("full: err %v report %+v", err, full)
	}
	delta, err := runLive(t, c, t.TempDir(), lday.Add(100*time.Hour).Format(time.RFC3339))
	if err != nil || delta.Status != "ok" {
		t.Fatalf("delta: err %v report %+v", err, delta)
	}
	fullItems, _ := archiveState(t, full.Archive)
	if _, state := archiveState(t, delta.Archive); !maps.Equal(state, fullItems) {
		t.Errorf("state %v\nfull export %v", state, fullItems)
	}
}
