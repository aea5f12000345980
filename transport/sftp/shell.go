package sftp

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
)

// shell is one long-lived `sh` on the server that runs the hashing
// commands of a connection in turn. Starting a session and a login shell
// per command cost 0.2 to 0.7 s here; a running shell answers in a round
// trip plus the hashing.
type shell struct {
	mu    sync.Mutex
	sess  *ssh.Session
	stdin io.WriteCloser
	out   *bufio.Reader
}

// endMarker ends each command's output, with the exit status after it.
const endMarker = "__mailhaul_end__"

func (sh *shell) start(client *ssh.Client) error {
	s, err := client.NewSession()
	if err != nil {
		return err
	}
	in, err := s.StdinPipe()
	if err != nil {
		s.Close()
		return err
	}
	out, err := s.StdoutPipe()
	if err != nil {
		s.Close()
		return err
	}
	if err := s.Start("exec sh"); err != nil {
		s.Close()
		return err
	}
	sh.sess, sh.stdin, sh.out = s, in, bufio.NewReader(out)
	return nil
}

// run runs cmd and returns what it printed; a non-zero exit is an error.
// If ctx ends the shell is closed (its state is unknown) and the next
// call starts a new one.
func (sh *shell) run(ctx context.Context, client *ssh.Client, cmd string) ([]byte, error) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.sess == nil {
		if err := sh.start(client); err != nil {
			return nil, err
		}
	}
	stop := context.AfterFunc(ctx, func() { sh.sess.Close() })
	defer stop()
	out, err := sh.exchange(cmd)
	if err != nil || ctx.Err() != nil {
		sh.sess.Close()
		sh.sess = nil
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return out, err
}

func (sh *shell) exchange(cmd string) ([]byte, error) {
	// Standard input is closed for the command, so nothing it runs can
	// swallow the next command.
	if _, err := fmt.Fprintf(sh.stdin, "{ %s ; } </dev/null 2>/dev/null; echo %s $?\n", cmd, endMarker); err != nil {
		return nil, err
	}
	var out []byte
	for {
		line, err := sh.out.ReadString('\n')
		if rest, ok := strings.CutPrefix(line, endMarker+" "); ok {
			code, _ := strconv.Atoi(strings.TrimSpace(rest))
			if code != 0 {
				return nil, fmt.Errorf("remote command failed (exit %d)", code)
			}
			return out, nil
		}
		out = append(out, line...)
		if err != nil {
			return nil, fmt.Errorf("remote shell ended: %w", err)
		}
		if len(out) > 1<<20 {
			return nil, fmt.Errorf("remote shell: unexpected output")
		}
	}
}

func (sh *shell) close() {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.sess != nil {
		sh.stdin.Close()
		sh.sess.Close()
		sh.sess = nil
	}
}
