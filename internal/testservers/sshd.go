package testservers

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
)

// SSHD is a running OpenSSH sshd on 127.0.0.1, accepting one key for the
// current user, with its SFTP subsystem.
type SSHD struct {
	Port int
	User string
	// Identity is the client's private key file (no passphrase);
	// KnownHosts a known_hosts file holding the server's host key.
	Identity   string
	KnownHosts string
	// HostKeyLine is the server's public host key ("ssh-ed25519 AAAA...").
	HostKeyLine string
	Dir         string // scratch directory: config, keys, log
}

// SSHDOptions vary the server.
type SSHDOptions struct {
	// ReadOnly starts sftp-server with -R: every write is refused.
	ReadOnly bool
	// SFTPOnly forces internal-sftp on every session, as accounts that may
	// not run commands have: an exec request gets an SFTP server instead.
	SFTPOnly bool
}

// URL is sftp://USER@127.0.0.1:PORT/ followed by path (absolute).
func (s *SSHD) URL(path string) string {
	return fmt.Sprintf("sftp://%s@127.0.0.1:%d%s", s.User, s.Port, path)
}

// StartSSHD starts sshd with a fresh host key and client key, stopped when
// the test ends. Missing OpenSSH skips the test, or fails it under CI.
func StartSSHD(t testing.TB, opt SSHDOptions) *SSHD {
	t.Helper()
	sshd := Need(t, "/usr/sbin/sshd")
	keygen := Need(t, "ssh-keygen")
	sftpServer := "/usr/lib/openssh/sftp-server"
	if _, err := os.Stat(sftpServer); err != nil {
		Unavailable(t, "no "+sftpServer+": "+err.Error())
	}
	u, err := user.Current()
	if err != nil {
		t.Fatalf("testservers: current user: %v", err)
	}
	// sshd wants /run/sshd for privilege separation; only root can make it.
	if os.Geteuid() == 0 {
		os.MkdirAll("/run/sshd", 0o755)
	}
	dir := t.TempDir()
	s := &SSHD{Port: FreePort(t), User: u.Username, Dir: dir,
		Identity: filepath.Join(dir, "client_key"), KnownHosts: filepath.Join(dir, "known_hosts")}
	hostKey := filepath.Join(dir, "host_key")
	for _, k := range []string{hostKey, s.Identity} {
		if out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-C", "mailhaul-test", "-f", k).CombinedOutput(); err != nil {
			t.Fatalf("testservers: ssh-keygen: %v\n%s", err, out)
		}
	}
	clientPub, err := os.ReadFile(s.Identity + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	authorized := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authorized, clientPub, 0o600); err != nil {
		t.Fatal(err)
	}
	hostPub, err := os.ReadFile(hostKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(hostPub))
	s.HostKeyLine = fields[0] + " " + fields[1]
	known := fmt.Sprintf("[127.0.0.1]:%d %s\n", s.Port, s.HostKeyLine)
	if err := os.WriteFile(s.KnownHosts, []byte(known), 0o600); err != nil {
		t.Fatal(err)
	}
	subsystem := sftpServer
	if opt.ReadOnly {
		subsystem += " -R"
	}
	conf := filepath.Join(dir, "sshd_config")
	config := strings.Join([]string{
		"ListenAddress 127.0.0.1",
		fmt.Sprintf("Port %d", s.Port),
		"HostKey " + hostKey,
		"PidFile " + filepath.Join(dir, "sshd.pid"),
		"AuthorizedKeysFile " + authorized,
		"PermitRootLogin prohibit-password",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"UsePAM no",
		"StrictModes no",
		"MaxStartups 64",
		"MaxSessions 64",
		"Subsystem sftp " + subsystem,
	}, "\n") + "\n"
	if opt.SFTPOnly {
		config += "ForceCommand internal-sftp\n"
	}
	if err := os.WriteFile(conf, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(sshd, "-t", "-f", conf).CombinedOutput(); err != nil {
		Unavailable(t, fmt.Sprintf("sshd rejects the test configuration: %v: %s", err, out))
	}
	// -D: stay in the foreground so the test owns the process; -e: log to stderr.
	Start(t, exec.Command(sshd, "-D", "-e", "-f", conf), s.Port, filepath.Join(dir, "sshd.log"))
	return s
}
