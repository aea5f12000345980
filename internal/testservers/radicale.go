package testservers

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Radicale is a running Radicale CardDAV/CalDAV server.
type Radicale struct {
	URL     string // http://127.0.0.1:PORT/
	Storage string // its collection folder
}

// StartRadicale starts Radicale on 127.0.0.1 with a throwaway storage
// folder and the given users (login → password) in a plain htpasswd file,
// owner-only rights: each user's collections live under /<login>/.
func StartRadicale(t testing.TB, users map[string]string) *Radicale {
	t.Helper()
	bin := Need(t, "/usr/bin/radicale") // the module is not on every python3's path
	dir := t.TempDir()
	port := FreePort(t)
	var htpasswd strings.Builder
	logins := make([]string, 0, len(users))
	for u := range users {
		logins = append(logins, u)
	}
	sort.Strings(logins)
	for _, u := range logins {
		fmt.Fprintf(&htpasswd, "%s:%s\n", u, users[u])
	}
	pw := filepath.Join(dir, "users")
	storage := filepath.Join(dir, "collections")
	conf := filepath.Join(dir, "config")
	write(t, pw, htpasswd.String())
	write(t, conf, fmt.Sprintf(`[server]
hosts = 127.0.0.1:%d
[auth]
type = htpasswd
htpasswd_filename = %s
htpasswd_encryption = plain
delay = 0
[rights]
type = owner_only
[storage]
filesystem_folder = %s
[web]
type = none
[logging]
level = warning
`, port, pw, storage))
	cmd := exec.Command(bin, "--config", conf)
	Start(t, cmd, port, filepath.Join(dir, "radicale.log"))
	return &Radicale{URL: fmt.Sprintf("http://127.0.0.1:%d/", port), Storage: storage}
}

func write(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("testservers: %v", err)
	}
}
