package mbox

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/format"

	"github.com/mailhaul/mailhaul/mailbox/mbox"
)

func TestRouteGmail(t *testing.T) {
	tests := []struct {
		labels []string
		start  []string // flags from other fields
		folder string
		role   format.Role
		flags  []string
	}{
		{[]string{"Inbox", "Opened", "Important", "Category Personal"}, nil, "INBOX", format.RoleInbox,
			[]string{`\Seen`, "$Important", "$Category_Personal"}},
		{[]string{"Inbox", "Sent"}, nil, "Sent", format.RoleSent, nil},
		{[]string{"Inbox", "Drafts"}, nil, "Drafts", format.RoleDrafts, []string{`\Draft`}},
		{[]string{"Drafts", "Spam"}, nil, "Spam", format.RoleJunk, []string{`\Draft`}},
		{[]string{"Spam", "trash"}, nil, "Trash", format.RoleTrash, nil},
		{[]string{"Archived", "My/Label", "Other"}, nil, "My/Label", "", []string{"Other"}},
		{[]string{"Inbox", "My/Label", "Other"}, nil, "INBOX", format.RoleInbox, []string{"My/Label", "Other"}},
		{[]string{"Archived", "Starred"}, nil, "Archive", format.RoleArchive, []string{`\Flagged`}},
		{nil, nil, "Archive", format.RoleArchive, nil},
		{[]string{"Inbox", "Unread"}, []string{`\Seen`}, "INBOX", format.RoleInbox, nil},
		{[]string{"Work, Projects", "Reisen"}, nil, "Work, Projects", "", []string{"Reisen"}},
		{[]string{"Inbox", "Work, Projects"}, nil, "INBOX", format.RoleInbox, []string{"Work,_Projects"}},
	}
	for _, tt := range tests {
		raw := mbox.Flags(slices.Clone(tt.start))
		folder, role := mbox.RouteGmail(tt.labels, &raw)
		s := itemFlags(raw)
		if folder != tt.folder || role != tt.role || !slices.Equal(s.list, tt.flags) {
			t.Errorf("%q: got %q %q %q, want %q %q %q", tt.labels, folder, role, s.list, tt.folder, tt.role, tt.flags)
		}
	}
}

// TestTakeout exports the Takeout fixture: each message lands in exactly
// one folder, folders are added once, as they are first used.
func TestTakeout(t *testing.T) {
	sink := exportDir(t, filepath.Join("..", "..", "testdata", "mbox", "takeout.mbox"), export.Options{})
	type got struct {
		folder string
		flags  []string
	}
	want := map[string]got{
		"takeout-1@example.com": {"INBOX", []string{`\Seen`, "$Important", "$Category_Personal"}},
		"takeout-2@example.com": {"Sent", []string{`\Seen`}},
		"takeout-3@example.com": {"Drafts", []string{`\Draft`}},
		"takeout-4@example.com": {"Trash", nil},
		"takeout-5@example.com": {"Spam", nil},
		"takeout-6@example.com": {"My/Label", []string{`\Seen`, "$Category_Updates", "Work,_Projects"}},
		"takeout-7@example.com": {"Archive", []string{`\Flagged`, `\Seen`}},
		"takeout-8@example.com": {"Sent", []string{`\Seen`, "Reisen"}},
	}
	if len(sink.Items) != len(want) {
		t.Errorf("got %d items, want %d", len(sink.Items), len(want))
	}
	for _, it := range sink.Items {
		w, ok := want[it.MessageID]
		if !ok || it.Folder != w.folder || !slices.Equal(it.Flags, w.flags) {
			t.Errorf("%s: got %q %q, want %q %q", it.MessageID, it.Folder, it.Flags, w.folder, w.flags)
		}
	}
	var folders []string
	for _, f := range sink.Folders {
		folders = append(folders, fmt.Sprintf("%s:%s", f.Path, f.Role))
	}
	wantFolders := []string{"INBOX:inbox", "Sent:sent", "Drafts:drafts", "Trash:trash", "Spam:junk", "My/Label:", "Archive:archive"}
	if !slices.Equal(folders, wantFolders) {
		t.Errorf("folders %q, want %q (the file itself is no folder)", folders, wantFolders)
	}
	if body := string(sink.Items[5].Body); !slices.Contains(sink.Folders[0].Notes, "mbox dialect: mboxo") || !slices.Contains(strings.Split(body, "\n"), "From the archive, with love.") {
		t.Errorf("notes %q; message 6 body %q: want dialect noted and >From unquoted", sink.Folders[0].Notes, body)
	}
}
