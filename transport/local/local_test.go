package local

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/report"
	"github.com/mailhaul/mailhaul/transport"
	"github.com/mailhaul/mailhaul/transport/transporttest"
)

// copyAll moves every archive of src into dst through the engine.
func copyAll(t *testing.T, src, dst string, opt transport.Options) *report.Transfer {
	t.Helper()
	ctx := context.Background()
	jobs, err := transport.Plan(ctx, Conn{}, []string{src}, Conn{}, dst)
	if err != nil {
		t.Fatal(err)
	}
	opt.Retries = transport.NoRetries
	rep, err := transport.Run(ctx, Endpoint{}, Endpoint{}, jobs, opt)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// OpenWrite keeps the bytes before the offset and drops those after it:
// what lies beyond a verified boundary is not trusted.
func TestOpenWriteKeepsOnlyTheVerifiedPrefix(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		off   int64
		write string
		want  string
	}{
		{"from the start", 0, "new", "new"},
		{"after a prefix", 4, "XY", "0123XY"},
		{"at the old end", 10, "!", "0123456789!"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "a.tgz.partial")
			os.WriteFile(p, []byte("0123456789"), 0o644)
			w, err := Conn{}.OpenWrite(ctx, p, tc.off)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.ReadFrom(strings.NewReader(tc.write)); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := string(mustRead(t, p)); got != tc.want {
				t.Errorf("after OpenWrite at %d and writing %q: %q, want %q", tc.off, tc.write, got, tc.want)
			}
		})
	}
}

func TestSumsReadTheStoredBytes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data := transporttest.WriteArchive(t, dir, "a.tgz", 3000)
	p := filepath.Join(dir, "a.tgz")

	want := sha256.Sum256(data)
	if got, err := (Conn{}).Sum(ctx, p); err != nil || got != hex.EncodeToString(want[:]) {
		t.Errorf("Sum = %s, %v; want %x", got, err, want)
	}
	sums, err := Conn{}.SegmentSums(ctx, p, 1000, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range sums {
		if w := sha256.Sum256(data[i*1000 : (i+1)*1000]); s != w {
			t.Errorf("segment %d: %x, want %x", i, s, w)
		}
	}
	// Asking for more whole segments than the file has is an error naming it.
	if _, err := (Conn{}).SegmentSums(ctx, p, 1000, 4); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("4 segments of a 3000-byte file: %v, want an error naming %s", err, p)
	}
	got, err := Conn{}.ReadChecksum(ctx, p)
	if err != nil || got != hex.EncodeToString(want[:]) {
		t.Errorf("ReadChecksum = %s, %v; want %x", got, err, want)
	}
	if _, err := (Conn{}).ReadChecksum(ctx, filepath.Join(dir, "none.tgz")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadChecksum of a missing .sha256: %v, want fs.ErrNotExist", err)
	}
}

func TestListFindsOnlyArchives(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"b.tgz", "a.tar.zst", "c.tar", ".hidden.tgz", "a.tgz.partial", "a.tar.zst.sha256", "notes.txt"} {
		os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644)
	}
	os.Mkdir(filepath.Join(dir, "sub.tgz"), 0o755)
	got, err := Conn{}.List(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing that looks like an archive is passed over: a hidden one is
	// an archive too, and a directory so named fails its transfer, visibly.
	l := func(name string, size int64) transport.Listed {
		return transport.Listed{Path: filepath.Join(dir, name), Size: size}
	}
	want := []transport.Listed{l(".hidden.tgz", 1), l("a.tar.zst", 1), l("b.tgz", 1), l("c.tar", 1), l("sub.tgz", 0)}
	if !slices.Equal(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}
	if _, err := (Conn{}).List(context.Background(), filepath.Join(dir, "notes.txt")); err == nil {
		t.Errorf("List of a file that is not an archive: no error")
	}
}

