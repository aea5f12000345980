package testservers

import (
	"bytes"
	"crypto/sha256"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// IMAPLogin opens a plain-TCP IMAP session as user on a test server
// (loopback only) and closes it when the test ends.
func IMAPLogin(t testing.TB, addr, user, pass string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(user, pass).Wait(); err != nil {
		t.Fatal(err)
	}
	return c
}

// Mailbox is one mailbox as a test reads it back over IMAP.
type Mailbox struct {
	Name       string
	Attrs      []imap.MailboxAttr
	Subscribed bool
	Messages   []Message // nil for a mailbox that cannot be selected
}

// Message is one message as read back: what a test compares with what it
// imported.
type Message struct {
	SHA256 [32]byte
	Head   string   // the first line
	Flags  []string // sorted, without \Recent (the server's own)
	Date   time.Time
}

// ReadMailboxes lists every mailbox of user with its subscription, and
// reads every message of each that can be selected.
func ReadMailboxes(t testing.TB, addr, user, pass string) []Mailbox {
	t.Helper()
	c := IMAPLogin(t, addr, user, pass)
	list, err := c.List("", "*", &imap.ListOptions{ReturnSubscribed: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var out []Mailbox
	for _, l := range list {
		mb := Mailbox{Name: l.Mailbox, Attrs: l.Attrs, Subscribed: slices.Contains(l.Attrs, imap.MailboxAttrSubscribed)}
		if slices.Contains(l.Attrs, imap.MailboxAttrNoSelect) || slices.Contains(l.Attrs, imap.MailboxAttrNonExistent) {
			out = append(out, mb)
			continue
		}
		sel, err := c.Select(l.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			t.Fatalf("select %q: %v", l.Mailbox, err)
		}
		mb.Messages = []Message{}
		if sel.NumMessages > 0 {
			var all imap.SeqSet
			all.AddRange(1, sel.NumMessages)
			msgs, err := c.Fetch(all, &imap.FetchOptions{Flags: true, InternalDate: true,
				BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
			if err != nil {
				t.Fatalf("fetch %q: %v", l.Mailbox, err)
			}
			for _, m := range msgs {
				mb.Messages = append(mb.Messages, message(m))
			}
		}
		out = append(out, mb)
	}
	return out
}

func message(m *imapclient.FetchMessageBuffer) Message {
	var flags []string
	for _, f := range m.Flags {
		if f != `\Recent` {
			flags = append(flags, string(f))
		}
	}
	sort.Strings(flags)
	body := m.BodySection[0].Bytes
	head, _, _ := bytes.Cut(body, []byte("\r\n"))
	return Message{SHA256: sha256.Sum256(body), Head: string(head), Flags: flags, Date: m.InternalDate}
}
