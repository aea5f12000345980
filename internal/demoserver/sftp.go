package demoserver

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
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
