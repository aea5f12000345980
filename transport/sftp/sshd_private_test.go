package sftp

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/internal/testservers"
	"github.com/mailhaul/mailhaul/transport"
)

// modeOnBytes records the mode of a file when the first bytes of a
// transfer have crossed: the partial file, while it is being written.
type modeOnBytes struct {
	path string
	once sync.Once
	mode fs.FileMode
	err  error
}

func (m *modeOnBytes) Start(transport.Job, int64, int64) {}
func (m *modeOnBytes) Bytes(transport.Job, int64) {
	m.once.Do(func() {
		fi, err := os.Stat(m.path)
		if err != nil {
			m.err = err
			return
		}
		m.mode = fi.Mode().Perm()
	})
}
func (m *modeOnBytes) Retry(transport.Job, int, error, time.Duration) {}
func (m *modeOnBytes) Done(transport.FileResult)                      {}

func wantMode(t *testing.T, p string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Error(err)
		return
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: mode %#o, want %#o", p, got, want)
	}
}

// Private mail stays private on the far side of a push: sftp-server
// creates files 0644 under its usual umask, so the partial file (checked
// while it is written), the archive and the directories push creates must
// be made the owner's alone. The server's directory is on this machine.
// A pull writes 0600 here, partial file included.
func TestSSHDTransfersKeepArchivesPrivate(t *testing.T) {
	s := testservers.StartSSHD(t, testservers.SSHDOptions{})
	ctx := context.Background()
	src, top, back := t.TempDir(), t.TempDir(), t.TempDir()
	makeArchives(t, src, map[string]int{"alice.tgz": 3 << 20})
	remote := filepath.Join(top, "incoming", "site")
	ep := sshdEndpoint(t, s, remote, nil)

	obs := &modeOnBytes{path: filepath.Join(remote, "alice.tgz"+transport.PartialSuffix)}
	rep := run(t, ctx, ep, true, src, remote, transport.Options{Observer: obs})
	if rep.Sent != 1 {
		t.Fatalf("push: %+v", rep.Results)
	}
	if obs.err != nil || obs.mode != 0o600 {
		t.Errorf("push: partial file on the server while written: mode %#o (%v), want 0600", obs.mode, obs.err)
	}
	wantMode(t, filepath.Join(remote, "alice.tgz"), 0o600)
	wantMode(t, remote, 0o700)
	wantMode(t, filepath.Join(top, "incoming"), 0o700)

	// A partial file left 0644 on the server is tightened when resumed.
	remote2 := t.TempDir()
	data, _ := os.ReadFile(filepath.Join(src, "alice.tgz"))
	os.WriteFile(filepath.Join(remote2, "alice.tgz"+transport.PartialSuffix), data[:2<<20], 0o644)
	obs = &modeOnBytes{path: filepath.Join(remote2, "alice.tgz"+transport.PartialSuffix)}
	rep = run(t, ctx, ep, true, src, remote2, transport.Options{Observer: obs, SegmentSize: 1 << 20})
	if rep.Sent != 1 || rep.Results[0].ResumedFrom != 2<<20 {
		t.Fatalf("resumed push: %+v", rep.Results)
	}
	if obs.err != nil || obs.mode != 0o600 {
		t.Errorf("resumed push: partial file while written: mode %#o (%v), want 0600", obs.mode, obs.err)
	}
	wantMode(t, filepath.Join(remote2, "alice.tgz"), 0o600)

	obs = &modeOnBytes{path: filepath.Join(back, "new", "alice.tgz"+transport.PartialSuffix)}
	rep = run(t, ctx, ep, false, remote, filepath.Join(back, "new"), transport.Options{Observer: obs})
	if rep.Sent != 1 {
		t.Fatalf("pull: %+v", rep.Results)
	}
	if obs.err != nil || obs.mode != 0o600 {
		t.Errorf("pull: partial file while written: mode %#o (%v), want 0600", obs.mode, obs.err)
	}
	wantMode(t, filepath.Join(back, "new", "alice.tgz"), 0o600)
	wantMode(t, filepath.Join(back, "new"), 0o700)
}
