package migrate

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/maildir"
	"github.com/mailhaul/mailhaul/importer"
	imapimport "github.com/mailhaul/mailhaul/importer/imap"
	"github.com/mailhaul/mailhaul/internal/imapconn"
	"github.com/mailhaul/mailhaul/internal/retry"
	"github.com/mailhaul/mailhaul/internal/testservers"
	"github.com/mailhaul/mailhaul/transport/local"
)

// env is a migration's world for a test: generated Maildir users, a real
// Dovecot target, and the directories of a run.
type env struct {
	t                         *testing.T
	d                         *testservers.Dovecot
	addr                      string // where the importers connect (Dovecot, or a proxy before it)
	src, arch, drive, state   string
	users                     []User
	pass                      map[string]string
	wrong                     map[string]bool // users whose target password the steps get wrong
	logins                    map[string]*atomic.Int32
	servers                   *Servers
	connections, batchMessage int
	seq                       atomic.Int64
}

// newEnv makes n users, user01 ... , user k holding 2+k messages in
// INBOX and 2 in Sent.
func newEnv(t *testing.T, n int) *env {
	t.Helper()
	root := t.TempDir()
	e := &env{t: t, src: filepath.Join(root, "src"), arch: filepath.Join(root, "archives"), drive: filepath.Join(root, "drive"),
		state: filepath.Join(root, "state"), pass: map[string]string{}, wrong: map[string]bool{}, logins: map[string]*atomic.Int32{},
		servers: &Servers{}}
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("user%02d@example.org", i)
		login := fmt.Sprintf("user%02d", i)
		e.pass[login] = "pw-" + login
		e.logins[login] = &atomic.Int32{}
		e.users = append(e.users, User{Name: name, Login: login, Row: []string{name, login, ""}})
		for k := 0; k < 2+i; k++ {
			e.addMail(name, "", time.Now().Add(-48*time.Hour))
		}
		for k := 0; k < 2; k++ {
			e.addMail(name, ".Sent", time.Now().Add(-48*time.Hour))
		}
	}
	e.d = testservers.StartDovecot(t, e.pass)
	e.addr = e.d.Addr
	return e
}

// addMail writes one new message to user's Maildir folder ("" for
// INBOX), its first line unique, received at when.
func (e *env) addMail(user, folder string, when time.Time) string {
	e.t.Helper()
	n := e.seq.Add(1)
	dir := filepath.Join(e.src, user, folder)
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			e.t.Fatal(err)
		}
	}
	id := fmt.Sprintf("Message-ID: <m%d.%s>", n, user)
	body := fmt.Sprintf("%s\r\nFrom: a@example.org\r\nTo: %s\r\nSubject: test %d\r\nDate: %s\r\n\r\nbody %d\r\n",
		id, user, n, when.Format(time.RFC1123Z), n)
	name := fmt.Sprintf("%d.M%dP1.test:2,S", when.Unix(), n)
	if err := os.WriteFile(filepath.Join(dir, "cur", name), []byte(body), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// job is a run of stage over every user: export the Maildir, copy the
// archives to the "drive", import over IMAP.
func (e *env) job(stage Stage) Job {
	return Job{Users: e.users, Stage: stage, StateDir: e.state, ArchiveDir: e.arch, UsersAtOnce: 4,
		Retry: retry.Loop{Attempts: 3, Backoff: retry.Policy{First: 50 * time.Millisecond, Max: 200 * time.Millisecond}},
		Steps: Steps{
			Export: func(_ context.Context, u User, _ string) (export.Job, error) {
				p := filepath.Join(e.src, u.Name)
				return export.Job{Kind: "maildir", Path: p, PathIsDir: true, Source: &maildir.Source{Root: p}, Overlap: time.Minute}, nil
			},
			Transfer: &Transfer{Src: local.Endpoint{}, Dst: local.Endpoint{}, Dir: e.drive, DstLocal: true},
			Import: func(u User) ([]Import, error) {
				pw := e.pass[u.Login]
				if e.wrong[u.Login] {
					pw = "not-" + pw
				}
				count := e.logins[u.Login]
				acct := imapconn.Account{Addr: e.addr, User: u.Login, Secret: func() (string, error) { count.Add(1); return pw, nil }}
				opt := imapimport.Options{Account: acct, Provider: "dovecot", Settle: time.Second, Timeout: 30 * time.Second,
					Connections: e.connections, BatchMessages: e.batchMessage, Limits: e.servers.IMAP(e.addr)}
				return []Import{{Target: imapimport.New(opt), Request: importer.Request{ApplyDeletions: stage == Delta}}}, nil
			},
		}}
}

// exportPart runs the export part of a full pass, which must succeed.
func (e *env) exportPart() *Result {
	e.t.Helper()
	job := e.job(Full)
	job.Part = ExportOnly
	res, err := Run(context.Background(), job)
	if err != nil || res.ExitCode() != ExitOK {
		e.t.Fatalf("export part: %v\n%s", err, res.Summary())
	}
	return res
}

// heads reads back user's mailboxes: each message's first line (its
// Message-ID), counted.
func (e *env) heads(login string) map[string]int {
	e.t.Helper()
	out := map[string]int{}
	for _, mb := range testservers.ReadMailboxes(e.t, e.d.Addr, login, e.pass[login]) {
		for _, m := range mb.Messages {
			out[m.Head]++
		}
	}
	return out
}

// sourceHeads is every Message-ID line in user's Maildir.
func (e *env) sourceHeads(user string) map[string]bool {
	e.t.Helper()
	out := map[string]bool{}
	filepath.WalkDir(filepath.Join(e.src, user), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		line, _, _ := cutLine(string(b))
		out[line] = true
		return nil
	})
	return out
}

