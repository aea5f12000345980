// Package demoserver runs small in-process servers for the demo migration,
// so that a first-time user can watch export, transfer and import work end
// to end without a mail server of their own.
package demoserver

import (
	"errors"
	"fmt"
	"net"
	"sort"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// IMAP starts go-imap's in-memory IMAP server on addr (a loopback address;
// port 0 picks a free one) with the given users (login → password), each
// with an empty INBOX. It speaks plaintext and accepts passwords without
// TLS, which is why it refuses any address but loopback. It returns the
// address it listens on and a function that stops it.
//
// The memory server keeps appended messages byte for byte, but re-parses
// them on every FETCH of BODY[]: a message whose header go-message cannot
// parse (an mbox "From " line or a byte-order mark at the top, a first
// line that is not a header field, a header-only message without its blank
// line) reads back empty or with a CRLF added. Well-formed mail, such as
// the demo's sample messages, reads back exactly as sent.
func IMAP(addr string, users map[string]string) (net.Addr, func() error, error) {
	if len(users) == 0 {
		return nil, nil, errors.New("demoserver: IMAP with no users")
	}
	mem := imapmemserver.New()
	names := make([]string, 0, len(users))
	for u := range users {
		names = append(names, u)
	}
	sort.Strings(names)
	for _, name := range names {
		u := imapmemserver.NewUser(name, users[name])
		if err := u.Create("INBOX", nil); err != nil {
			return nil, nil, fmt.Errorf("demoserver: INBOX of %s: %w", name, err)
		}
		mem.AddUser(u)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("demoserver: listen on %s: %w", addr, err)
	}
	if ta, ok := ln.Addr().(*net.TCPAddr); !ok || !ta.IP.IsLoopback() {
		ln.Close()
		return nil, nil, fmt.Errorf("demoserver: %s is not a loopback address; the demo server sends passwords in plain text", addr)
	}
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		// What the memory server implements and the importer uses:
		// LITERAL+ so uploads do not wait, UIDPLUS for APPENDUID.
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapLiteralPlus: {}, imap.CapUIDPlus: {}},
		InsecureAuth: true, // loopback only, checked above
		Logger:       discard{},
	})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	stop := func() error {
		if err := srv.Close(); err != nil {
			return fmt.Errorf("demoserver: stop IMAP: %w", err)
		}
		<-served // Serve reports the closed listener; that is the point
		return nil
	}
	return ln.Addr(), stop, nil
}

// discard keeps the server's per-connection log lines off the demo's
// terminal.
type discard struct{}

func (discard) Printf(string, ...any) {}
