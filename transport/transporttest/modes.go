package transporttest

import (
	"io/fs"
	"os"
	"sync"
	"testing"

	"github.com/mailhaul/mailhaul/progress"
)

// ModeOnBytes records the mode of the file at Path when the first bytes
// of a transfer have crossed: the partial file, while it is being
// written. Its Progress method is the run's transport.Options.Progress.
type ModeOnBytes struct {
	Path  string
	Mode  fs.FileMode
	Err   error
	mu    sync.Mutex
	start int64 // the first event's bytes: what was there before
	seen  bool
	once  sync.Once
}

func (m *ModeOnBytes) Progress(e progress.Event) {
	m.mu.Lock()
	if !m.seen {
		m.start, m.seen = e.Bytes, true
	}
	crossed := e.Bytes > m.start
	m.mu.Unlock()
	if !crossed {
		return
	}
	m.once.Do(func() {
		fi, err := os.Stat(m.Path)
		if err != nil {
			m.Err = err
			return
		}
		m.Mode = fi.Mode().Perm()
	})
}

// WantMode fails the test unless the file or directory p has mode want.
func WantMode(t testing.TB, p string, want fs.FileMode) {
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

// WantPrivate fails the test unless the partial file was the owner's
// alone (0600) while it was written; what names the transfer.
func (m *ModeOnBytes) WantPrivate(t testing.TB, what string) {
	t.Helper()
	if m.Err != nil || m.Mode != 0o600 {
		t.Errorf("%s: partial file %s while written: mode %#o (%v), want 0600", what, m.Path, m.Mode, m.Err)
	}
}
