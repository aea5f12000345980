// Package lease keeps two processes, on one machine or many, from working on
// the same user at once, with nothing but files in a shared directory: one
// lease file per user, created exclusively, naming its holder (host, pid,
// shard index, a random token) and renewed while held. A holder that dies
// stops renewing, its lease expires and another process takes it over; a
// holder that finds its lease taken stops work on that user (its context is
// cancelled).
//
// How it works, and what it assumes of the file system:
//
//   - Acquire writes the whole lease to a private file, then hard-links it to
//     the user's lease name. link(2) fails if the name exists, so exactly one
//     process creates a lease, and no reader ever sees a half-written one.
//     This is the open(2) manual's advice for exclusive lock files on NFS,
//     where a lost reply to a retransmitted LINK is recognised by the private
//     file's link count becoming 2.
//   - The expiry is the lease file's modification time plus the holder's TTL.
//     The holder renews by setting that time through its own open file
//     descriptor, so a renewal can only ever touch its own lease, never one
//     that replaced it. Every TTL/3 it first checks that the file at the lease
//     name is still its own (same inode); if not, the lease is lost.
//   - A holder that cannot renew for TTL−TTL/3 gives up by itself, before any
//     other process may consider its lease expired.
//   - A lease whose holder is dead is taken over at once, without waiting
//     for its TTL, when the holder ran on this host (its host is this
//     process's os.Hostname) and no process with its PID exists here (a
//     signal 0 finds none: ESRCH). So a run started again right after a
//     SIGKILL does not skip the dead run's users for a TTL. This assumes
//     that a host name names one PID namespace: a container's host name is
//     its own (Kubernetes pods and Docker containers get their own by
//     default); containers that share a lease directory must not share a
//     host name. A dead holder's PID reused by another process only makes
//     the lease look alive: it is then taken over when it expires, as
//     before. The dead holder is taken over as an expired one is, below.
//   - An expired (or dead) lease is taken over in three steps. The taker claims it by
//     linking its private file to a name made of the stale lease's token:
//     of several takers of one stale lease, one claims it and the others
//     back off (a claim older than TTL, left by a taker that died, is
//     cleared). The claimant checks that the stale lease is still in place,
//     renames it aside to a private name and checks that what moved is the
//     very file found expired (same inode, still expired); it deletes it and
//     links its own lease as above, where any other taker meets it and one
//     wins. If what moved is something else (a lease its holder renewed at
//     the last moment, or one created after a holder's release in that
//     instant), it links it back; should another process have linked a lease
//     meanwhile, the moved holder finds its lease gone at its next check and
//     stops. Release uses the same move-and-check to delete only its own
//     lease.
//
// Assumptions: the directory is on one file system that all processes
// share (a local disk, or NFSv3 or later, mounted with close-to-open
// consistency, the default: not "nocto"); every check opens the file, which
// revalidates NFS's cached attributes. Links and renames are decided by the
// server, so a client's stale cache of names can only delay a stalled
// holder's discovery that its lease was taken, never let two takers win;
// keep the TTL above the mount's acdirmax (60 s by default on Linux) if that
// delay matters. The clocks of the machines agree to well within TTL/3
// (NTP). A process paused longer than TTL/3 (SIGSTOP, a hung mount) may work
// up to one check interval after losing its lease: the lease makes two
// workers on one user rare and short, not impossible, and the per-user
// journals keep even that from importing anything twice.
//
// The caller's protocol: acquire the user's lease, then read the user's
// state, then work under the lease's context; a user found done is released
// at once, so a second process started for the same shard skips it.
//
// Files left by a process killed inside Acquire or a takeover (*.tmp,
// *.gone, *.done, *.claim) are a few bytes each and never read as leases.
package lease

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/mailhaul/mailhaul/internal/safename"
)

// DefaultTTL is how long a lease outlives its holder's last renewal: long
// enough to ride out a slow shared file system, short enough that a user of
// a killed process is taken over within a minute or two.
const DefaultTTL = time.Minute

