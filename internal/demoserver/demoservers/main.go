// Command demoservers runs the demo migration's target site in one process:
// an IMAP server, a CardDAV/CalDAV server and an SFTP server, all in memory
// on 127.0.0.1. It writes what a client needs into -dir (addresses in
// servers.env, password files, an SSH key and known_hosts) and serves
// until it is interrupted. .ci/demo.sh starts it; nothing else should.
package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/mailhaul/mailhaul/internal/demoserver"
)

// users of the demo target: login → password. The passwords are written
// to files, never passed on a command line.
var users = map[string]string{
	"alice@example.org": "alice-demo-password",
	"bob@example.net":   "bob-demo-password",
}

func main() {
	dir := flag.String("dir", "", "directory to write servers.env, passwords and keys into (required)")
	flag.Parse()
	if *dir == "" {
		log.Fatal("demoservers: -dir is required")
	}
	if err := run(*dir); err != nil {
		log.Fatal("demoservers: ", err)
	}
}

func run(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for login, pw := range users {
		if err := os.WriteFile(filepath.Join(dir, login+".password"), []byte(pw+"\n"), 0o600); err != nil {
			return err
		}
	}

	imapAddr, stopIMAP, err := demoserver.IMAP("127.0.0.1:0", users)
	if err != nil {
		return err
	}
	defer stopIMAP()
	davAddr, stopDAV, err := demoserver.DAV("127.0.0.1:0", users)
	if err != nil {
		return err
	}
	defer stopDAV()

	clientKey, err := writeClientKey(filepath.Join(dir, "id_ed25519"))
	if err != nil {
		return err
	}
	sftpAddr, hostKey, stopSFTP, err := demoserver.SFTP("127.0.0.1:0", "transfer", clientKey)
	if err != nil {
		return err
	}
	defer stopSFTP()
	line := knownhosts.Line([]string{knownhosts.Normalize(sftpAddr.String())}, hostKey)
	if err := os.WriteFile(filepath.Join(dir, "known_hosts"), []byte(line+"\n"), 0o600); err != nil {
		return err
	}

	env := fmt.Sprintf("IMAP_ADDR=%s\nDAV_ADDR=%s\nSFTP_ADDR=%s\n", imapAddr, davAddr, sftpAddr)
	if err := os.WriteFile(filepath.Join(dir, "servers.env.tmp"), []byte(env), 0o600); err != nil {
		return err
	}
	// The rename tells the waiting script that every server listens.
	if err := os.Rename(filepath.Join(dir, "servers.env.tmp"), filepath.Join(dir, "servers.env")); err != nil {
		return err
	}
	log.Printf("demo servers: IMAP %s, CardDAV/CalDAV http://%s/, SFTP %s", imapAddr, davAddr, sftpAddr)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return nil
}

// writeClientKey makes the key the demo's transfers log in with and
// returns its public half for the server to authorize.
func writeClientKey(path string) (ssh.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "mailhaul demo")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	return ssh.NewPublicKey(pub)
}
