package demoserver

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// SFTP starts an SSH server on addr (loopback only) that offers the SFTP
// subsystem over an in-memory file system, for the demo's transfer between
// two "sites". It admits one login, authenticated by the public key
// authorized, and returns its address, its host key (for known_hosts) and
// a function that stops it. Nothing is written to disk; it runs no
// commands, so clients must verify by reading back over SFTP.
func SFTP(addr string, user string, authorized ssh.PublicKey) (net.Addr, ssh.PublicKey, func() error, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, nil, nil, err
	}
	want := authorized.Marshal()
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(c ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if c.User() == user && string(key.Marshal()) == string(want) {
				return &ssh.Permissions{}, nil
			}
			return nil, fmt.Errorf("demoserver: key refused for %q", c.User())
		},
	}
	cfg.AddHostKey(signer)

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("demoserver: listen on %s: %w", addr, err)
	}
	if ta, ok := ln.Addr().(*net.TCPAddr); !ok || !ta.IP.IsLoopback() {
		ln.Close()
		return nil, nil, nil, fmt.Errorf("demoserver: %s is not a loopback address", addr)
	}
	files := sftp.InMemHandler() // shared by every connection: one "remote site"
	files.FileCmd = modeless{files.FileCmd, files.FileList}
	var wg sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				serveSSH(c, cfg, files)
			}()
		}
	}()
	stop := func() error {
		err := ln.Close()
		wg.Wait()
		return err
	}
	return ln.Addr(), signer.PublicKey(), stop, nil
}

// serveSSH runs one SSH connection: session channels that ask for the
// sftp subsystem get an SFTP server; anything else is refused.
func serveSSH(c net.Conn, cfg *ssh.ServerConfig, files sftp.Handlers) {
	defer c.Close()
	conn, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	defer conn.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, requests, err := nc.Accept()
		if err != nil {
			return
		}
		go func() {
			for req := range requests {
				ok := req.Type == "subsystem" && len(req.Payload) > 4 && string(req.Payload[4:]) == "sftp"
				req.Reply(ok, nil)
				if ok {
					srv := sftp.NewRequestServer(ch, files)
					if err := srv.Serve(); err != nil && !errors.Is(err, io.EOF) {
						srv.Close()
					}
					ch.Close()
					return
				}
			}
		}()
	}
}

// modeless answers a mode change on a directory as sftp-server does, with
// success: pkg/sftp's in-memory file system keeps no modes, and its
// Setstat opens the path for writing, which a directory refuses. mailhaul
// sets each directory it makes to 0700.
type modeless struct {
	sftp.FileCmder
	list sftp.FileLister
}

func (m modeless) Filecmd(r *sftp.Request) error {
	err := m.FileCmder.Filecmd(r)
	if err == nil || r.Method != "Setstat" || r.AttrFlags().Size {
		return err
	}
	l, serr := m.list.Filelist(&sftp.Request{Method: "Stat", Filepath: r.Filepath})
	if serr != nil {
		return err
	}
	fi := make([]os.FileInfo, 1)
	if n, _ := l.ListAt(fi, 0); n == 1 && fi[0].IsDir() {
		return nil
	}
	return err
}
