package format

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

func createSample(t *testing.T, dir string, opt *CreateOptions) string {
	t.Helper()
	f, err := Create(dir, testManifest(), opt)
	if err != nil {
		t.Fatal(err)
	}
	writeSample(t, f.Writer)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return f.Path()
}

func TestCreate(t *testing.T) {
	dir := t.TempDir()
	f, err := Create(dir, testManifest(), &CreateOptions{WriterOptions: WriterOptions{Now: fixedClock}})
	if err != nil {
		t.Fatal(err)
	}
	writeSample(t, f.Writer)
	// Until Close, only a hidden temporary file exists.
	during := listDir(t, dir)
	if len(during) != 1 || !strings.HasPrefix(during[0], ".alice@example.com.tgz.tmp-") {
		t.Errorf("before Close the directory holds %q, want one hidden temporary file", during)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	want := []string{"alice@example.com.tgz", "alice@example.com.tgz.sha256"}
	if got := listDir(t, dir); !slices.Equal(got, want) {
		t.Errorf("after Close the directory holds %q, want %q", got, want)
	}
	if f.Path() != filepath.Join(dir, want[0]) {
		t.Errorf("Path() = %q", f.Path())
	}

	data, err := os.ReadFile(f.Path())
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	line, _ := os.ReadFile(f.Path() + ChecksumSuffix)
	if wantLine := hex.EncodeToString(sum[:]) + "  alice@example.com.tgz\n"; string(line) != wantLine {
		t.Errorf("checksum file %q, want %q", line, wantLine)
	}
	if _, err := exec.LookPath("sha256sum"); err == nil {
		cmd := exec.Command("sha256sum", "-c", "alice@example.com.tgz.sha256")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("sha256sum -c: %v\n%s", err, out)
		}
	}
	if got, err := ReadChecksumFile(f.Path()); err != nil || got != hex.EncodeToString(sum[:]) {
		t.Errorf("ReadChecksumFile = %q, %v", got, err)
	}
	if _, _, err := readAll(data, nil); err != nil {
		t.Errorf("the archive written by Create does not read back: %v", err)
	}
}

func TestCreateRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	p := createSample(t, dir, nil)
	before, _ := os.ReadFile(p)
	_, err := Create(dir, testManifest(), nil)
	if err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("second Create: got %v, want an error naming %s", err, p)
	}
	if got := listDir(t, dir); len(got) != 2 {
		t.Errorf("a refused Create left %q", got)
	}
	// With Overwrite the archive is replaced.
	f, err := Create(dir, testManifest(), &CreateOptions{Overwrite: true, WriterOptions: WriterOptions{Compression: Gzip}})
	if err != nil {
		t.Fatal(err)
	}
	f.AddFolder(Folder{Kind: FolderMail, Path: "Only"})
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(p)
	if bytes.Equal(before, after) {
		t.Error("Overwrite did not replace the archive")
	}
	if _, err := Verify(context.Background(), p); err != nil {
		t.Errorf("the replaced archive does not verify: %v", err)
	}
}

func TestCreateRefusesWhenTheArchiveAppears(t *testing.T) {
	dir := t.TempDir()
	f, err := Create(dir, testManifest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "alice@example.com.tgz"), []byte("another run's"), 0o644)
	if err := f.Close(); err == nil {
		t.Fatal("Close replaced an archive that appeared meanwhile")
	}
	got, _ := os.ReadFile(filepath.Join(dir, "alice@example.com.tgz"))
	if string(got) != "another run's" {
		t.Errorf("the other archive was changed to %d bytes", len(got))
	}
	if names := listDir(t, dir); len(names) != 1 {
		t.Errorf("directory holds %q, want only the other archive", names)
	}
}

func TestAbort(t *testing.T) {
	for _, c := range []Compression{Gzip, Zstd} {
		dir := t.TempDir()
		f, err := Create(dir, testManifest(), &CreateOptions{WriterOptions: WriterOptions{Compression: c, SpillThreshold: 10}})
		if err != nil {
			t.Fatal(err)
		}
		f.AddFolder(Folder{Kind: FolderMail, Path: "INBOX"})
		f.AddItem(Item{Kind: KindMessage, Folder: "INBOX"}, strings.NewReader(strings.Repeat("spilled ", 100)))
		f.Abort()
		if got := listDir(t, dir); len(got) != 0 {
			t.Errorf("%s: Abort left %q", c, got)
		}
	}
}

// The name of an archive being written is told from every other name,
// whatever the user's name holds.
func TestIsTempName(t *testing.T) {
	for _, user := range []string{"alice@example.com", "a.tmp-b.tgz"} {
		dir := t.TempDir()
		m := testManifest()
		m.User = user
		f, err := Create(dir, m, nil)
		if err != nil {
			t.Fatal(err)
		}
		writing := listDir(t, dir)
		f.Abort()
		if len(writing) != 1 || !IsTempName(writing[0]) {
			t.Errorf("%s: while writing %q; want one name IsTempName knows", user, writing)
		}
	}
	for _, name := range []string{"alice.tgz", ".alice.tgz", ".keep", ".alice.tgz.sha256.tmp", "alice.tgz.tmp-1", ".alice.tmp-1", ".tmp-1"} {
		if IsTempName(name) {
			t.Errorf("IsTempName(%q) = true", name)
		}
	}
}

