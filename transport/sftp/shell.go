package sftp

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/mailhaul/mailhaul/transport"
)

// Every SSH session is a login: sshd runs the account's shell, which reads
// its rc files (0.1 s of CPU and two processes per session measured on the
// test machine, where root's .bashrc runs pyenv). Hashing therefore does
// not start a session per command, nor a shell per transfer: an endpoint
// keeps one long-lived `sh`, in a session on the pool's side connection
// (pool.go), and lends it to the transfers in turn, batching what they ask
// for meanwhile (batch.go). One is enough: openssl hashes 1.4 GB/s on one
// core of the test machine, faster than the transfers deliver, and on
// loopback a second shell cost 0.3 s of CPU per 512 MiB pushed, for no gain.
const maxShells = 1

// hashing is an endpoint's server-side hashing: the command the probe
// chose, and the shells.
type hashing struct {
	probeMu sync.Mutex
	probed  bool
	cmd     string // "" when the server hashes nothing for us

	// fileSync: the server's sync takes file names (GNU coreutils 8.24
	// and later), so its shells can fsync archives (batch.go).
	fileSync bool

	slots chan struct{} // one per shell lent or being started; made by command
	mu    sync.Mutex
	idle  []*shell
	queue []*fileOp // hashes and syncs waiting for a shell (batch.go)
	// closed: the endpoint closed; shells given back are ended.
	closed bool

	commands atomic.Int64 // commands sent to shells, for tests
}

// StartProbe finds the server's hashing command in the background, for
// an endpoint that will receive archives (each is hashed there): the probe
// costs a login, which then overlaps with the transfers' own logins
// instead of delaying the first verification.
func (e *Endpoint) StartProbe() {
	go e.hashing.command(e.bg, e)
}

// command returns the server's hashing command, probing on first use (not
// at connect: a pull never needs it unless it resumes). "" means none.
// The probe runs in the first shell, which then stays for hashing: one
// login for both.
func (h *hashing) command(ctx context.Context, e *Endpoint) string {
	h.probeMu.Lock()
	defer h.probeMu.Unlock()
	if h.probed || e.cfg.NoRemoteCommands {
		return h.cmd
	}
	if h.slots == nil {
		h.slots = make(chan struct{}, maxShells)
	}
	l, err := e.sideLink(ctx)
	if err != nil {
		return "" // not recorded: the next call tries again
	}
	sh, err := startShell(e, l)
	if err != nil {
		e.release(l)
		h.probed = ctx.Err() == nil // refused: no commands for this account
		return ""
	}
	// An account restricted to SFTP (ForceCommand internal-sftp) may answer
	// the script with silence rather than an error: bound the wait.
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	out, err := sh.run(pctx, probeScript())
	cancel()
	if err == nil {
		h.mu.Lock() // batches read them under mu
		h.cmd = pickHashCommand(out)
		h.fileSync = h.cmd != "" && probeFoundFileSync(out)
		h.mu.Unlock()
	}
	h.probed = ctx.Err() == nil // a cancelled probe proves nothing
	if h.cmd == "" || sh.broken {
		sh.close()
		return h.cmd
	}
	h.mu.Lock()
	h.idle = append(h.idle, sh) // idle: it holds no slot until lent
	h.mu.Unlock()
	if e.bg.Err() != nil { // the endpoint closed meanwhile
		h.close()
	}
	return h.cmd
}

// probeTimeout bounds the probe; tests shorten it.
var probeTimeout = 15 * time.Second

// run runs cmd in an idle shell, or a new one if fewer than maxShells
// exist, or waits for one to be free.
func (h *hashing) run(ctx context.Context, e *Endpoint, cmd string) ([]byte, error) {
	sh, err := h.take(ctx, e)
	if err != nil {
		return nil, err
	}
	out, err := sh.run(ctx, cmd)
	h.put(sh)
	return out, err
}

func (h *hashing) take(ctx context.Context, e *Endpoint) (*shell, error) {
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return h.shellFor(ctx, e)
}

// shellFor returns an idle shell or starts one, for a caller holding a
// slot; on failure the slot is given back.
func (h *hashing) shellFor(ctx context.Context, e *Endpoint) (*shell, error) {
	h.mu.Lock()
	if n := len(h.idle); n > 0 {
		sh := h.idle[n-1]
		h.idle = h.idle[:n-1]
		h.mu.Unlock()
		return sh, nil
	}
	h.mu.Unlock()
	l, err := e.sideLink(ctx)
	if err != nil {
		<-h.slots
		return nil, err
	}
	sh, err := startShell(e, l)
	if err != nil {
		e.release(l)
		<-h.slots
		return nil, transport.ConnLost(fmt.Errorf("start a remote shell: %w", err))
	}
	return sh, nil
}

