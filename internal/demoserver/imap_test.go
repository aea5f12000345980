package demoserver

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	imapimport "github.com/mailhaul/mailhaul/importer/imap"
	"github.com/mailhaul/mailhaul/internal/imapconn"
)

// sample is a message like the demo's: a plain header, a text body, LF
// line endings as a Maildir file has them.
func sample(i int) string {
	return fmt.Sprintf("From: Ada <ada@example.org>\nTo: Bob <bob@example.org>\nSubject: demo %d\n"+
		"Date: Mon, 2 Jan 2023 15:04:%02d +0000\nMessage-ID: <demo.%d@example.org>\n"+
		"Content-Type: text/plain; charset=utf-8\n\nHello Bob,\n\nthis is message %d, with ünïcode.\n", i, i%60, i, i)
}

// TestIMAPRoundTrip imports an archive of demo messages with the importer
// and reads every one back byte for byte.
func TestIMAPRoundTrip(t *testing.T) {
	addr, stop, err := IMAP("127.0.0.1:0", map[string]string{"ada": "ada-pw", "bob": "bob-pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	dir := t.TempDir()
	archive := filepath.Join(dir, "ada.tgz")
	want := map[string][]string{"INBOX": nil, "Projects/Demo": nil}
	f, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	w, err := format.NewWriter(f, format.Manifest{User: "ada", Source: format.Source{Kind: "demo"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, folder := range []string{"INBOX", "Projects/Demo"} {
		if err := w.AddFolder(format.Folder{Kind: format.FolderMail, Path: folder}); err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			body := sample(len(want[folder]) + 10*len(folder) + i)
			want[folder] = append(want[folder], strings.ReplaceAll(body, "\n", "\r\n"))
			it := format.Item{Kind: format.KindMessage, Folder: folder, SourceID: fmt.Sprint(i), Flags: []string{`\Seen`},
				Received: time.Date(2023, 1, 2, 15, 4, i, 0, time.UTC)}
			if err := w.AddItem(it, strings.NewReader(body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	res, err := imapimport.New(imapimport.Options{Account: imapconn.Account{Addr: addr.String(), Secret: imapconn.Password("ada-pw")}}).
		Import(context.Background(), importer.Request{User: "ada", Archives: []string{archive}, StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	rep := res.Report
	if rep.Imported != 10 || rep.Failed != 0 {
		t.Fatalf("import: %s (%v)", rep.Line(), rep.Failures)
	}

	c := login(t, addr, "ada", "ada-pw")
	defer c.Close()
	for box, msgs := range want {
		if _, err := c.Select(box, nil).Wait(); err != nil {
			t.Fatalf("select %q: %v", box, err)
		}
		var all imap.SeqSet
		all.AddRange(1, 0)
		got, err := c.Fetch(all, &imap.FetchOptions{Flags: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
		if err != nil {
			t.Fatalf("fetch %q: %v", box, err)
		}
		if len(got) != len(msgs) {
			t.Fatalf("%s holds %d messages, want %d", box, len(got), len(msgs))
		}
		// Several connections upload at once: order is not kept.
		left := map[string]int{}
		for _, m := range msgs {
			left[m]++
		}
		for i, m := range got {
			b := string(m.BodySection[0].Bytes)
			if left[b] == 0 {
				t.Errorf("%s message %d reads back as %q, which is not (or no longer) expected", box, i+1, b)
			}
			left[b]--
			if len(m.Flags) != 1 || m.Flags[0] != imap.FlagSeen {
				t.Errorf("%s message %d has flags %v, want [\\Seen]", box, i+1, m.Flags)
			}
		}
	}
	// The other user's mailbox is separate and empty.
	cb := login(t, addr, "bob", "bob-pw")
	defer cb.Close()
	d, err := cb.Select("INBOX", nil).Wait()
	if err != nil || d.NumMessages != 0 {
		t.Errorf("bob's INBOX: %v messages, err %v; want 0", d, err)
	}
}

func login(t *testing.T, addr net.Addr, user, pass string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(addr.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(user, pass).Wait(); err != nil {
		c.Close()
		t.Fatalf("login %s: %v", user, err)
	}
	return c
}

func TestIMAPRefuses(t *testing.T) {
	if _, _, err := IMAP("127.0.0.1:0", nil); err == nil {
		t.Error("a server without users started")
	}
	if _, stop, err := IMAP("0.0.0.0:0", map[string]string{"a": "b"}); err == nil {
		stop()
		t.Error("listening on every interface with plaintext passwords was allowed")
	}
	addr, stop, err := IMAP("127.0.0.1:0", map[string]string{"ada": "ada-pw"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := imapclient.DialInsecure(addr.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login("ada", "wrong").Wait(); err == nil {
		t.Error("a wrong password was accepted")
	}
	c.Close()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if nc, err := net.DialTimeout("tcp", addr.String(), time.Second); err == nil {
		nc.Close()
		t.Error("the server still accepts connections after stop")
	}
}

func ExampleIMAP() {
	addr, stop, err := IMAP("127.0.0.1:0", map[string]string{"demo": "demo"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()
	c, err := imapclient.DialInsecure(addr.String(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	fmt.Println(c.Login("demo", "demo").Wait())
	// Output: <nil>
}