// The three cases an archive already at the destination can be in.
func TestCopyResumeSkipReplace(t *testing.T) {
	const size, seg = 3<<20 + 17, 1 << 20
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T, dst string, data []byte)
		status  string
		from    int64 // ResumedFrom
		sent    int64
		note    string // in the result's note
		// overwrite: replacing a different archive was asked for
		overwrite bool
	}{
		{
			name: "partial file with a good prefix and a torn tail",
			prepare: func(t *testing.T, dst string, data []byte) {
				torn := append(slices.Clone(data[:2*seg+500]), 0, 0, 0) // two good segments, then junk
				os.WriteFile(filepath.Join(dst, "a.tgz.partial"), torn, 0o644)
			},
			status: report.TransferSent, from: 2 * seg, sent: size - 2*seg,
		},
		{
			name: "partial file damaged in its first segment",
			prepare: func(t *testing.T, dst string, data []byte) {
				bad := slices.Clone(data[:2*seg])
				bad[10] ^= 1
				os.WriteFile(filepath.Join(dst, "a.tgz.partial"), bad, 0o644)
			},
			status: report.TransferSent, from: 0, sent: size,
		},
		{
			name: "same archive already there",
			prepare: func(t *testing.T, dst string, data []byte) {
				os.WriteFile(filepath.Join(dst, "a.tgz"), data, 0o644)
			},
			status: report.TransferSkipped, sent: 0,
		},
		{
			// Its own .sha256 says it is this archive: a damaged copy.
			name: "same size, different bytes, the same .sha256",
			prepare: func(t *testing.T, dst string, data []byte) {
				other := slices.Clone(data)
				other[size-1] ^= 1
				os.WriteFile(filepath.Join(dst, "a.tgz"), other, 0o644)
				sum := sha256.Sum256(data)
				format.WriteChecksumFile(filepath.Join(dst, "a.tgz"), hex.EncodeToString(sum[:]))
			},
			status: report.TransferSent, sent: size, note: "corrupt copy",
		},
		{
			name: "a different archive, replaced as asked",
			prepare: func(t *testing.T, dst string, data []byte) {
				os.WriteFile(filepath.Join(dst, "a.tgz"), data[:100], 0o644)
			},
			overwrite: true,
			status:    report.TransferSent, sent: size, note: "replaced a different archive",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, dst := t.TempDir(), t.TempDir()
			data := transporttest.WriteArchive(t, src, "a.tgz", size)
			tc.prepare(t, dst, data)
			rep := copyAll(t, src, dst, transport.Options{SegmentSize: seg, Overwrite: tc.overwrite})
			r := rep.Results[0]
			if r.Status != tc.status || r.ResumedFrom != tc.from || r.Sent != tc.sent || !strings.Contains(r.Note, tc.note) {
				t.Errorf("got %s from %d sent %d note %q (%s); want %s from %d sent %d note with %q",
					r.Status, r.ResumedFrom, r.Sent, r.Note, r.Error, tc.status, tc.from, tc.sent, tc.note)
			}
			if got := mustRead(t, filepath.Join(dst, "a.tgz")); !bytes.Equal(got, data) {
				t.Errorf("destination differs from the source after the copy")
			}
			if _, err := os.Stat(filepath.Join(dst, "a.tgz.partial")); err == nil {
				t.Errorf("partial file left behind")
			}
			if got, want := mustRead(t, filepath.Join(dst, "a.tgz.sha256")), mustRead(t, filepath.Join(src, "a.tgz.sha256")); !bytes.Equal(got, want) {
				t.Errorf(".sha256 at the destination = %q, want %q", got, want)
			}
		})
	}
}

