package imap

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/internal/imapconn"
	"github.com/mailhaul/mailhaul/internal/testservers"
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

// readBack returns every message of every mailbox that can be selected,
// by mailbox.
func readBack(t testing.TB, addr, user, pass string) map[string][]onTarget {
	t.Helper()
	out := map[string][]onTarget{}
	for _, mb := range testservers.ReadMailboxes(t, addr, user, pass) {
		if mb.Messages == nil {
			continue // \NoSelect or \NonExistent
		}
		out[mb.Name] = []onTarget{}
		for _, m := range mb.Messages {
			out[mb.Name] = append(out[mb.Name], onTarget{sum: m.SHA256, head: m.Head, flags: m.Flags, date: m.Date})
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

// aliceWith starts a Dovecot for alice whose INBOX holds bodies.
func aliceWith(t *testing.T, bodies ...[]byte) *testservers.Dovecot {
	t.Helper()
	d := testservers.StartDovecot(t, map[string]string{"alice": "alice-secret"})
	c := testservers.IMAPLogin(t, d.Addr, "alice", "alice-secret")
	for _, b := range bodies {
		ap := c.Append("INBOX", int64(len(b)), nil)
		ap.Write(b)
		ap.Close()
		if _, err := ap.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	c.Logout().Wait()
	return d
}

// account is a test login on a loopback server.
func account(addr, user, password string) imapconn.Account {
	return imapconn.Account{Addr: addr, User: user, Secret: imapconn.Password(password)}
}

// testControl dials a control connection to addr as alice with the
// dovecot profile and short timeouts, as the verify tests drive it by
// hand, and closes it when the test ends.
func testControl(t *testing.T, ctx context.Context, addr string) (*Options, Profile, *control) {
	t.Helper()
	o := &Options{Account: account(addr, "alice", "alice-secret"), Timeout: 10 * time.Second,
		Settle: time.Millisecond, MaxBackoff: time.Second}
	prof, _ := LookupProfile("dovecot")
	o.defaults(prof)
	ctl, err := dialControl(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ctl.close)
	if err := ctl.discover(); err != nil {
		t.Fatal(err)
	}
	return o, prof, ctl
}
