package gmailfake_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailhaul/mailhaul/internal/gmailfake"
	"github.com/mailhaul/mailhaul/internal/imapconn"
)

var day = time.Date(2024, 2, 3, 4, 5, 6, 0, time.UTC)

func msgs() []gmailfake.Message {
	return []gmailfake.Message{
		{Body: []byte("Message-ID: <a@x>\r\nSubject: a\r\n\r\nA\r\n"), Flags: []string{`\Seen`}, Date: day,
			Labels: []string{`\Inbox`, "Work", `Quote "me"`, `\Important`}},
		{Body: []byte("Subject: b\r\n\r\nB\r\n"), Date: day, Labels: []string{`\Sent`}},
		{Body: []byte("Subject: spam\r\n\r\nS\r\n"), Date: day, Labels: []string{"Work"}, Spam: true},
	}
}

func dial(t *testing.T, s *gmailfake.Server) *imapconn.Conn {
	t.Helper()
	c, err := imapconn.Dial(context.Background(), imapconn.Account{Addr: s.Addr, User: "u", Secret: imapconn.Password("p")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// The fake shows Gmail's folders with their special-use attributes, each
// label's messages in its folder, All Mail without Spam, and to go-imap
// the bodies and header fields it asks for.
func TestFoldersAndFetch(t *testing.T) {
	s, err := gmailfake.Start("u", "p", msgs(), "Empty label")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := imapconn.Dial(context.Background(), imapconn.Account{Addr: s.Addr, User: "u", Secret: imapconn.Password("wrong")}); err == nil {
		t.Error("a wrong password logged in")
	}
	raw := dial(t, s)
	if !raw.Has("X-GM-EXT-1") {
		t.Error("no X-GM-EXT-1 capability")
	}
	cl := raw.Client(nil)
	defer cl.Close()
	list, err := cl.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, l := range list {
		got[l.Mailbox] = fmt.Sprint(l.Attrs)
	}
	for name, attr := range map[string]string{"INBOX": "", "[Gmail]/All Mail": `\All`, "[Gmail]/Sent Mail": `\Sent`,
		"[Gmail]/Spam": `\Junk`, "[Gmail]/Starred": `\Flagged`, "[Gmail]/Trash": `\Trash`, "[Gmail]/Drafts": `\Drafts`,
		"[Gmail]/Important": `\Important`, "Work": "", `Quote "me"`: "", "Empty label": "", "[Gmail]": `\Noselect`} {
		if a, ok := got[name]; !ok || !strings.Contains(a, attr) {
			t.Errorf("LIST %q: attrs %q (listed %v), want %s", name, a, ok, attr)
		}
	}
	for name, n := range map[string]uint32{"INBOX": 1, "[Gmail]/All Mail": 2, "Work": 1, `Quote "me"`: 1,
		"[Gmail]/Sent Mail": 1, "[Gmail]/Spam": 1, "[Gmail]/Important": 1, "Empty label": 0, "[Gmail]/Trash": 0} {
		st, err := cl.Status(name, &imap.StatusOptions{NumMessages: true, UIDValidity: true}).Wait()
		if err != nil || st.NumMessages == nil || *st.NumMessages != n || st.UIDValidity == 0 {
			t.Errorf("STATUS %q: %+v %v, want %d messages", name, st, err, n)
		}
	}
	if _, err := cl.Select("Work", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	hdr := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Message-ID"}, Peek: true}
	msgs, err := cl.Fetch(imap.UIDSetNum(1), &imap.FetchOptions{UID: true, Flags: true, InternalDate: true, RFC822Size: true,
		BodySection: []*imap.FetchItemBodySection{hdr, {Peek: true}}}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("FETCH: %d messages, %v", len(msgs), err)
	}
	m := msgs[0]
	body := string(m.FindBodySection(&imap.FetchItemBodySection{Peek: true}))
	head := string(m.FindBodySection(hdr))
	if body != "Message-ID: <a@x>\r\nSubject: a\r\n\r\nA\r\n" || head != "Message-ID: <a@x>\r\n\r\n" ||
		!m.InternalDate.Equal(day) || fmt.Sprint(m.Flags) != `[\Seen]` || m.RFC822Size != int64(len(body)) {
		t.Errorf("FETCH: body %q head %q date %s flags %v size %d", body, head, m.InternalDate, m.Flags, m.RFC822Size)
	}
	if data, err := cl.UIDSearch(&imap.SearchCriteria{Since: day.AddDate(0, 0, 1)}, nil).Wait(); err != nil || len(data.AllUIDs()) != 0 {
		t.Errorf("SEARCH SINCE the next day: %v %v, want none", data, err)
	}
}

// A message has one X-GM-MSGID in every folder showing it, and FETCH
// X-GM-LABELS gives its labels, a label holding a quote as a literal.
func TestLabelsAndMsgID(t *testing.T) {
	s, err := gmailfake.Start("u", "p", msgs())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	raw := dial(t, s)
	fetch := func(box string) string {
		if _, err := raw.Command("EXAMINE "+imapconn.Quote(box), nil); err != nil {
			t.Fatal(err)
		}
		w := raw.Writer()
		io.WriteString(w, "f1 UID FETCH 1 (UID X-GM-MSGID X-GM-LABELS)\r\n")
		w.Flush()
		var lines []string
		for {
			l, err := raw.ReadLineLiterals()
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(l, "f1 ") {
				return strings.Join(lines, "\n")
			}
			lines = append(lines, l)
		}
	}
	want := fmt.Sprintf(`* 1 FETCH (UID 1 X-GM-MSGID %d X-GM-LABELS ("\\Inbox" "Work" "Quote \"me\"" "\\Important"))`, gmailfake.MsgID(0))
	for _, box := range []string{"INBOX", "Work", "[Gmail]/All Mail", `Quote "me"`} {
		if got := fetch(box); got != want {
			t.Errorf("%s:\n got %s\nwant %s", box, got, want)
		}
	}
}