// put keeps a working shell for the next command and closes a broken one;
// either way its slot is free again.
func (h *hashing) put(sh *shell) {
	h.mu.Lock()
	keep := !sh.broken && !h.closed
	if keep {
		h.idle = append(h.idle, sh)
	}
	h.mu.Unlock()
	if !keep {
		sh.close()
	}
	<-h.slots
}

// close ends the idle shells, and those lent out when they come back.
func (h *hashing) close() {
	h.mu.Lock()
	h.closed = true
	idle := h.idle
	h.idle = nil
	h.mu.Unlock()
	for _, sh := range idle {
		sh.close()
	}
}

// shell is one `sh` on the server that runs commands in turn; it is used
// by one transfer at a time.
type shell struct {
	ep     *Endpoint
	link   *link // the pool's connection its session is on
	sess   *ssh.Session
	stdin  io.WriteCloser
	out    *bufio.Reader
	broken bool // its state is unknown (an error, a cancelled command): close it
	nonce  string
	seq    int
}

// endMarker, the shell's nonce and the command's number end each
// command's output, with the exit status after them.
const endMarker = "__mailhaul_end_"

func startShell(e *Endpoint, l *link) (*shell, error) {
	s, err := l.ssh.NewSession()
	if err != nil {
		return nil, err
	}
	in, err := s.StdinPipe()
	if err != nil {
		s.Close()
		return nil, err
	}
	out, err := s.StdoutPipe()
	if err != nil {
		s.Close()
		return nil, err
	}
	if err := s.Start("exec sh"); err != nil {
		s.Close()
		return nil, err
	}
	return &shell{ep: e, link: l, sess: s, stdin: in, out: bufio.NewReader(out), nonce: rand.Text()}, nil
}

// run runs cmd and returns what it printed; a non-zero exit is an error.
// If ctx ends the shell is closed (its state is unknown).
func (sh *shell) run(ctx context.Context, cmd string) ([]byte, error) {
	sh.ep.hashing.commands.Add(1)
	stop := context.AfterFunc(ctx, func() { sh.sess.Close() })
	defer stop()
	out, err := sh.exchange(cmd)
	if ctx.Err() != nil {
		sh.broken = true
		return nil, ctx.Err()
	}
	var failed *commandFailed
	switch {
	case err == nil, errors.As(err, &failed):
	case errors.Is(err, errTooMuchOutput):
		sh.broken = true
	default:
		// The session or its connection broke: the side link gets no
		// more shells, and the transfer that asked retries.
		sh.broken = true
		sh.link.broken.Store(true)
		err = transport.ConnLost(err)
	}
	return out, err
}

var errTooMuchOutput = errors.New("remote shell: more output than any hashing command gives")

// commandFailed is a command's non-zero exit; the shell still works.
type commandFailed struct{ code int }

func (e *commandFailed) Error() string { return fmt.Sprintf("remote command failed (exit %d)", e.code) }

func (sh *shell) exchange(cmd string) ([]byte, error) {
	// Standard input is closed for the command, so nothing it runs can
	// swallow the next command. The end marker is new for each command and
	// unguessable: output that names files (a batch) cannot fake it.
	sh.seq++
	marker := fmt.Sprintf("%s%s_%d__", endMarker, sh.nonce, sh.seq)
	if _, err := fmt.Fprintf(sh.stdin, "{ %s ; } </dev/null 2>/dev/null; echo %s $?\n", cmd, marker); err != nil {
		return nil, fmt.Errorf("remote shell: %w", err)
	}
	var out []byte
	for {
		line, err := readLineBounded(sh.out, 1<<20-len(out))
		if errors.Is(err, errTooMuchOutput) {
			return nil, err
		}
		if rest, ok := strings.CutPrefix(line, marker+" "); ok {
			code, _ := strconv.Atoi(strings.TrimSpace(rest))
			if code != 0 {
				return nil, &commandFailed{code}
			}
			return out, nil
		}
		out = append(out, line...)
		if err != nil {
			return nil, fmt.Errorf("remote shell ended: %w", err)
		}
		if len(out) > 1<<20 {
			return nil, errTooMuchOutput
		}
	}
}

// readLineBounded reads one line, refusing to hold more than max bytes of
// it: a hostile server could otherwise send an endless line.
func readLineBounded(r *bufio.Reader, max int) (string, error) {
	var b []byte
	for {
		frag, err := r.ReadSlice('\n')
		if len(b)+len(frag) > max {
			return "", errTooMuchOutput
		}
		b = append(b, frag...)
		if err != bufio.ErrBufferFull {
			return string(b), err
		}
	}
}

// close ends the shell's session; the connection goes back to the pool.
func (sh *shell) close() {
	sh.stdin.Close()
	sh.sess.Close()
	sh.ep.release(sh.link)
}
