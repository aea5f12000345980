package sftp

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// hostKeys checks server keys against a known_hosts file. An unknown host
// is refused unless acceptNew, then its key is recorded; a key different
// from the recorded one is always refused.
type hostKeys struct {
	file      string
	acceptNew bool

	mu sync.Mutex
	cb ssh.HostKeyCallback // reloaded after recording a key
}

func newHostKeys(file string, acceptNew bool) (*hostKeys, error) {
	hk := &hostKeys{file: file, acceptNew: acceptNew}
	if err := hk.load(); err != nil {
		return nil, err
	}
	return hk, nil
}

func (hk *hostKeys) load() error {
	if _, err := os.Stat(hk.file); errors.Is(err, os.ErrNotExist) {
		hk.cb = func(string, net.Addr, ssh.PublicKey) error {
			return &knownhosts.KeyError{}
		}
		return nil
	}
	cb, err := knownhosts.New(hk.file)
	if err != nil {
		return fmt.Errorf("sftp: known hosts %s: %w", hk.file, err)
	}
	hk.cb = cb
	return nil
}

// algorithms returns the host key algorithms to offer for addr: those of
// the keys recorded for it. Without this, Go may negotiate a key type the
// file lacks and then report a mismatch that is not one (golang/go#29286).
// Nil (Go's default list) for an unknown host.
func (hk *hostKeys) algorithms(addr string) []string {
	hk.mu.Lock()
	cb := hk.cb
	hk.mu.Unlock()
	// Asking with a throwaway key makes the callback list the recorded ones.
	err := cb(addr, &net.TCPAddr{}, probeKey)
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) || len(ke.Want) == 0 {
		return nil
	}
	var algos []string
	seen := map[string]bool{}
	for _, k := range ke.Want {
		for _, a := range algorithmsFor(k.Key.Type()) {
			if !seen[a] {
				seen[a] = true
				algos = append(algos, a)
			}
		}
	}
	return algos
}

// algorithmsFor maps a key type to the signature algorithms that prove it:
// an RSA key signs with SHA-2 nowadays.
func algorithmsFor(keyType string) []string {
	if keyType == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{keyType}
}

// HostKeyError is a refused host key: unknown, changed or revoked. It is
// never retried.
type HostKeyError struct{ msg string }

func (e *HostKeyError) Error() string { return e.msg }

// check is the ssh.HostKeyCallback.
func (hk *hostKeys) check(hostname string, remote net.Addr, key ssh.PublicKey) error {
	err := hk.checkKey(hostname, remote, key)
	var hke *HostKeyError
	if err != nil && !errors.As(err, &hke) {
		err = &HostKeyError{err.Error()}
	}
	return err
}

func (hk *hostKeys) checkKey(hostname string, remote net.Addr, key ssh.PublicKey) error {
	hk.mu.Lock()
	defer hk.mu.Unlock()
	err := hk.cb(hostname, remote, key)
	var ke *knownhosts.KeyError
	var re *knownhosts.RevokedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &re):
		return fmt.Errorf("sftp: host key of %s (%s %s) is marked revoked in %s; refusing to connect", hostname, key.Type(), ssh.FingerprintSHA256(key), hk.file)
	case !errors.As(err, &ke):
		return fmt.Errorf("sftp: check host key of %s: %w", hostname, err)
	case len(ke.Want) > 0:
		var had []string
		for _, w := range ke.Want {
			had = append(had, fmt.Sprintf("%s %s (%s:%d)", w.Key.Type(), ssh.FingerprintSHA256(w.Key), w.Filename, w.Line))
		}
		return fmt.Errorf("sftp: HOST KEY CHANGED for %s: the server offers %s %s, but known_hosts has %s. "+
			"Refusing to connect: someone may be intercepting the connection. If the server's key really changed, "+
			"remove the old line and connect again with --accept-new-host-key",
			hostname, key.Type(), ssh.FingerprintSHA256(key), strings.Join(had, ", "))
	case !hk.acceptNew:
		return fmt.Errorf("sftp: host %s is not in %s (its %s key is %s). Check the fingerprint with the server's "+
			"administrator, then run again with --accept-new-host-key to record it", hostname, hk.file, key.Type(), ssh.FingerprintSHA256(key))
	}
	return hk.record(hostname, key)
}

// record appends the host's key to the known_hosts file and reloads it, so
// the other connections of this run find it.
func (hk *hostKeys) record(hostname string, key ssh.PublicKey) error {
	if err := os.MkdirAll(filepath.Dir(hk.file), 0o700); err != nil {
		return fmt.Errorf("sftp: record host key: %w", err)
	}
	f, err := os.OpenFile(hk.file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("sftp: record host key: %w", err)
	}
	_, err = fmt.Fprintln(f, knownhosts.Line([]string{knownhosts.Normalize(hostname)}, key))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sftp: record host key in %s: %w", hk.file, err)
	}
	return hk.load()
}

// probeKey is a key no server has (made from an all-zero seed); see
// algorithms.
var probeKey, _ = ssh.NewPublicKey(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public())