func cutLine(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '\r' || s[i] == '\n' {
			return s[:i], s[i:], true
		}
	}
	return s, "", false
}

// exactlyOnce fails unless every source message of u is on the target
// once, and nothing else is.
func (e *env) exactlyOnce(u User) {
	e.t.Helper()
	want := e.sourceHeads(u.Name)
	got := e.heads(u.Login)
	for h := range want {
		if got[h] != 1 {
			e.t.Errorf("%s: %q is on the target %d times, want once", u.Name, h, got[h])
		}
	}
	for h, n := range got {
		if !want[h] {
			e.t.Errorf("%s: %q (%d times) on the target is not the user's", u.Name, h, n)
		}
	}
}

// countingProxy forwards connections to upstream and records the most
// open at once.
type countingProxy struct {
	ln        net.Listener
	mu        sync.Mutex
	open, max int
	total     int
	wg        sync.WaitGroup
}

func startCountingProxy(t *testing.T, upstream string) *countingProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{ln: ln}
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Go(func() { p.serve(c, upstream) })
		}
	})
	return p
}

func (p *countingProxy) serve(c net.Conn, upstream string) {
	defer c.Close()
	u, err := net.Dial("tcp", upstream)
	if err != nil {
		return
	}
	defer u.Close()
	// A connection counts once it has been open for countAfter: the proxy
	// learns of a client's close a moment after it happened, and a
	// connection opened in that moment must not be counted with it.
	var counted, closed bool
	p.mu.Lock()
	p.total++
	p.mu.Unlock()
	timer := time.AfterFunc(countAfter, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if !closed {
			counted = true
			p.open++
			p.max = max(p.max, p.open)
		}
	})
	defer timer.Stop()
	done := make(chan struct{}, 2)
	go func() {
		io.Copy(u, c)
		// The client closed: its connection is over for the count.
		p.mu.Lock()
		closed = true
		if counted {
			p.open--
		}
		p.mu.Unlock()
		u.(*net.TCPConn).CloseWrite()
		done <- struct{}{}
	}()
	go func() { io.Copy(c, u); c.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	<-done
	<-done
}

const countAfter = 100 * time.Millisecond

func (p *countingProxy) stats() (maxOpen, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.max, p.total
}
