package format

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestExtract(t *testing.T) {
	data := sampleArchive(t, Gzip)
	dir := filepath.Join(t.TempDir(), "out")
	r, err := NewReader(bytes.NewReader(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := Extract(context.Background(), r, dir); err != nil {
		t.Fatal(err)
	}

	// Every entry of the archive is a file with the same bytes.
	_, entries, err := readAll(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{manifestName: r.ManifestRaw()}
	for _, e := range entries {
		if e.Item != nil {
			want[e.MetaName] = e.Meta
			want[e.Name] = e.body
		} else {
			want[e.Name] = e.Meta
		}
	}
	got := map[string][]byte{}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		got[filepath.ToSlash(rel)], err = os.ReadFile(p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("extracted %d files, want %d", len(got), len(want))
	}
	for name, b := range want {
		if !bytes.Equal(got[name], b) {
			t.Errorf("%s: extracted %q, want %q", name, got[name], b)
		}
	}
	// Data files carry the received time.
	for _, e := range entries {
		if e.Item == nil {
			continue
		}
		fi, err := os.Stat(filepath.Join(dir, e.Name))
		if err != nil {
			t.Fatal(err)
		}
		if !fi.ModTime().Equal(e.Item.Received) {
			t.Errorf("%s: mtime %v, want received %v", e.Name, fi.ModTime().UTC(), e.Item.Received)
		}
	}
	// Empty folders exist as directories.
	if fi, err := os.Stat(filepath.Join(dir, "mail/Empty")); err != nil || !fi.IsDir() {
		t.Errorf("empty folder not extracted: %v", err)
	}
}

func TestExtractRefusesEscapes(t *testing.T) {
	for _, name := range []string{"../evil", "mail/../../evil", "/tmp/evil"} {
		parent := t.TempDir()
		dir := filepath.Join(parent, "out")
		ents := slices.Insert(validEnts(t), 2, ent{name: name, body: []byte("evil")})
		r, err := NewReader(bytes.NewReader(craftTar(t, ents)), &ReaderOptions{Name: "evil.tar"})
		if err != nil {
			t.Fatal(err)
		}
		err = Extract(context.Background(), r, dir)
		checkErr(t, err, ErrUnsafe, "evil.tar", name)
		if got := listDir(t, parent); !slices.Equal(got, []string{"out"}) {
			t.Errorf("%s: the parent directory holds %q", name, got)
		}
	}
	// Extract's own check, should a reader ever let such a name through.
	dir := t.TempDir()
	root, _ := os.OpenRoot(dir)
	defer root.Close()
	if err := writeRooted(root, "../evil", []byte("x"), testStarted); !errors.Is(err, ErrUnsafe) {
		t.Errorf("writeRooted(../evil) = %v, want ErrUnsafe", err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "evil")); err == nil {
		t.Error("writeRooted wrote outside its root")
	}
}

func TestExtractDoesNotOverwrite(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "mail/INBOX"), 0o755)
	keep := filepath.Join(dir, "mail/INBOX/00000001.eml")
	os.WriteFile(keep, []byte("mine"), 0o644)
	r, _ := NewReader(bytes.NewReader(craftTar(t, validEnts(t))), nil)
	if err := Extract(context.Background(), r, dir); !errors.Is(err, fs.ErrExist) {
		t.Errorf("got %v, want fs.ErrExist", err)
	}
	if b, _ := os.ReadFile(keep); string(b) != "mine" {
		t.Errorf("existing file overwritten with %q", b)
	}
}

func TestExtractRemovesBadData(t *testing.T) {
	dir := t.TempDir()
	ents := validEnts(t)
	ents[3].body = bytes.ToUpper(ents[3].body)
	r, _ := NewReader(bytes.NewReader(craftTar(t, ents)), nil)
	if err := Extract(context.Background(), r, dir); !errors.Is(err, ErrChecksum) {
		t.Fatalf("got %v, want ErrChecksum", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "mail/INBOX/00000001.eml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a data file that failed its checksum was left behind: %v", err)
	}
}

func TestExtractCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r, _ := NewReader(bytes.NewReader(craftTar(t, validEnts(t))), nil)
	if err := Extract(ctx, r, t.TempDir()); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

// What extract writes is private mail: every file 0600, every directory
// it creates 0700, the target directory included, whatever the umask.
func TestExtractIsPrivate(t *testing.T) {
	data := sampleArchive(t, Gzip)
	dir := filepath.Join(t.TempDir(), "new", "out")
	r, err := NewReader(bytes.NewReader(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := Extract(context.Background(), r, dir); err != nil {
		t.Fatal(err)
	}
	files, dirs := 0, 0
	err = filepath.WalkDir(filepath.Dir(dir), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		want := PrivateFile
		if d.IsDir() {
			want = PrivateDir
			dirs++
		} else {
			files++
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %#o, want %#o", p, fi.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 3 || dirs < 3 {
		t.Errorf("walked %d files and %d directories; the sample has more", files, dirs)
	}
}
