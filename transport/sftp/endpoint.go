// Package sftp is the transport endpoint for an SFTP server, built on
// pkg/sftp used the fast way: concurrent writes fed by
// ReadFromWithConcurrency, downloads through WriteTo, large packets for
// OpenSSH, one SSH connection per concurrent transfer. Host keys are
// checked against known_hosts; see Config.
package sftp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/mailhaul/mailhaul/transport"
)

// Config says how to reach and log in to the server.
type Config struct {
	Target Target
	// Identities are private key files; empty means OpenSSH's defaults.
	Identities []string
	// Passphrase returns the passphrase of an encrypted key file (from a
	// file, the environment or the terminal; the CLI decides).
	// PassphraseGiven says it comes from somewhere other than a prompt,
	// so default keys may use it too.
	Passphrase      func(keyFile string) ([]byte, error)
	PassphraseGiven bool
	NoAgent         bool
	// Password, if not empty, is offered after keys (never from the URL).
	Password string
	// KnownHosts is the known_hosts file (default ~/.ssh/known_hosts);
	// AcceptNewHostKey records the key of a host not in it yet.
	KnownHosts       string
	AcceptNewHostKey bool
	// NoRemoteCommands: never run a hashing command on the server; verification
	// then reads the bytes back over SFTP.
	NoRemoteCommands bool
	// Connections caps the SSH connections transfers open; 0 chooses by
	// the link's round trip: one shared by all over a fast link, one per
	// transfer over a delayed one (pool.go).
	Connections int
	// MaxPacket is the SFTP data size per request; 0 picks 255 KiB for
	// OpenSSH servers and pkg/sftp's 32 KiB otherwise.
	MaxPacket int
	// Dial opens the network connection (tests wrap it); nil dials TCP.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Timeout bounds connecting and logging in (default 30s).
	Timeout time.Duration
}

// Endpoint is an SFTP server. Make it with New; Close it when done.
type Endpoint struct {
	cfg       Config
	auth      []ssh.AuthMethod
	agentConn net.Conn
	hostKeys  *hostKeys

	pool    pool         // the SSH connections (pool.go)
	hashing hashing      // the server's hashing command and shells (hash.go, shell.go)
	rtt     atomic.Int64 // first measured round trip (ns); 0 before any connection
	// bg bounds work the endpoint starts on its own (StartProbe); Close
	// ends it.
	bg     context.Context
	stopBg context.CancelFunc
}

// New prepares an endpoint: reads the keys (asking for passphrases now,
// not in the middle of a transfer) and the known_hosts file.
func New(cfg Config) (*Endpoint, error) {
	if cfg.KnownHosts == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("sftp: no --known-hosts given and no home directory: %w", err)
		}
		cfg.KnownHosts = filepath.Join(home, ".ssh", "known_hosts")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	hk, err := newHostKeys(cfg.KnownHosts, cfg.AcceptNewHostKey)
	if err != nil {
		return nil, err
	}
	auth, agentConn, err := authMethods(&cfg)
	if err != nil {
		return nil, err
	}
	bg, stop := context.WithCancel(context.Background())
	return &Endpoint{cfg: cfg, auth: auth, agentConn: agentConn, hostKeys: hk, bg: bg, stopBg: stop}, nil
}

func (e *Endpoint) String() string { return e.cfg.Target.String() }

// RoundTrip is the link's round trip, timed on the first connection made
// (0 before any; see roundTrip in pool.go): it decides whether transfers
// share a connection.
func (e *Endpoint) RoundTrip() time.Duration { return time.Duration(e.rtt.Load()) }

// Delayed reports whether the link's round trip makes transfers take
// connections of their own (pool.go): there one SSH channel is
// window-bound, and a large archive gains from several.
func (e *Endpoint) Delayed() bool { return e.RoundTrip() >= sharedBelow }

// Path is the directory or file the URL named.
func (e *Endpoint) Path() string { return e.cfg.Target.Path }

// Close ends the hashing shells and the connections no transfer holds
// (the others close when given back), and releases the agent connection.
func (e *Endpoint) Close() error {
	e.stopBg()
	e.hashing.close()
	e.pool.close()
	if e.agentConn != nil {
		return e.agentConn.Close()
	}
	return nil
}

// Connect lends a connection to a transfer (see pool.go).
func (e *Endpoint) Connect(ctx context.Context) (transport.Conn, error) {
	l, err := e.acquire(ctx)
	if err != nil {
		return nil, err
	}
	return &Conn{ep: e, link: l}, nil
}

// dial opens a new SSH connection and logs in.
func (e *Endpoint) dial(ctx context.Context) (*ssh.Client, error) {
	t := e.cfg.Target
	addr := t.Addr()
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	dial := e.cfg.Dial
	if dial == nil {
		d := &net.Dialer{KeepAlive: 15 * time.Second}
		dial = d.DialContext
	}
	nc, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, transport.ConnLost(fmt.Errorf("sftp: connect to %s: %w", addr, err))
	}
	// The SSH handshake takes no context: a deadline bounds it instead.
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	sc, chans, reqs, err := ssh.NewClientConn(nc, addr, &ssh.ClientConfig{
		User:              t.User,
		Auth:              e.auth,
		HostKeyCallback:   e.hostKeys.check,
		HostKeyAlgorithms: e.hostKeys.algorithms(addr),
		Config:            ssh.Config{Ciphers: ciphers()},
		Timeout:           e.cfg.Timeout,
	})
	stop()
	if err != nil {
		nc.Close()
		return nil, loginError(addr, t.User, err)
	}
	nc.SetDeadline(time.Time{})
	return ssh.NewClient(sc, chans, reqs), nil
}

// loginError explains a failed handshake; host key errors are already
// explicit, authentication failures are not.
func loginError(addr, user string, err error) error {
	var hke *HostKeyError
	switch {
	case errors.As(err, &hke):
		return hke
	case strings.Contains(err.Error(), "unable to authenticate"):
		return fmt.Errorf("sftp: log in to %s as %s: refused (no key or password was accepted): %w", addr, user, err)
	}
	return transport.ConnLost(fmt.Errorf("sftp: connect to %s: %w", addr, err))
}

// keepalive asks the server for a reply every 15 s and closes the
// connection when none comes within 30 s, so a dead link surfaces as an
// error (and a retry) rather than a hang.
func keepalive(c *ssh.Client, dead <-chan struct{}) func() {
	stop := make(chan struct{})
	go func() {
		tick := time.NewTicker(15 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-dead:
				return
			case <-tick.C:
			}
			reply := make(chan error, 1)
			go func() {
				_, _, err := c.SendRequest("keepalive@openssh.com", true, nil)
				reply <- err
			}()
			select {
			case err := <-reply:
				if err != nil {
					c.Close()
					return
				}
			case <-time.After(30 * time.Second):
				c.Close()
				return
			case <-stop:
				return
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(stop) }) }
}