var (
	// ErrHeld is matched by the error of Acquire when another process holds
	// the user's lease (a *HeldError says who and until when).
	ErrHeld = errors.New("lease: held by another process")
	// ErrLost is the cause of a lease's context when the lease was taken over
	// or could not be renewed in time.
	ErrLost = errors.New("lease: lost")
)

// Options say where leases live and who takes them.
type Options struct {
	Dir   string        // the shared directory; created if missing
	TTL   time.Duration // DefaultTTL if zero
	Shard int           // the taker's shard index, recorded for status and logs
	Host  string        // os.Hostname() if empty

	renewEvery time.Duration // TTL/3 if zero; tests stretch it
}

// Holder is what a lease file says about the process holding it.
type Holder struct {
	User     string    `json:"user"`
	Host     string    `json:"host"`
	PID      int       `json:"pid"`
	Shard    int       `json:"shard"`
	Token    string    `json:"token"`
	TTLMilli int64     `json:"ttl_ms"`
	Acquired time.Time `json:"acquired"`
}

func (h Holder) String() string {
	return fmt.Sprintf("host %s pid %d (shard %d)", h.Host, h.PID, h.Shard)
}

// HeldError is Acquire's error when a live lease names another holder.
type HeldError struct {
	User    string
	Holder  Holder
	Expires time.Time
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("lease: user %q is held by %s until %s", e.User, e.Holder, e.Expires.UTC().Format(time.RFC3339))
}

func (e *HeldError) Is(target error) bool { return target == ErrHeld }

// HeldBy names the holder (migrate.HeldBy reads it for its reports).
func (e *HeldError) HeldBy() string { return e.Holder.String() }

// Lease is one held lease. Its renewal runs until Release or until the lease
// is lost; both cancel the context Acquire returned with it.
type Lease struct {
	path   string
	f      *os.File
	fi     os.FileInfo
	holder Holder
	ttl    time.Duration
	every  time.Duration
	cancel context.CancelCauseFunc
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
	last   time.Time // the last renewal that worked; only the renewer touches it
}

// Path is where the lease file of user lives in dir.
func Path(dir, user string) string {
	return filepath.Join(dir, safename.Escape(user)+".lease")
}

// Acquire takes user's lease, or takes over an expired one, and starts
// renewing it. The returned context is ctx's child, cancelled with ErrLost as
// its cause if the lease is lost: do the user's work under it. A live lease of
// another holder gives a *HeldError (errors.Is ErrHeld); Acquire never waits.
func Acquire(ctx context.Context, o Options, user string) (*Lease, context.Context, error) {
	if o.Dir == "" {
		return nil, nil, errors.New("lease: no directory")
	}
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	if o.TTL < 10*time.Millisecond {
		return nil, nil, fmt.Errorf("lease: TTL %s is too short", o.TTL)
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if o.renewEvery == 0 {
		o.renewEvery = o.TTL / 3
	}
	if o.Host == "" {
		o.Host, _ = os.Hostname()
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("lease: %w", err)
	}
	var tok [16]byte
	rand.Read(tok[:])
	now := time.Now()
	h := Holder{User: user, Host: o.Host, PID: os.Getpid(), Shard: o.Shard, Token: hex.EncodeToString(tok[:]), TTLMilli: o.TTL.Milliseconds(), Acquired: now.UTC()}
	path := Path(o.Dir, user)
	tmp := path + "." + h.Token + ".tmp"
	f, err := writeLease(tmp, h, now)
	if err != nil {
		return nil, nil, err
	}
	defer os.Remove(tmp)
	held, err := link(user, tmp, path, h.Token, o.TTL, o.Host)
	if err == nil && !held {
		err = fmt.Errorf("%w: user %q: lost three races for an expired lease", ErrHeld, user)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("lease: %w", err)
	}
	lctx, cancel := context.WithCancelCause(ctx)
	l := &Lease{path: path, f: f, fi: fi, holder: h, ttl: o.TTL, every: o.renewEvery, cancel: cancel,
		stop: make(chan struct{}), done: make(chan struct{}), last: now}
	go l.renewLoop()
	return l, lctx, nil
}

// writeLease writes the whole lease to a new private file, dated now, and
// keeps it open: that descriptor is the holder's handle for renewals.
func writeLease(tmp string, h Holder, now time.Time) (*os.File, error) {
	b, _ := json.Marshal(h)
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lease: %w", err)
	}
	if _, err = f.Write(append(b, '\n')); err == nil {
		if err = f.Sync(); err == nil {
			err = touch(f, tmp, now)
		}
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("lease: write %s: %w", tmp, err)
	}
	return f, nil
}

