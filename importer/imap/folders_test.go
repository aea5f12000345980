package imap

import (
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/format"
)

func TestFolderMapper(t *testing.T) {
	dovecotSpecial := map[format.Role]string{format.RoleSent: "Sent", format.RoleTrash: "Trash"}
	type step struct {
		f    format.Folder
		want string
		note string // a word the note must hold; "" means no note
	}
	tests := []struct {
		name    string
		delim   string
		profile string
		special map[format.Role]string
		rules   []FolderRule
		steps   []step
	}{
		{name: "dovecot dot delimiter", delim: ".", profile: "dovecot", special: dovecotSpecial, steps: []step{
			{f: format.Folder{Path: "INBOX", Role: format.RoleInbox}, want: "INBOX"},
			{f: format.Folder{Path: "Inbox"}, want: "INBOX"},
			{f: format.Folder{Path: "inbox/Sub"}, want: "INBOX.Sub"},
			{f: format.Folder{Path: "Sent Messages", Role: format.RoleSent}, want: "Sent", note: "sent"},
			{f: format.Folder{Path: "Work/2024"}, want: "Work.2024"},
			{f: format.Folder{Path: "v1.2"}, want: "v1_2", note: "delimiter"},
			{f: format.Folder{Path: " Padded "}, want: "Padded", note: "spaces"},
			{f: format.Folder{Path: "Padded"}, want: "Padded_2", note: "merge"},
			{f: format.Folder{Path: " Padded "}, want: "Padded", note: "spaces"}, // asked again: same answer
			{f: format.Folder{Path: "A//B"}, want: "A._.B", note: "empty"},
			// No special-use folder for drafts on this target: the profile's name.
			{f: format.Folder{Path: "Entwürfe", Role: format.RoleDrafts}, want: "Drafts", note: "drafts"},
			{f: format.Folder{Path: "Entwürfe/Alt"}, want: "Entwürfe.Alt"},
		}},
		{name: "slash delimiter keeps dots", delim: "/", profile: "generic", steps: []step{
			{f: format.Folder{Path: "v1.2"}, want: "v1.2"},
			{f: format.Folder{Path: "Work/2024"}, want: "Work/2024"},
			{f: format.Folder{Path: "Trash", Role: format.RoleTrash}, want: "Trash"},
			{f: format.Folder{Path: "a\r\nb\x00"}, want: "a__b_", note: "control"},
		}},
		{name: "flat server", delim: "", profile: "generic", steps: []step{
			{f: format.Folder{Path: "Work/2024"}, want: "Work_2024"},
			{f: format.Folder{Path: "Work_2024"}, want: "Work_2024_2", note: "merge"},
		}},
		{name: "gmail", delim: "/", profile: "gmail", steps: []step{
			{f: format.Folder{Path: "Sent", Role: format.RoleSent}, want: "[Gmail]/Sent Mail", note: "sent"},
			{f: format.Folder{Path: "Spam", Role: format.RoleJunk}, want: "[Gmail]/Spam", note: "junk"},
			{f: format.Folder{Path: "[Gmail]/Mine"}, want: "[Gmail]_/Mine", note: "reserved"},
			{f: format.Folder{Path: "work"}, want: "work"},
			{f: format.Folder{Path: "Work"}, want: "Work_2", note: "merge"}, // Gmail ignores case
			{f: format.Folder{Path: "a  b"}, want: "a b", note: "doubled"},
		}},
		{name: "office365", delim: "/", profile: "office365", steps: []step{
			{f: format.Folder{Path: "Trash", Role: format.RoleTrash}, want: "Deleted Items", note: "trash"},
			{f: format.Folder{Path: "Junk", Role: format.RoleJunk}, want: "Junk Email", note: "junk"},
			{f: format.Folder{Path: "Sent", Role: format.RoleSent}, want: "Sent Items", note: "sent"},
		}},
		{name: "folder map", delim: ".", profile: "dovecot", special: dovecotSpecial,
			rules: []FolderRule{{From: "Old", To: "Archive/Old"}, {From: "Old/Keep", To: "Keep"}, {From: "Mine", To: "INBOX"}},
			steps: []step{
				{f: format.Folder{Path: "Old/Stuff"}, want: "Archive.Old.Stuff", note: "--folder-map"},
				{f: format.Folder{Path: "Old/Keep/X"}, want: "Keep.X", note: "--folder-map"}, // longest rule wins
				{f: format.Folder{Path: "Older"}, want: "Older"},                             // not below "Old"
				{f: format.Folder{Path: "Mine"}, want: "INBOX", note: "--folder-map"},
				// A rule overrides the role's special folder.
				{f: format.Folder{Path: "Old/Sent", Role: format.RoleSent}, want: "Archive.Old.Sent", note: "--folder-map"},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := LookupProfile(tt.profile)
			if err != nil {
				t.Fatal(err)
			}
			m := newFolderMapper(tt.delim, p, tt.rules, tt.special)
			for _, s := range tt.steps {
				got := m.Map(s.f)
				if got.name != s.want {
					t.Errorf("Map(%q, role %q) = %q, want %q", s.f.Path, s.f.Role, got.name, s.want)
				}
				switch {
				case s.note == "" && got.note != "":
					t.Errorf("Map(%q): unexpected note %q", s.f.Path, got.note)
				case s.note != "" && !strings.Contains(strings.ToLower(got.note), strings.ToLower(s.note)):
					t.Errorf("Map(%q): note %q does not mention %q", s.f.Path, got.note, s.note)
				}
			}
		})
	}
}

