package demoserver

import (
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"testing"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

func newKey(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSFTPServesFilesToTheAuthorizedKeyOnly(t *testing.T) {
	client := newKey(t)
	addr, hostKey, stop, err := SFTP("127.0.0.1:0", "transfer", client.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	dial := func(user string, key ssh.Signer) (*ssh.Client, error) {
		return ssh.Dial("tcp", addr.String(), &ssh.ClientConfig{
			User:            user,
			Auth:            []ssh.AuthMethod{ssh.PublicKeys(key)},
			HostKeyCallback: ssh.FixedHostKey(hostKey),
		})
	}
	if c, err := dial("transfer", newKey(t)); err == nil {
		c.Close()
		t.Error("a key that was not authorized logged in")
	}
	if c, err := dial("someone", client); err == nil {
		c.Close()
		t.Error("another user name logged in with the authorized key")
	}

	conn, err := dial("transfer", client)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sc, err := sftp.NewClient(conn)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if err := sc.MkdirAll("/incoming"); err != nil {
		t.Fatal(err)
	}
	// The transfer sets each directory it makes to 0700, as sftp-server allows.
	if err := sc.Chmod("/incoming", 0o700); err != nil {
		t.Errorf("chmod of a directory, which the transfer relies on: %v", err)
	}
	if err := sc.Chmod("/missing", 0o700); err == nil {
		t.Error("chmod of a missing path succeeded")
	}
	f, err := sc.Create("/incoming/a.tgz")
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("archive bytes"))
	f.Close()
	if err := sc.PosixRename("/incoming/a.tgz", "/incoming/b.tgz"); err != nil {
		t.Errorf("posix-rename, which the transfer relies on: %v", err)
	}
	g, err := sc.Open("/incoming/b.tgz")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(g)
	g.Close()
	if string(got) != "archive bytes" {
		t.Errorf("read back %q", got)
	}
}

func TestSFTPRefusesNonLoopback(t *testing.T) {
	if _, _, _, err := SFTP("0.0.0.0:0", "transfer", newKey(t).PublicKey()); err == nil {
		t.Error("the demo server must listen on loopback only")
	}
}
