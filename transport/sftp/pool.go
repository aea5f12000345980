package sftp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/mailhaul/mailhaul/transport"
)

// Every login costs the server: sshd starts a process for the connection
// and another for each session, in which the account's shell reads its rc
// files. On the test machine a connection cost 0.07 s of CPU and each
// session 0.1 s more (root's .bashrc runs pyenv). So an endpoint keeps its
// connections in a pool:
//
//   - Over a link with little delay, one connection carries as much as
//     several (the CPU is the limit, not the window), so every transfer
//     shares one connection and its one SFTP session.
//   - Over a delayed link, one SSH channel carries at most its window per
//     round trip, so each transfer gets a connection of its own.
//   - Small requests that must not wait behind bulk data go over a side
//     connection: the hashing shells, and fsync on a shared connection.
//     Within one connection everything queues in one TCP stream, and
//     sftp-server answers in turn, so an fsync there (tens of ms for a
//     large archive) would stall every transfer.
//
// A connection a transfer gives back stays open for the next: the one that
// listed the archives becomes the first transfer's.

// sharedBelow is the round trip under which transfers share a connection.
const sharedBelow = 5 * time.Millisecond

// link is one SSH connection with one SFTP session.
type link struct {
	ssh           *ssh.Client
	c             *sftp.Client
	dead          chan struct{} // closed when the SSH connection ends
	stopKeepalive func()

	maxPacket                   int // Config.MaxPacket
	posixRename, fsync, statvfs bool

	ready chan struct{} // closed when dialling ended; err says how
	err   error
	// broken: an error on it looked like a lost connection; it is lent to
	// no one else, and closed when its last user gives it back.
	broken atomic.Bool
	users  int // guarded by pool.mu

	// The side link starts its SFTP session on first use, for fsync:
	// shells have sessions of their own.
	sftpOnce sync.Once
	sftpErr  error
}

func (l *link) usable() bool {
	select {
	case <-l.ready:
		if l.err != nil {
			return false
		}
		select {
		case <-l.dead:
			return false
		default:
		}
	default: // still dialling
	}
	return !l.broken.Load()
}

func (l *link) close() {
	l.stopKeepalive()
	if l.c != nil {
		l.c.Close()
	}
	l.ssh.Close()
}

type pool struct {
	mu     sync.Mutex
	links  []*link // lent to transfers
	closed bool

	sideMu sync.Mutex // held while the side link is dialled
	side   *link
}

var errEndpointClosed = errors.New("sftp: endpoint closed")

// maxLinks is how many connections transfers may open; 0 means one each.
func (e *Endpoint) maxLinks() int {
	if e.cfg.Connections > 0 {
		return e.cfg.Connections
	}
	if rtt := e.RoundTrip(); rtt > 0 && rtt < sharedBelow {
		return 1
	}
	return 0
}

// shared reports whether another transfer uses l too.
func (e *Endpoint) shared(l *link) bool {
	e.pool.mu.Lock()
	defer e.pool.mu.Unlock()
	return l.users > 1
}

// acquire lends a connection to a transfer: an idle one, or a new one
// while maxLinks allows, or else the least used.
func (e *Endpoint) acquire(ctx context.Context) (*link, error) {
	p := &e.pool
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, errEndpointClosed
		}
		var best, pending *link
		usable := 0
		for _, l := range p.links {
			if !l.usable() {
				continue
			}
			usable++
			if best == nil || l.users < best.users {
				best = l
			}
			select {
			case <-l.ready:
			default:
				pending = l
			}
		}
		if pending != nil && e.RoundTrip() == 0 {
			// The first connection's round trip decides whether the
			// others share it: wait for it.
			p.mu.Unlock()
			select {
			case <-pending.ready:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if limit := e.maxLinks(); best != nil && (best.users == 0 || (limit > 0 && usable >= limit)) {
			best.users++
			p.mu.Unlock()
			return e.await(ctx, best)
		}
		l := &link{ready: make(chan struct{}), users: 1, maxPacket: e.cfg.MaxPacket}
		p.links = append(p.links, l)
		p.mu.Unlock()
		return e.dialInto(ctx, l, true)
	}
}

// sideLink lends the side connection, dialling it if there is none.
func (e *Endpoint) sideLink(ctx context.Context) (*link, error) {
	p := &e.pool
	p.sideMu.Lock()
	defer p.sideMu.Unlock()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errEndpointClosed
	}
	if l := p.side; l != nil && l.usable() {
		l.users++
		p.mu.Unlock()
		return l, nil
	}
	l := &link{ready: make(chan struct{}), users: 1, maxPacket: e.cfg.MaxPacket}
	p.side = l
	p.mu.Unlock()
	return e.dialInto(ctx, l, false)
}

// await waits until l, lent while being dialled, is ready.
func (e *Endpoint) await(ctx context.Context, l *link) (*link, error) {
	select {
	case <-l.ready:
	case <-ctx.Done():
		e.release(l)
		return nil, ctx.Err()
	}
	if l.err != nil {
		e.release(l)
		return nil, l.err
	}
	return l, nil
}

// dialInto dials l, which the pool already lists, and wakes whoever waits.
func (e *Endpoint) dialInto(ctx context.Context, l *link, withSFTP bool) (*link, error) {
	l.err = e.dialLink(ctx, l, withSFTP)
	close(l.ready)
	if l.err != nil {
		e.release(l)
		return nil, l.err
	}
	return l, nil
}

