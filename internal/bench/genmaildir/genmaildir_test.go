package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var testEnd = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func generateTree(t *testing.T, dir string, seed uint64, messages int, size int64) {
	t.Helper()
	cfg := config{out: dir, messages: messages, size: size, seed: seed, user: "bench@example.com", end: testEnd, workers: 3}
	if _, err := generate(context.Background(), cfg); err != nil {
		t.Fatalf("generate: %v", err)
	}
}

// messageFile is one delivered message of a generated tree.
type messageFile struct {
	rel  string // path from the root, e.g. ".Sent/cur/1700000000.M1P2.host,S=3,W=3:2,S"
	size int64
	mod  time.Time
}

func listMessages(t *testing.T, root string) []messageFile {
	t.Helper()
	var files []messageFile
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		sub := filepath.Base(filepath.Dir(path))
		if d.IsDir() || (sub != "cur" && sub != "new") {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		files = append(files, messageFile{rel: rel, size: info.Size(), mod: info.ModTime()})
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	return files
}

// fingerprint is a tree's names, mtimes and contents, in one string.
func fingerprint(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	for _, f := range listMessages(t, root) {
		data, err := os.ReadFile(filepath.Join(root, f.rel))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %d %x\n", f.rel, f.mod.Unix(), sha256.Sum256(data))
	}
	return b.String()
}

func TestSameSeedSameTree(t *testing.T) {
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	generateTree(t, a, 7, 80, 4<<20)
	generateTree(t, b, 7, 80, 4<<20)
	generateTree(t, c, 8, 80, 4<<20)
	fa, fb, fc := fingerprint(t, a), fingerprint(t, b), fingerprint(t, c)
	if fa != fb {
		t.Errorf("seed 7 twice gave different trees:\n%s\nvs\n%s", fa, fb)
	}
	if fa == fc {
		t.Errorf("seeds 7 and 8 gave the same tree")
	}
}

func TestSizes(t *testing.T) {
	const messages, total = 600, 30 << 20
	root := t.TempDir()
	generateTree(t, root, 1, messages, total)
	files := listMessages(t, root)
	if len(files) != messages {
		t.Fatalf("got %d messages, want %d", len(files), messages)
	}
	var sum int64
	var sizes []int64
	for _, f := range files {
		sum += f.size
		sizes = append(sizes, f.size)
		if f.size < minMessageSize || f.size > maxMessageSize {
			t.Errorf("%s: size %d outside [%d, %d]", f.rel, f.size, minMessageSize, maxMessageSize)
		}
		if got := sizeFromName(filepath.Base(f.rel)); got != f.size {
			t.Errorf("%s: S=%d in the name, file has %d bytes", f.rel, got, f.size)
		}
		if !strings.Contains(f.rel, ",W="+strconv.FormatInt(f.size, 10)) {
			t.Errorf("%s: want W=%d (CRLF file, so W equals S)", f.rel, f.size)
		}
	}
	if off := float64(sum)/total - 1; off < -0.03 || off > 0.03 {
		t.Errorf("total %d bytes, want within 3%% of %d (off by %.1f%%)", sum, total, off*100)
	}
	slices.Sort(sizes)
	if median := sizes[len(sizes)/2]; median < 5<<10 || median > 50<<10 {
		t.Errorf("median size %d, want 5-50 KB", median)
	}
	if p99 := sizes[len(sizes)*99/100]; p99 < 200<<10 {
		t.Errorf("99th percentile %d, want a long tail above 200 KB", p99)
	}
}

func TestMessagesAreWellFormed(t *testing.T) {
	root := t.TempDir()
	generateTree(t, root, 3, 300, 12<<20)
	parts := map[string]int{} // content types of leaf parts seen
	var oldest, newest time.Time
	for _, f := range listMessages(t, root) {
		data, err := os.ReadFile(filepath.Join(root, f.rel))
		if err != nil {
			t.Fatal(err)
		}
		if i := bareLineEnd(data); i >= 0 {
			t.Errorf("%s: bare CR or LF at byte %d", f.rel, i)
			continue
		}
		msg, err := mail.ReadMessage(bytes.NewReader(data))
		if err != nil {
			t.Errorf("%s: %v", f.rel, err)
			continue
		}
		for _, h := range []string{"Message-Id", "Subject"} {
			if msg.Header.Get(h) == "" {
				t.Errorf("%s: no %s header", f.rel, h)
			}
		}
		for _, h := range []string{"From", "To"} {
			if _, err := msg.Header.AddressList(h); err != nil {
				t.Errorf("%s: %s: %v", f.rel, h, err)
			}
		}
		if _, err := msg.Header.Date(); err != nil {
			t.Errorf("%s: Date: %v", f.rel, err)
		}
		if err := walkParts(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, parts); err != nil {
			t.Errorf("%s: %v", f.rel, err)
		}
		if oldest.IsZero() || f.mod.Before(oldest) {
			oldest = f.mod
		}
		if f.mod.After(newest) {
			newest = f.mod
		}
		if stamp := nameTime(t, f.rel); !stamp.Equal(f.mod) {
			t.Errorf("%s: mtime %v, want the name's %v", f.rel, f.mod, stamp)
		}
	}
	for _, ct := range []string{"text/plain", "text/html", "image/jpeg", "application/zip", "text/csv"} {
		if parts[ct] == 0 {
			t.Errorf("no %s part in 300 messages; parts seen: %v", ct, parts)
		}
	}
	if newest.After(testEnd) || newest.Sub(oldest) < 2*365*24*time.Hour {
		t.Errorf("received times %v .. %v, want about 3 years ending by %v", oldest, newest, testEnd)
	}
}

// bareLineEnd returns the index of a CR or LF that is not part of CRLF, or -1.
func bareLineEnd(data []byte) int {
	for i, c := range data {
		switch {
		case c == '\n' && (i == 0 || data[i-1] != '\r'):
			return i
		case c == '\r' && (i+1 == len(data) || data[i+1] != '\n'):
			return i
		}
	}
	return -1
}

// walkParts parses a MIME entity down to its leaves, decoding base64 ones,
// and counts the leaves' content types.
func walkParts(contentType, encoding string, body io.Reader, seen map[string]int) error {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("content type %q: %w", contentType, err)
	}
	if !strings.HasPrefix(mediaType, "multipart/") {
		seen[mediaType]++
		if encoding == "base64" {
			body = base64.NewDecoder(base64.StdEncoding, body)
		}
		if _, err := io.Copy(io.Discard, body); err != nil {
			return fmt.Errorf("%s part: %w", mediaType, err)
		}
		return nil
	}
	mr := multipart.NewReader(body, params["boundary"])
	n := 0
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", mediaType, err)
		}
		if err := walkParts(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, seen); err != nil {
			return err
		}
		n++
	}
	if n < 2 {
		return fmt.Errorf("%s with %d parts, want at least 2", mediaType, n)
	}
	return nil
}

