package maildir

import (
	"strings"
	"testing"

	mdir "github.com/mailhaul/mailhaul/mailbox/maildir"
)

func TestSubscriptions(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		yes, no []string
	}{
		{
			name: "dovecot v2",
			file: "V\t2\n\nINBOX\nWork\t2024\nSent\n&AMQ-rger\nA\x01tB\n",
			yes:  []string{"INBOX", "Work/2024", "Sent", "Ärger", "A\tB"},
			no:   []string{"Work", "Drafts", "Work.2024"},
		},
		{
			name: "dovecot v1 with dots",
			file: "Work.2024\nSent Items\r\ninbox\n",
			yes:  []string{"INBOX", "Work/2024", "Sent Items"},
			no:   []string{"Work", "Drafts"},
		},
		{
			name: "dovecot v1 with slashes",
			file: "Work/2024\n",
			yes:  []string{"Work/2024"},
			no:   []string{"INBOX"},
		},
		{
			name: "courier",
			file: "INBOX\nINBOX.Sent\nINBOX.Work.2024\n",
			yes:  []string{"INBOX", "Sent", "Work/2024"},
			no:   []string{"Work"},
		},
		{
			name: "overlong line skipped",
			file: "Sent\n" + strings.Repeat("x", mdir.MaxSubscriptionLine+10) + "\nDrafts\n",
			yes:  []string{"Sent", "Drafts"},
			no:   []string{"Work"},
		},
	}
	for _, tt := range tests {
		s := subscriptions{}
		if err := s.parse(strings.NewReader(tt.file), nil, nil); err != nil {
			t.Errorf("%s: parse: %v", tt.name, err)
			continue
		}
		for _, p := range tt.yes {
			if !s.has(p) {
				t.Errorf("%s: %q not subscribed; set %v", tt.name, p, s)
			}
		}
		for _, p := range tt.no {
			if s.has(p) {
				t.Errorf("%s: %q subscribed; set %v", tt.name, p, s)
			}
		}
	}
	var none subscriptions
	if !none.has("Anything") {
		t.Error("no subscription file: folders should count as subscribed")
	}
}

func FuzzSubscriptions(f *testing.F) {
	f.Add("V\t2\n\nWork\t2024\nA\x01tB\n")
	f.Add("INBOX.Sent\n")
	f.Fuzz(func(t *testing.T, data string) {
		s := subscriptions{}
		if err := s.parse(strings.NewReader(data), nil, nil); err != nil {
			t.Fatalf("parse(%q): %v", data, err)
		}
		for name := range s {
			if strings.ContainsRune(name, '\n') && !strings.Contains(data, "\x01n") {
				t.Fatalf("name %q holds a newline the file did not escape", name)
			}
		}
	})
}
