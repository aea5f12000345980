package sftp

import (
	"context"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/internal/testservers"
	"github.com/mailhaul/mailhaul/transport"
)

// dialCounter counts the SSH connections an endpoint opens and keeps
// them, so a test can cut them.
type dialCounter struct {
	n     atomic.Int32
	mu    sync.Mutex
	conns []net.Conn
}

func (d *dialCounter) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, addr)
	if err == nil {
		d.n.Add(1)
		d.mu.Lock()
		d.conns = append(d.conns, c)
		d.mu.Unlock()
	}
	return c, err
}

// cutAll closes every connection dialled so far, as a dropped link does.
func (d *dialCounter) cutAll() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.conns {
		c.Close()
	}
}

func pushMany(t *testing.T, n int) (src string, names []string) {
	t.Helper()
	src = t.TempDir()
	sizes := map[string]int{}
	for i := range n {
		name := "user" + itoa(i) + ".tgz"
		sizes[name] = 300<<10 + i
		names = append(names, name)
	}
	makeArchives(t, src, sizes)
	return src, names
}

// dialsForPush pushes 12 archives with the given number of transfers and
// returns how many SSH connections the endpoint opened; cfg and ep adjust
// the endpoint before and after it is made.
func dialsForPush(t *testing.T, transfers int, cfg func(*Config), ep func(*Endpoint)) int32 {
	t.Helper()
	s := testservers.StartSSHD(t, testservers.SSHDOptions{})
	src, names := pushMany(t, 12)
	remote := filepath.Join(t.TempDir(), "in")
	var d dialCounter
	e := sshdEndpoint(t, s, remote, func(c *Config) {
		c.Dial = d.dial
		if cfg != nil {
			cfg(c)
		}
	})
	if ep != nil {
		ep(e)
	}
	e.StartProbe()
	rep := run(t, context.Background(), e, true, src, remote, transport.Options{Transfers: transfers})
	if rep.Sent != len(names) {
		t.Fatalf("push: %+v", rep.Results)
	}
	sameFiles(t, src, remote, names...)
	return d.n.Load()
}

// On loopback, transfers share one connection, the one that listed the
// archives; the hashing shell adds one side connection.
func TestSSHDTransfersShareAConnectionOnAFastLink(t *testing.T) {
	if got := dialsForPush(t, 4, nil, nil); got != 2 {
		t.Errorf("%d SSH connections for 4 transfers on loopback, want 2 (one shared by the transfers, one side connection)", got)
	}
}

// Over a delayed link each transfer gets its own connection: one SSH
// channel is window-bound there.
func TestSSHDTransfersGetTheirOwnConnectionOnADelayedLink(t *testing.T) {
	delayed := func(e *Endpoint) { e.rtt.Store(int64(20 * time.Millisecond)) } // as measured on a delayed link
	// The listing connection is the first transfer's; two more for the
	// other transfers, one side connection for hashing.
	if got := dialsForPush(t, 3, nil, delayed); got != 4 {
		t.Errorf("%d SSH connections for 3 transfers on a delayed link, want 4", got)
	}
}

// Config.Connections caps the connections whatever the round trip: on a
// fast LAN to a many-core server, more than one pays.
func TestSSHDConnectionsCap(t *testing.T) {
	if got := dialsForPush(t, 4, func(c *Config) { c.Connections = 2 }, nil); got != 3 {
		t.Errorf("%d SSH connections for 4 transfers with Connections 2, want 3 (two for the transfers, one side connection)", got)
	}
}

// When the shared connection drops, every transfer on it retries over a
// new one and nothing is lost.
func TestSSHDSharedConnectionDropped(t *testing.T) {
	s := testservers.StartSSHD(t, testservers.SSHDOptions{})
	src, names := pushMany(t, 8)
	remote := filepath.Join(t.TempDir(), "in")
	var d dialCounter
	ep := sshdEndpoint(t, s, remote, func(c *Config) { c.Dial = d.dial })
	var once sync.Once
	obs := &attempts{onByte: func(total int64) {
		if total > 100<<10 {
			once.Do(d.cutAll)
		}
	}}
	rep := run(t, context.Background(), ep, true, src, remote, transport.Options{Transfers: 4, Observer: obs, Progress: obs.Progress})
	if rep.Sent != len(names) || rep.Failed != 0 {
		t.Fatalf("push with a dropped connection: sent %d failed %d: %+v", rep.Sent, rep.Failed, rep.Results)
	}
	sameFiles(t, src, remote, names...)
	retried := 0
	for _, r := range rep.Results {
		if r.Attempts > 1 {
			retried++
		}
	}
	if retried == 0 {
		t.Errorf("no transfer was retried: the cut did not hit the shared connection")
	}
}

// A lost side connection costs the hashing shell, not the transfers'
// connection: the next hash dials a new side connection.
func TestSSHDSideLinkLostLeavesTheDataLink(t *testing.T) {
	s := testservers.StartSSHD(t, testservers.SSHDOptions{})
	ctx := context.Background()
	dir := t.TempDir()
	makeArchives(t, dir, map[string]int{"a.tgz": 1000})
	ep := sshdEndpoint(t, s, dir, nil)
	tc, err := ep.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	c := tc.(*Conn)
	p := filepath.Join(dir, "a.tgz")
	if _, err := c.Sum(ctx, p); err != nil {
		t.Fatal(err)
	}
	ep.pool.mu.Lock()
	side := ep.pool.side
	ep.pool.mu.Unlock()
	side.ssh.Close() // as a dropped connection would
	if _, err := c.Sum(ctx, p); err == nil {
		t.Log("the hash after the drop succeeded (a new shell was at hand)")
	}
	if c.broken.Load() {
		t.Errorf("the side connection's loss marked the transfer's own connection broken")
	}
	if _, err := c.Sum(ctx, p); err != nil {
		t.Errorf("hash once the side connection was lost: %v; want a new side connection", err)
	}
}