// A destination that refuses writes fails the archive with a message that
// names the file and says why, once (refusals are not retried).
func TestReadOnlyDestination(t *testing.T) {
	src := t.TempDir()
	transporttest.WriteArchive(t, src, "a.tgz", 1000)
	dst := readOnlyDir(t)
	jobs := []transport.Job{{Name: "a.tgz", Src: filepath.Join(src, "a.tgz"), Dst: filepath.Join(dst, "a.tgz")}}
	rep, _ := transport.Run(context.Background(), Endpoint{}, Endpoint{}, jobs, transport.Options{})
	r := rep.Results[0]
	if r.Status != report.TransferFailed || r.Reason != "permission denied" || r.Attempts != 1 ||
		!strings.Contains(r.Error, filepath.Join(dst, "a.tgz.partial")) {
		t.Errorf("read-only destination: %s, reason %q, %d attempts, error %q; want failed once, permission denied, naming %s",
			r.Status, r.Reason, r.Attempts, r.Error, filepath.Join(dst, "a.tgz.partial"))
	}
}

// readOnlyDir returns a directory this process cannot write in: a mode
// 0555 directory, or for root (whom modes do not stop) a read-only tmpfs.
func readOnlyDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if os.Geteuid() != 0 {
		os.Chmod(dir, 0o555)
		t.Cleanup(func() { os.Chmod(dir, 0o755) })
		return dir
	}
	mountTmpfs(t, dir, "ro,size=1m")
	return dir
}

// mountTmpfs mounts a tmpfs with opts on dir until the test ends; it
// skips the test where mounting is not allowed.
func mountTmpfs(t *testing.T, dir, opts string) {
	t.Helper()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s)", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
}

// Too little free space is found before anything is written.
func TestFreeSpaceCheckedFirst(t *testing.T) {
	defer func(old func(string) (int64, bool)) { statFree = old }(statFree)
	statFree = func(string) (int64, bool) { return 4096, true }
	src, dst := t.TempDir(), t.TempDir()
	transporttest.WriteArchive(t, src, "a.tgz", 10_000)
	rep := copyAll(t, src, dst, transport.Options{})
	r := rep.Results[0]
	if r.Reason != transport.ErrNoSpace.Error() || !strings.Contains(r.Error, "a.tgz") || !strings.Contains(r.Error, "4096 free") {
		t.Errorf("10000 bytes into 4096 free: reason %q, error %q; want %q naming the file and the free space", r.Reason, r.Error, transport.ErrNoSpace)
	}
	if ents, _ := os.ReadDir(dst); len(ents) != 0 {
		t.Errorf("files written despite the lack of space: %v", ents)
	}
}

// A disk that fills during the copy (the free-space figure was wrong, or
// someone else wrote) gives "no space left", not a retry.
func TestDiskFullDuringCopy(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	dst := t.TempDir()
	mountTmpfs(t, dst, "size=1m")
	defer func(old func(string) (int64, bool)) { statFree = old }(statFree)
	statFree = func(string) (int64, bool) { return 1 << 40, true }
	src := t.TempDir()
	transporttest.WriteArchive(t, src, "a.tgz", 3<<20)
	rep := copyAll(t, src, dst, transport.Options{})
	r := rep.Results[0]
	if r.Reason != transport.ErrNoSpace.Error() || r.Code != report.CodeNoSpace || r.Attempts != 1 || !strings.Contains(r.Error, "a.tgz.partial") {
		t.Errorf("3 MiB into a 1 MiB file system: reason %q, %d attempts, error %q; want %q naming the partial file, once",
			r.Reason, r.Attempts, r.Error, transport.ErrNoSpace)
	}
}

func TestRemoveAndRename(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	os.WriteFile(a, []byte("new"), 0o644)
	os.WriteFile(b, []byte("old"), 0o644)
	if err := (Conn{}).Rename(ctx, a, b); err != nil {
		t.Fatal(err)
	}
	if got := string(mustRead(t, b)); got != "new" {
		t.Errorf("after Rename over an existing file: %q, want %q", got, "new")
	}
	if err := (Conn{}).Remove(ctx, a); err != nil {
		t.Errorf("Remove of a missing file: %v, want nil", err)
	}
	r, err := Conn{}.OpenRead(ctx, b, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, _ := io.ReadAll(r); string(got) != "ew" {
		t.Errorf("OpenRead at 1: %q, want %q", got, "ew")
	}
}