// link makes tmp the lease at path, taking over an expired lease or one of
// a dead holder on this host (host is the taker's), in at most three
// rounds (each lost only to another taker winning a race).
func link(user, tmp, path, token string, ttl time.Duration, host string) (bool, error) {
	for range 3 {
		err := os.Link(tmp, path)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return false, fmt.Errorf("lease: %w", err)
		}
		if fi, serr := os.Stat(tmp); serr == nil && links(fi) == 2 {
			return true, nil // an NFS retransmission reported our own link as existing
		}
		fi, h, err := read(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue // released meanwhile
		}
		if err != nil && fi == nil {
			return false, err
		}
		exp := expires(fi, h, ttl)
		dead := func() bool { return deadHere(h, host) }
		if time.Now().Before(exp) && !dead() {
			return false, &HeldError{User: user, Holder: h, Expires: exp}
		}
		if err := takeOver(user, tmp, path, token, fi, h, ttl, dead); err != nil {
			return false, err
		}
	}
	return false, nil
}

// deadHere reports whether holder h ran on this host, as host names it
// (the taker's own name, which must be the machine's), and is gone.
func deadHere(h Holder, host string) bool {
	if h.Host == "" || h.Host != host {
		return false
	}
	if me, err := os.Hostname(); err != nil || me != host {
		return false
	}
	return processGone(h.PID)
}

// takeOver removes the expired lease fi (holder h, or one dead says is
// dead) from path. Takers first
// claim it: a link of their private file to a name made of the stale
// lease's token, so one taker at a time removes a given stale lease, and a
// late one, finding another lease in its place, leaves that alone. A claim
// older than ttl is left by a taker that died and is cleared. Whether the
// stale lease is gone or not, the caller's next link decides.
func takeOver(user, tmp, path, token string, fi os.FileInfo, h Holder, ttl time.Duration, dead func() bool) error {
	claim := path + "." + cmp.Or(h.Token, strconv.FormatInt(fi.ModTime().UnixNano(), 10)) + ".claim"
	if err := os.Link(tmp, claim); err != nil {
		if !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("lease: %w", err)
		}
		cfi, serr := os.Stat(claim)
		if serr == nil && time.Since(cfi.ModTime()) > ttl {
			_, err := moveIf(claim, claim+"."+token+".gone", cfi, func(os.FileInfo) bool { return true })
			return err
		}
		return fmt.Errorf("%w: user %q: another process is taking over the expired lease of %s", ErrHeld, user, h)
	}
	defer os.Remove(claim)
	if now, _, _ := read(path); now == nil || !os.SameFile(now, fi) {
		return nil // gone or replaced since it was read
	}
	// The file moved is fi itself (moveIf checks the inode), so h is
	// still its holder; the holder's death is checked again here.
	stale := func(now os.FileInfo) bool { return time.Now().After(expires(now, h, ttl)) || dead() }
	_, err := moveIf(path, path+"."+token+".gone", fi, stale)
	return err
}

