package testservers

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// Xandikos is a running Xandikos CardDAV/CalDAV server. It has no
// authentication: any login reaches the single principal /user/, whose
// homes are /user/contacts/ and /user/calendars/.
type Xandikos struct {
	URL     string // http://127.0.0.1:PORT/
	Storage string
}

// StartXandikos starts Xandikos on 127.0.0.1 with a throwaway storage
// folder holding the default address book and calendar.
func StartXandikos(t testing.TB) *Xandikos {
	t.Helper()
	bin := Need(t, "xandikos")
	dir := t.TempDir()
	port := FreePort(t)
	storage := filepath.Join(dir, "data")
	cmd := exec.Command(bin, "-d", storage, "--defaults", "-l", "127.0.0.1", "-p", strconv.Itoa(port))
	Start(t, cmd, port, filepath.Join(dir, "xandikos.log"))
	return &Xandikos{URL: fmt.Sprintf("http://127.0.0.1:%d/", port), Storage: storage}
}
