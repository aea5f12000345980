package sftp

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/mailhaul/mailhaul/transport"
)

// The server's own bytes are checked, never what was sent. When the
// account may run commands, sha256sum runs on the server: the file is read
// from its disk there and nothing crosses the link. Otherwise (SFTP-only
// accounts) the file is read back over SFTP and hashed here.

// execHashMin is the size from which the server hashes; tests raise it to
// exercise reading back. With a running shell (see shell) a command costs
// a round trip, less than reading back even a small file.
var execHashMin int64

// Sum returns the SHA-256 of the bytes stored in p.
func (c *Conn) Sum(ctx context.Context, p string) (string, error) {
	if c.exec && c.sizeAtLeast(p, execHashMin) {
		out, err := c.run(ctx, "sha256sum < "+shellQuote(p))
		if err != nil {
			return "", c.wrap("hash", p, err)
		}
		sums := parseSums(out)
		if len(sums) != 1 {
			return "", fmt.Errorf("sftp: hash %s: unexpected sha256sum output %q", p, trim(out))
		}
		return sums[0], nil
	}
	f, err := c.c.Open(p)
	if err != nil {
		return "", c.wrap("open", p, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := f.WriteTo(ctxWriter{ctx, h}); err != nil {
		return "", c.wrap("read back", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (c *Conn) sizeAtLeast(p string, n int64) bool {
	fi, err := c.c.Stat(p)
	return err == nil && fi.Size() >= n
}

// SegmentSums returns the SHA-256 of each of the first n segments of p.
func (c *Conn) SegmentSums(ctx context.Context, p string, seg int64, n int) ([][32]byte, error) {
	if c.exec {
		// dd skips by seeking; sha256sum hashes each segment on the server.
		cmd := fmt.Sprintf(`f=%s; i=0; while [ $i -lt %d ]; do dd if="$f" bs=%d skip=$i count=1 2>/dev/null | sha256sum || exit 1; i=$((i+1)); done`,
			shellQuote(p), n, seg)
		out, err := c.run(ctx, cmd)
		if err != nil {
			return nil, c.wrap("hash segments of", p, err)
		}
		hexes := parseSums(out)
		if len(hexes) != n {
			return nil, fmt.Errorf("sftp: hash segments of %s: got %d sums, want %d", p, len(hexes), n)
		}
		sums := make([][32]byte, n)
		for i, h := range hexes {
			hex.Decode(sums[i][:], []byte(h))
		}
		return sums, nil
	}
	f, err := c.c.Open(p)
	if err != nil {
		return nil, c.wrap("open", p, err)
	}
	defer f.Close()
	sw := &transport.SegmentWriter{Seg: seg, N: n}
	if _, err := f.WriteTo(ctxWriter{ctx, sw}); err != nil && !transport.IsSegmentsDone(err) {
		return nil, c.wrap("read back", p, err)
	}
	if len(sw.Sums) < n {
		return nil, fmt.Errorf("sftp: read back %s: shorter than %d segments", p, n)
	}
	return sw.Sums, nil
}

// run runs a shell command on the server, in the connection's shell.
func (c *Conn) run(ctx context.Context, cmd string) ([]byte, error) {
	return c.sh.run(ctx, c.ssh, cmd)
}

// probeExec checks that the server runs sha256sum and that it agrees with
// ours on a known input; shells that print banners are tolerated.
func probeExec(ctx context.Context, client *ssh.Client) bool {
	s, err := client.NewSession()
	if err != nil {
		return false
	}
	defer s.Close()
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	out, err := s.Output("printf mailhaul | sha256sum && command -v dd >/dev/null")
	want := sha256.Sum256([]byte("mailhaul"))
	sums := parseSums(out)
	return err == nil && len(sums) == 1 && sums[0] == hex.EncodeToString(want[:])
}

var sumLine = regexp.MustCompile(`^([0-9a-f]{64})\s`)

// parseSums returns the hashes of sha256sum's output lines, ignoring any
// other line (a login banner).
func parseSums(out []byte) []string {
	var sums []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if m := sumLine.FindStringSubmatch(sc.Text()); m != nil {
			sums = append(sums, m[1])
		}
	}
	return sums
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func trim(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

type ctxWriter struct {
	ctx context.Context
	w   interface{ Write([]byte) (int, error) }
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
