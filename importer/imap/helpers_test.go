package imap

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/internal/imapconn"
	"github.com/mailhaul/mailhaul/report"
)

// testMsg is a message to put in a test archive.
type testMsg struct {
	body     []byte
	flags    []string
	received time.Time
	id       string
}

type testFolder struct {
	folder format.Folder
	msgs   []testMsg
}

// corpus reads the real messages under testdata/corpus/mail.
func corpus(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	root := filepath.Join("..", "..", "testdata", "corpus", "mail")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".eml") {
			return err
		}
		b, err := os.ReadFile(p)
		out = append(out, b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 100 {
		t.Fatalf("only %d corpus messages under %s", len(out), root)
	}
	return out
}

// writeArchive writes an archive of folders into dir.
func writeArchive(t testing.TB, path string, folders []testFolder) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := format.NewWriter(f, format.Manifest{User: "alice", Source: format.Source{Kind: "test"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tf := range folders {
		tf.folder.Kind = format.FolderMail
		if err := w.AddFolder(tf.folder); err != nil {
			t.Fatal(err)
		}
		for i, m := range tf.msgs {
			id := m.id
			if id == "" {
				id = fmt.Sprintf("%s#%d", tf.folder.Path, i)
			}
			it := format.Item{Kind: format.KindMessage, Folder: tf.folder.Path, Flags: m.flags,
				Received: m.received, SourceID: id}
			if err := w.AddItem(it, bytes.NewReader(m.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// crlf normalises line endings the way the importer does.
func crlf(b []byte) []byte {
	sp, err := readSpool(bytes.NewReader(b), "")
	if err != nil {
		panic(err)
	}
	defer sp.close()
	r, _ := sp.open()
	var out bytes.Buffer
	out.ReadFrom(r)
	return out.Bytes()
}

// onTarget is one message as read back over IMAP.
type onTarget struct {
	sum   [32]byte
	head  string // the first line
	flags []string
	date  time.Time
}

// readBack returns every message of every mailbox, by mailbox.
func readBack(t testing.TB, addr, user, pass string) map[string][]onTarget {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(user, pass).Wait(); err != nil {
		t.Fatal(err)
	}
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]onTarget{}
	for _, l := range list {
		if slices.Contains(l.Attrs, imap.MailboxAttrNoSelect) || slices.Contains(l.Attrs, imap.MailboxAttrNonExistent) {
			continue
		}
		d, err := c.Select(l.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			t.Fatalf("select %q: %v", l.Mailbox, err)
		}
		out[l.Mailbox] = []onTarget{}
		if d.NumMessages == 0 {
			continue
		}
		var all imap.SeqSet
		all.AddRange(1, 0)
		bufs, err := c.Fetch(all, &imap.FetchOptions{Flags: true, InternalDate: true,
			BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
		if err != nil {
			t.Fatalf("fetch %q: %v", l.Mailbox, err)
		}
		for _, b := range bufs {
			var flags []string
			for _, f := range b.Flags {
				if f != `\Recent` {
					flags = append(flags, string(f))
				}
			}
			sort.Strings(flags)
			out[l.Mailbox] = append(out[l.Mailbox], onTarget{sum: sha256.Sum256(b.BodySection[0].Bytes), head: firstLine(b.BodySection[0].Bytes), flags: flags, date: b.InternalDate})
		}
	}
	return out
}

func countAll(m map[string][]onTarget) int {
	n := 0
	for _, v := range m {
		n += len(v)
	}
	return n
}

func sumOf(b []byte) [32]byte { return sha256.Sum256(b) }

func firstLine(b []byte) string {
	line, _, _ := bytes.Cut(b, []byte("\r\n"))
	return string(line)
}

// testRun is one test's import as the command sets it up: the target's
// options and the run's request.
type testRun struct {
	Options
	importer.Request
}

func (r testRun) run(ctx context.Context, archives []string) (*report.Report, error) {
	req := r.Request
	req.Archives = archives
	res, err := New(r.Options).Import(ctx, req)
	if res == nil {
		return nil, err
	}
	return res.Report, err
}

func (r testRun) dryRun(ctx context.Context, archives []string) (*importer.Plan, *report.Report, error) {
	r.DryRun = true
	req := r.Request
	req.Archives = archives
	res, err := New(r.Options).Import(ctx, req)
	if res == nil {
		return nil, nil, err
	}
	return res.Plan, res.Report, err
}

// account is a test login on a loopback server.
func account(addr, user, password string) imapconn.Account {
	return imapconn.Account{Addr: addr, User: user, Secret: imapconn.Password(password)}
}