// release gives a connection back; the last user of a broken or dead one
// closes it, as it does every connection once the endpoint is closed.
func (e *Endpoint) release(l *link) {
	p := &e.pool
	p.mu.Lock()
	l.users--
	drop := l.users == 0 && (!l.usable() || p.closed)
	if drop {
		p.forget(l)
	}
	p.mu.Unlock()
	if drop && l.err == nil {
		l.close()
	}
}

// forget removes l from the pool; p.mu is held.
func (p *pool) forget(l *link) {
	if p.side == l {
		p.side = nil
	}
	for i, x := range p.links {
		if x == l {
			p.links = append(p.links[:i], p.links[i+1:]...)
			return
		}
	}
}

// close closes the connections no one uses and has the others closed
// when given back.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	var idle []*link
	for _, l := range append(append([]*link(nil), p.links...), p.side) {
		if l == nil {
			continue
		}
		select {
		case <-l.ready:
			if l.users == 0 {
				idle = append(idle, l)
				p.forget(l)
			}
		default:
		}
	}
	p.mu.Unlock()
	for _, l := range idle {
		if l.err == nil {
			l.close()
		}
	}
}

// sync fsyncs the file p through the side connection's sync session, for
// a transfer whose own connection others share.
func (e *Endpoint) sync(ctx context.Context, p string) error {
	l, err := e.sideLink(ctx)
	if err != nil {
		return err
	}
	defer e.release(l)
	if err := l.startSFTP(); err != nil {
		l.broken.Store(true)
		return transport.ConnLost(fmt.Errorf("sftp: start a session to sync %s: %w", p, err))
	}
	f, err := l.c.Open(p)
	if err == nil {
		err = f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	// Errors are the side link's: a lost one is marked broken, not the
	// transfer's own connection.
	return (&Conn{ep: e, link: l}).wrap("sync", p, err)
}

// dialLink logs in over a new SSH connection and, withSFTP, starts its
// SFTP session.
func (e *Endpoint) dialLink(ctx context.Context, l *link, withSFTP bool) error {
	client, err := e.dial(ctx)
	if err != nil {
		return err
	}
	if e.rtt.Load() == 0 {
		e.rtt.Store(int64(roundTrip(client)))
	}
	l.ssh, l.dead = client, make(chan struct{})
	go func() { client.Wait(); close(l.dead) }()
	l.stopKeepalive = keepalive(client, l.dead)
	if withSFTP {
		if err := l.startSFTP(); err != nil {
			l.close()
			return transport.ConnLost(fmt.Errorf("sftp: start SFTP on %s: %w", e.cfg.Target.Addr(), err))
		}
	}
	return nil
}

// readsInFlight bounds a download's requests in flight (pkg/sftp's
// WriteTo). Each holds a 255 KiB reply, twice over (the reply, and the
// copy waiting to be written), while the local disk holds writes back, as
// it does once a large file's dirty pages pile up: at 64 a pull of 8
// archives could hold 256 MiB. More than 16 would not go faster: the
// SSH channel's window (2 MiB) bounds what crosses per round trip, and 16
// requests ask for twice that (at 80 ms, 64 moved 73 MB no faster).
// Uploads keep 64 writes in flight (writesInFlight).
const readsInFlight = 16

// writesInFlight is an upload's requests in flight (pkg/sftp's
// ReadFromWithConcurrency); it holds buffers of the data it reads.
const writesInFlight = 64

// startSFTP starts the link's SFTP session once.
func (l *link) startSFTP() error {
	l.sftpOnce.Do(func() {
		packet := 32 << 10
		// OpenSSH's sftp-server takes messages up to 256 KiB; fewer,
		// larger requests cost less CPU per byte on both ends.
		if strings.Contains(string(l.ssh.ServerVersion()), "OpenSSH") {
			packet = 255 << 10
		}
		if l.maxPacket > 0 {
			packet = l.maxPacket
		}
		sc, err := sftp.NewClient(l.ssh,
			sftp.UseConcurrentWrites(true),
			sftp.UseConcurrentReads(true),
			sftp.MaxConcurrentRequestsPerFile(readsInFlight),
			sftp.MaxPacketUnchecked(packet),
		)
		if err != nil {
			l.sftpErr = err
			return
		}
		l.c = sc
		_, l.posixRename = sc.HasExtension("posix-rename@openssh.com")
		_, l.fsync = sc.HasExtension("fsync@openssh.com")
		_, l.statvfs = sc.HasExtension("statvfs@openssh.com")
	})
	return l.sftpErr
}

// roundTrip times a request the server answers at once (OpenSSH refuses
// it at once), three times, and keeps the shortest: the first answer
// after a login often comes 40 ms late (a delayed ACK), and a busy machine
// delays others, neither of which is the link. 0 if the server answers
// none.
func roundTrip(c *ssh.Client) time.Duration {
	var best time.Duration
	for range 3 {
		start := time.Now()
		if _, _, err := c.SendRequest("keepalive@openssh.com", true, nil); err != nil {
			break
		}
		if d := max(time.Since(start), 1); best == 0 || d < best {
			best = d
		}
	}
	return best
}