// nameTime reads the leading Unix time of a Maildir file name.
func nameTime(t *testing.T, rel string) time.Time {
	t.Helper()
	base := filepath.Base(rel)
	secs, err := strconv.ParseInt(base[:strings.IndexByte(base, '.')], 10, 64)
	if err != nil {
		t.Fatalf("%s: no leading time: %v", rel, err)
	}
	return time.Unix(secs, 0)
}

func TestAppendAddsCurrentMessages(t *testing.T) {
	root := t.TempDir()
	generateTree(t, root, 1, 200, 10<<20)
	before := fingerprint(t, root)
	old := map[string]bool{}
	for _, f := range listMessages(t, root) {
		old[f.rel] = true
	}

	start := time.Now().Truncate(time.Second)
	cfg := config{out: root, appendN: 12, seed: 1, user: "bench@example.com", end: testEnd, workers: 2}
	res, err := generate(context.Background(), cfg)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	stop := time.Now()
	if res.messages != 12 {
		t.Errorf("append reported %d messages, want 12", res.messages)
	}
	var added []messageFile
	for _, f := range listMessages(t, root) {
		if !old[f.rel] {
			added = append(added, f)
		}
	}
	if len(added) != 12 {
		t.Fatalf("append added %d files, want 12", len(added))
	}
	for _, f := range added {
		if stamp := nameTime(t, f.rel); stamp.Before(start) || stamp.After(stop) {
			t.Errorf("%s: name time %v, want between %v and %v", f.rel, stamp, start, stop)
		}
		if f.mod.Before(start) || f.mod.After(stop) {
			t.Errorf("%s: mtime %v, want between %v and %v", f.rel, f.mod, start, stop)
		}
	}
	// The tree's own messages are untouched: remove the added ones and compare.
	for _, f := range added {
		os.Remove(filepath.Join(root, f.rel))
	}
	if after := fingerprint(t, root); after != before {
		t.Errorf("append changed existing messages")
	}
}

func TestGenerateRefusesNonEmptyDir(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "keep"), []byte("x"), 0o600)
	cfg := config{out: root, messages: 5, size: 1 << 20, seed: 1, end: testEnd, workers: 1}
	if _, err := generate(context.Background(), cfg); err == nil {
		t.Errorf("generate into a non-empty directory: got no error")
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"1G", 1 << 30, false},
		{"50M", 50 << 20, false},
		{"1.5K", 1536, false},
		{"4096", 4096, false},
		{"", 0, true},
		{"G", 0, true},
		{"-1M", 0, true},
		{"10T", 0, true},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestSizeFromName(t *testing.T) {
	tests := []struct {
		name string
		want int64
	}{
		{"1700000000.M1P2.host,S=1234,W=1260:2,S", 1234},
		{"1700000000.M1P2.host,S=99", 99},
		{"1700000000.M1P2.host:2,S", 0},
		{"1700000000.M1P2.host,W=5,S=x:2,", 0},
	}
	for _, tt := range tests {
		if got := sizeFromName(tt.name); got != tt.want {
			t.Errorf("sizeFromName(%q) = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"1G", "50M", "1.5K", "12", "NaNK", "1e400M"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSize(s)
		if err == nil && n <= 0 {
			t.Errorf("parseSize(%q) = %d with no error, want a positive size", s, n)
		}
	})
}

func FuzzSizeFromName(f *testing.F) {
	f.Add("1700000000.M1P2.host,S=1234,W=1260:2,S")
	f.Add(",S=-5")
	f.Fuzz(func(t *testing.T, name string) {
		sizeFromName(name) // must not panic on any directory entry
	})
}