func TestParseFolderMap(t *testing.T) {
	in := "# comment\n\n Old/Stuff = Archive/Old/ \n/Lists/ =Mail/Lists\n"
	rules, err := ParseFolderMap(strings.NewReader(in), "map.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := []FolderRule{{"Old/Stuff", "Archive/Old"}, {"Lists", "Mail/Lists"}}
	if len(rules) != len(want) {
		t.Fatalf("got %v, want %v", rules, want)
	}
	for i := range want {
		if rules[i] != want[i] {
			t.Errorf("rule %d = %+v, want %+v", i, rules[i], want[i])
		}
	}
	for _, bad := range []string{"no equals sign", "= Target", "Source =", "/ = x"} {
		_, err := ParseFolderMap(strings.NewReader("# ok\n"+bad+"\n"), "map.txt")
		if err == nil || !strings.Contains(err.Error(), "map.txt line 2") {
			t.Errorf("ParseFolderMap(%q): error %v, want one naming map.txt line 2", bad, err)
		}
	}
}

func FuzzParseFolderMap(f *testing.F) {
	f.Add("a = b\n# c\nx/y=z/")
	f.Add("=\n")
	f.Add(strings.Repeat("a", 70000) + " = b")
	f.Fuzz(func(t *testing.T, in string) {
		rules, err := ParseFolderMap(strings.NewReader(in), "f")
		if err != nil {
			return
		}
		for _, r := range rules {
			if r.From == "" || r.To == "" || strings.HasPrefix(r.From, "/") || strings.HasSuffix(r.To, "/") {
				t.Errorf("rule %+v from %q: empty side or stray slash", r, in)
			}
		}
		// Whatever the rules, mapping must not panic and must not merge.
		generic, _ := LookupProfile("generic")
		m := newFolderMapper(".", generic, rules, nil)
		a, b := m.Map(format.Folder{Path: "x/y"}), m.Map(format.Folder{Path: "x.y"})
		if a.name == b.name {
			t.Errorf("x/y and x.y both map to %q", a.name)
		}
	})
}

func TestSafeFolderRule(t *testing.T) {
	for path, want := range map[string][2]string{
		"Release v1.2":                {"Release v1.2", "Release v1_2"},
		"Projects/Release v1.2/Notes": {"Projects/Release v1.2", "Projects/Release v1_2"},
		"A.b/C/D.e":                   {"A.b/C/D.e", "A_b/C/D_e"},
		"Entwürfe/2024-01 alt_x":      {"", ""},
	} {
		if from, to := safeFolderRule(path); from != want[0] || to != want[1] {
			t.Errorf("safeFolderRule(%q) = %q, %q; want %q, %q", path, from, to, want[0], want[1])
		}
	}
}