// read opens the lease at path (which revalidates NFS's cached attributes)
// and returns its file info and holder. A lease it cannot parse still gives
// its file info, so it can expire like any other.
func read(path string) (os.FileInfo, Holder, error) {
	var h Holder
	f, err := os.Open(path)
	if err != nil {
		return nil, h, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, h, fmt.Errorf("lease: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err == nil {
		err = json.Unmarshal(b, &h)
	}
	if err != nil {
		return fi, h, fmt.Errorf("lease: read %s: %w", path, err)
	}
	return fi, h, nil
}

// expires is when the lease whose file info and holder are given expires: its
// modification time plus its holder's TTL, or fallback if it names none.
func expires(fi os.FileInfo, h Holder, fallback time.Duration) time.Time {
	ttl := time.Duration(h.TTLMilli) * time.Millisecond
	if ttl <= 0 {
		ttl = fallback
	}
	return fi.ModTime().Add(ttl)
}

// moveIf removes the file at path if it is want and ok still holds for it.
// Renaming is atomic, so whatever moved is examined at the private name
// aside; if it is not the file meant, it is linked back unless another
// lease has appeared at path meanwhile.
func moveIf(path, aside string, want os.FileInfo, ok func(os.FileInfo) bool) (bool, error) {
	if err := os.Rename(path, aside); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return false, fmt.Errorf("lease: %w", err)
		}
		if _, serr := os.Lstat(aside); serr != nil {
			return false, nil // nothing there: someone else moved it
		} // else an NFS retransmission reported our own rename as failed
	}
	defer os.Remove(aside)
	fi, _, err := read(aside)
	if fi != nil && os.SameFile(fi, want) && ok(fi) {
		return true, nil
	}
	if lerr := os.Link(aside, path); lerr != nil && !errors.Is(lerr, fs.ErrExist) {
		return false, fmt.Errorf("lease: put back %s: %w", path, lerr)
	}
	if fi == nil {
		return false, err
	}
	return false, nil
}

// Holder is who this lease says holds it.
func (l *Lease) Holder() Holder { return l.holder }

func (l *Lease) renewLoop() {
	defer close(l.done)
	t := time.NewTicker(l.every)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			if !l.tick(time.Now()) {
				return
			}
		}
	}
}

// tick renews the lease, or cancels its context with the reason it is lost.
func (l *Lease) tick(now time.Time) bool {
	if err := l.renew(now); err != nil {
		l.cancel(err)
		return false
	}
	return true
}

// renew checks that the lease is still this holder's and moves its expiry
// on. An I/O error is tolerated until others could see the lease expire; the
// error it returns is the lease's loss.
func (l *Lease) renew(now time.Time) error {
	err := l.check()
	if err == nil {
		if err = touch(l.f, l.path, now); err == nil {
			l.last = now
			return nil
		}
	}
	if errors.Is(err, ErrLost) {
		return err
	}
	if now.Sub(l.last) >= l.ttl-l.ttl/3 {
		return fmt.Errorf("%w: user %q: not renewed since %s: %v", ErrLost, l.holder.User, l.last.UTC().Format(time.RFC3339), err)
	}
	return nil
}

// check tells whether the file at the lease's name is still this holder's.
// A missing file is looked for again twice, briefly: a taker that moved it
// by mistake puts it back within moments.
func (l *Lease) check() error {
	for try := 0; ; try++ {
		fi, h, err := read(l.path)
		if fi != nil {
			if os.SameFile(fi, l.fi) {
				return nil
			}
			return fmt.Errorf("%w: user %q: taken over by %s", ErrLost, l.holder.User, h)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if try == 2 {
			return fmt.Errorf("%w: user %q: the lease file is gone", ErrLost, l.holder.User)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Release stops renewing and deletes the lease if it is still this holder's;
// it cancels the lease's context. It returns an error matching ErrLost if the
// lease had been lost (another holder's lease is left alone). Calling it again
// does nothing.
func (l *Lease) Release() error {
	var err error
	l.once.Do(func() {
		close(l.stop)
		<-l.done
		mine := func(os.FileInfo) bool { return true }
		var gone bool
		gone, err = moveIf(l.path, l.path+"."+l.holder.Token+".done", l.fi, mine)
		if err == nil && !gone {
			err = fmt.Errorf("%w: user %q: released after another process took it over", ErrLost, l.holder.User)
		}
		if cerr := l.f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("lease: %w", cerr)
		}
		l.cancel(context.Canceled)
	})
	return err
}

// Info is a lease as a reader (status) sees it.
type Info struct {
	Holder
	Expires time.Time
}

// Read returns the lease of user in dir; an error matching fs.ErrNotExist if
// there is none.
func Read(dir, user string) (Info, error) {
	fi, h, err := read(Path(dir, user))
	if err != nil {
		return Info{}, err
	}
	return Info{Holder: h, Expires: expires(fi, h, DefaultTTL)}, nil
}
