package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// config is one run of the generator.
type config struct {
	out      string
	messages int
	size     int64 // total bytes; 0 in append mode means "like the tree's mean"
	seed     uint64
	user     string
	end      time.Time // the newest received time of a fresh tree
	appendN  int       // when > 0, add this many messages received now
	workers  int
}

type result struct {
	messages int
	bytes    int64
}

// host is the delivering host in file names, as Dovecot writes its hostname.
const host = "imap1.bench.example"

// framingBytes is about how much a written message exceeds its target: the
// MIME framing and the last line or paragraph of each text part.
const framingBytes = 650

// appendBase keeps appended messages' draws apart from a fresh tree's.
const appendBase = 1 << 40

// generate writes a fresh tree, or appends to one when cfg.appendN > 0.
func generate(ctx context.Context, cfg config) (result, error) {
	var (
		first, n uint64
		total    = cfg.size
		end      = cfg.end
		naming   func(m *message) string
	)
	if cfg.appendN > 0 {
		count, bytes, err := measureTree(cfg.out)
		if err != nil {
			return result{}, err
		}
		first, n, end = appendBase+uint64(count), uint64(cfg.appendN), time.Now()
		if total == 0 {
			if count == 0 {
				return result{}, fmt.Errorf("genmaildir: %s has no messages to take a size from; give -size", cfg.out)
			}
			total = bytes / int64(count) * int64(cfg.appendN)
		}
		pid := os.Getpid()
		naming = func(m *message) string {
			now := time.Now()
			return fmt.Sprintf("%d.M%dP%dQ%d.%s", now.Unix(), now.Nanosecond()/1000, pid, m.index-first+1, host)
		}
	} else {
		if err := requireEmpty(cfg.out); err != nil {
			return result{}, err
		}
		n = uint64(cfg.messages)
		naming = func(m *message) string {
			// P is unique per message, so names never collide; M (the
			// microsecond) is what Dovecot adds for uniqueness.
			return fmt.Sprintf("%d.M%dP%d.%s", m.received.Unix(), m.meta.IntN(1_000_000), 1000+m.index, host)
		}
	}
	if err := makeFolders(cfg.out); err != nil {
		return result{}, err
	}
	if cfg.appendN == 0 {
		if err := writeSubscriptions(cfg.out); err != nil {
			return result{}, err
		}
	}
	sc := fitScale(cfg.seed, first, n, max(total-int64(n)*framingBytes, 1))

	var next, written atomic.Int64
	var bytes atomic.Int64
	g, ctx := errgroup.WithContext(ctx)
	for range cfg.workers {
		g.Go(func() error {
			wr := &writer{seed: cfg.seed, user: person{name: "Bench User", addr: cfg.user}}
			bw := bufio.NewWriterSize(nil, 256<<10)
			for {
				k := next.Add(1) - 1
				if k >= int64(n) {
					return nil
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				m := planMessage(cfg.seed, first+uint64(k), sc, end, cfg.appendN > 0)
				size, err := writeFile(cfg.out, &m, naming(&m), wr, bw)
				if err != nil {
					return err
				}
				written.Add(1)
				bytes.Add(size)
			}
		})
	}
	err := g.Wait()
	return result{messages: int(written.Load()), bytes: bytes.Load()}, err
}

// writeFile delivers m the way Dovecot does: write under tmp/, then rename
// into new/ or cur/ with the size (S=) and RFC 822 size (W=) in the name and
// the received time as the file's mtime.
func writeFile(root string, m *message, base string, wr *writer, bw *bufio.Writer) (int64, error) {
	dir := filepath.Join(root, m.folder.dir)
	tmp := filepath.Join(dir, "tmp", base)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, fmt.Errorf("genmaildir: create %s: %w", tmp, err)
	}
	cw := &countingWriter{w: f}
	bw.Reset(cw)
	wr.writeMessage(bw, m)
	err = bw.Flush()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return 0, fmt.Errorf("genmaildir: write %s: %w", tmp, err)
	}
	// The file has CRLF line ends already, so its RFC 822 size is its size.
	name := fmt.Sprintf("%s,S=%d,W=%d", base, cw.n, cw.n)
	final := filepath.Join(dir, "new", name)
	if !m.inNew {
		final = filepath.Join(dir, "cur", name+":2,"+m.flags)
	}
	if _, err := os.Lstat(final); err == nil {
		os.Remove(tmp)
		return 0, fmt.Errorf("genmaildir: deliver %s: %w", final, fs.ErrExist)
	}
	if err := os.Rename(tmp, final); err != nil {
		return 0, fmt.Errorf("genmaildir: deliver %s: %w", final, err)
	}
	if err := os.Chtimes(final, m.received, m.received); err != nil {
		return 0, fmt.Errorf("genmaildir: set time of %s: %w", final, err)
	}
	return cw.n, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func requireEmpty(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("genmaildir: read %s: %w", dir, err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("genmaildir: %s is not empty; remove it or use -append", dir)
	}
	return nil
}

// makeFolders creates every folder's cur/, new/ and tmp/ (keeping what
// exists), and the files Dovecot keeps beside them.
func makeFolders(root string) error {
	for _, f := range folders {
		dir := filepath.Join(root, f.dir)
		for _, sub := range []string{"cur", "new", "tmp"} {
			if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
				return fmt.Errorf("genmaildir: create folder: %w", err)
			}
		}
		files := map[string]string{"dovecot-keywords": keywordsFile}
		if f.dir != "" {
			files["maildirfolder"] = "" // Maildir++ marks subfolders so
		}
		for name, content := range files {
			path := filepath.Join(dir, name)
			if _, err := os.Lstat(path); err == nil {
				continue // appending: leave the tree's own files alone
			}
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				return fmt.Errorf("genmaildir: write %s: %w", path, err)
			}
		}
	}
	return nil
}

// writeSubscriptions lists every folder but INBOX, one name per line.
func writeSubscriptions(root string) error {
	var b strings.Builder
	for _, f := range folders {
		if f.dir != "" {
			b.WriteString(strings.TrimPrefix(f.dir, ".") + "\n")
		}
	}
	path := filepath.Join(root, "subscriptions")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("genmaildir: write %s: %w", path, err)
	}
	return nil
}

// measureTree counts the messages of an existing tree and adds up their
// S= sizes, reading only directory listings.
func measureTree(root string) (count int, bytes int64, err error) {
	if _, err := os.Stat(filepath.Join(root, "cur")); err != nil {
		return 0, 0, fmt.Errorf("genmaildir: %s is not a Maildir to append to: %w", root, err)
	}
	for _, f := range folders {
		for _, sub := range []string{"cur", "new"} {
			dir := filepath.Join(root, f.dir, sub)
			entries, err := os.ReadDir(dir)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return 0, 0, fmt.Errorf("genmaildir: read %s: %w", dir, err)
			}
			for _, e := range entries {
				count++
				bytes += sizeFromName(e.Name())
			}
		}
	}
	return count, bytes, nil
}

// sizeFromName returns the S= field of a Maildir file name, or 0.
func sizeFromName(name string) int64 {
	if i := strings.IndexByte(name, ':'); i >= 0 {
		name = name[:i]
	}
	for _, field := range strings.Split(name, ",")[1:] {
		if v, ok := strings.CutPrefix(field, "S="); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}