func TestCreateIncrementalName(t *testing.T) {
	dir := t.TempDir()
	m := testManifest()
	m.After = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	f, err := Create(dir, m, &CreateOptions{WriterOptions: WriterOptions{Compression: Zstd}})
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if want := "alice@example.com.after-20240102T030405Z.tar.zst"; path.Base(f.Path()) != want {
		t.Errorf("incremental archive named %q, want %q", path.Base(f.Path()), want)
	}
	v, err := Verify(context.Background(), f.Path())
	if err != nil {
		t.Fatal(err)
	}
	if !v.Manifest.After.Equal(m.After) {
		t.Errorf("manifest After = %v, want %v", v.Manifest.After, m.After)
	}
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := createSample(t, dir, nil)
	good, _ := os.ReadFile(p)

	v, err := Verify(ctx, p)
	if err != nil {
		t.Fatalf("Verify of a good archive: %v", err)
	}
	sum := sha256.Sum256(good)
	if !v.ChecksumFile || v.SHA256 != hex.EncodeToString(sum[:]) || v.Summary.Counts.Items() != len(sampleItems()) || v.Manifest.User != "alice@example.com" {
		t.Errorf("Verify = %+v", v)
	}

	t.Run("flipped byte", func(t *testing.T) {
		bad := slices.Clone(good)
		bad[len(bad)/2] ^= 0xff
		os.WriteFile(p, bad, 0o644)
		defer os.WriteFile(p, good, 0o644)
		_, err := Verify(ctx, p)
		var fe *Error
		if err == nil || !errors.As(err, &fe) || !strings.Contains(err.Error(), p) {
			t.Errorf("got %v, want an *Error naming %s", err, p)
		}
	})
	t.Run("trailing garbage", func(t *testing.T) {
		os.WriteFile(p, append(slices.Clone(good), "junk"...), 0o644)
		defer os.WriteFile(p, good, 0o644)
		_, err := Verify(ctx, p)
		checkErr(t, err, ErrChecksum, p, hex.EncodeToString(sum[:]))
	})
	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := Verify(cctx, p); !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
	})
	t.Run("bad checksum file", func(t *testing.T) {
		line, _ := os.ReadFile(p + ChecksumSuffix)
		defer os.WriteFile(p+ChecksumSuffix, line, 0o644)
		os.WriteFile(p+ChecksumSuffix, []byte(strings.Repeat("0", 64)+"  other.tgz\n"), 0o644)
		if _, err := Verify(ctx, p); err == nil || !strings.Contains(err.Error(), "other.tgz") && !strings.Contains(err.Error(), ChecksumSuffix) {
			t.Errorf("checksum file for another name: got %v", err)
		}
	})
	t.Run("missing checksum file", func(t *testing.T) {
		os.Remove(p + ChecksumSuffix)
		v, err := Verify(ctx, p)
		if err != nil || v.ChecksumFile {
			t.Errorf("got %+v, %v; want success with ChecksumFile false", v, err)
		}
		// Damage is still caught by the reader alone.
		bad := slices.Clone(good)
		bad[len(bad)/3] ^= 0x55
		os.WriteFile(p, bad, 0o644)
		if _, err := Verify(ctx, p); err == nil {
			t.Error("a damaged archive without a checksum file verified")
		}
	})
	t.Run("missing archive", func(t *testing.T) {
		if _, err := Verify(ctx, filepath.Join(dir, "nobody.tgz")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("got %v, want fs.ErrNotExist", err)
		}
	})
}

func TestReadChecksumFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.tgz")
	hexsum := strings.Repeat("ab", 32)
	tests := []struct {
		line string
		ok   bool
	}{
		{hexsum + "  a.tgz\n", true},
		{hexsum + " *a.tgz\n", true},
		{strings.ToUpper(hexsum) + "  a.tgz", true},
		{hexsum + "  b.tgz\n", false},
		{hexsum[:60] + "  a.tgz\n", false},
		{strings.Repeat("zz", 32) + "  a.tgz\n", false},
		{"", false},
	}
	for _, tt := range tests {
		os.WriteFile(p+ChecksumSuffix, []byte(tt.line), 0o644)
		got, err := ReadChecksumFile(p)
		if tt.ok && (err != nil || got != hexsum) {
			t.Errorf("ReadChecksumFile(%q) = %q, %v; want %q", tt.line, got, err, hexsum)
		}
		if !tt.ok && err == nil {
			t.Errorf("ReadChecksumFile(%q) = %q, want an error", tt.line, got)
		}
	}
}

func TestOpen(t *testing.T) {
	p := createSample(t, t.TempDir(), &CreateOptions{WriterOptions: WriterOptions{Compression: Zstd}})
	fr, err := Open(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer fr.Close()
	if fr.Compression() != Zstd || fr.Manifest().User != "alice@example.com" {
		t.Errorf("Open: compression %q user %q", fr.Compression(), fr.Manifest().User)
	}
	os.WriteFile(p, []byte("not an archive at all, just text that is long enough for a tar header? no."), 0o644)
	if _, err := Open(p, nil); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("Open of a text file: got %v, want an error naming it", err)
	}
}
