// Package gmailfake is an IMAP server that behaves as Gmail does towards
// a client reading a mailbox, for tests: it holds messages, not folders,
// and shows each label as a folder, as Google documents its IMAP
// extensions (developers.google.com/gmail/imap/imap-extensions):
//
//   - CAPABILITY offers X-GM-EXT-1; LIST always carries the special-use
//     attributes: [Gmail]/All Mail \All, Drafts \Drafts, Important
//     \Important, Sent Mail \Sent, Spam \Junk, Starred \Flagged, Trash
//     \Trash, under a \Noselect [Gmail];
//   - INBOX shows the messages labelled \Inbox, [Gmail]/Sent Mail those
//     labelled \Sent (and so on for \Draft, \Important, \Starred), a
//     user label's folder those carrying it, and [Gmail]/All Mail every
//     message that is neither in Spam nor in Trash;
//   - each folder has its own UIDs, and a message has one X-GM-MSGID in
//     every folder that shows it; FETCH answers X-GM-LABELS (the system
//     labels quoted with their backslash, user labels in modified UTF-7,
//     as a literal when they hold a quote or a backslash), X-GM-MSGID and
//     X-GM-THRID, and the standard items go-imap asks for.
//
// It is read-only (EXAMINE and SELECT alike) and small: LOGIN, LIST,
// STATUS, SELECT, UID SEARCH (ALL, SINCE, UID) and UID FETCH, enough for
// export imap and go-imap's client.
package gmailfake

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mailhaul/mailhaul/internal/imapconn"
	"github.com/mailhaul/mailhaul/internal/mutf7"
)

// Message is one message of the mailbox.
type Message struct {
	Body  []byte
	Flags []string // \Seen, \Flagged, keywords
	Date  time.Time
	// Labels are Gmail's: the system labels \Inbox, \Sent, \Draft,
	// \Important, \Starred, and user label names ("Work/2024").
	Labels []string
	// Spam and Trash put the message in [Gmail]/Spam or [Gmail]/Trash,
	// out of All Mail and every label's folder.
	Spam, Trash bool
}

// Server is a running fake Gmail on 127.0.0.1.
type Server struct {
	Addr           string
	user, password string
	msgs           []Message
	folders        []mailbox
	ln             net.Listener
	wg             sync.WaitGroup
	mu             sync.Mutex
	conns          map[net.Conn]bool
}

// mailbox is a folder as LIST shows it.
type mailbox struct {
	name  string
	attrs string
	label string                // the system label it shows, or the user label (its name)
	in    func(m *Message) bool // whether the folder shows m
	msgs  []int                 // indexes into Server.msgs; UID = position + 1
	valid uint32                // UIDVALIDITY
}

// Start serves msgs to user with password until Close. Labels lists user
// labels that exist even when no message carries them.
func Start(user, password string, msgs []Message, labels ...string) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: ln.Addr().String(), user: user, password: password, msgs: msgs, ln: ln, conns: map[net.Conn]bool{}}
	s.build(labels)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[c] = true
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer func() {
					s.mu.Lock()
					delete(s.conns, c)
					s.mu.Unlock()
					c.Close()
				}()
				s.serve(c)
			}()
		}
	}()
	return s, nil
}

// Close stops the server; open connections end.
func (s *Server) Close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func has(m *Message, label string) bool {
	return slices.ContainsFunc(m.Labels, func(l string) bool { return strings.EqualFold(l, label) }) && !m.Spam && !m.Trash
}

func (s *Server) build(extra []string) {
	sys := func(label string) func(*Message) bool { return func(m *Message) bool { return has(m, label) } }
	s.folders = []mailbox{
		{name: "INBOX", attrs: `\HasNoChildren`, label: `\Inbox`, in: sys(`\Inbox`)},
		{name: "[Gmail]", attrs: `\HasChildren \Noselect`},
		{name: "[Gmail]/All Mail", attrs: `\HasNoChildren \All`, in: func(m *Message) bool { return !m.Spam && !m.Trash }},
		{name: "[Gmail]/Drafts", attrs: `\HasNoChildren \Drafts`, label: `\Draft`, in: sys(`\Draft`)},
		{name: "[Gmail]/Important", attrs: `\HasNoChildren \Important`, label: `\Important`, in: sys(`\Important`)},
		{name: "[Gmail]/Sent Mail", attrs: `\HasNoChildren \Sent`, label: `\Sent`, in: sys(`\Sent`)},
		{name: "[Gmail]/Spam", attrs: `\HasNoChildren \Junk`, in: func(m *Message) bool { return m.Spam }},
		{name: "[Gmail]/Starred", attrs: `\HasNoChildren \Flagged`, label: `\Starred`, in: sys(`\Starred`)},
		{name: "[Gmail]/Trash", attrs: `\HasNoChildren \Trash`, in: func(m *Message) bool { return m.Trash }},
	}
	user := slices.Clone(extra)
	for _, m := range s.msgs {
		for _, l := range m.Labels {
			if !strings.HasPrefix(l, `\`) {
				user = append(user, l)
			}
		}
	}
	slices.Sort(user)
	for _, l := range slices.Compact(user) {
		s.folders = append(s.folders, mailbox{name: l, attrs: `\HasNoChildren`, label: l, in: sys(l)})
	}
	for i := range s.folders {
		f := &s.folders[i]
		f.valid = uint32(11 + i)
		if f.in == nil {
			continue
		}
		for j := range s.msgs {
			if f.in(&s.msgs[j]) {
				f.msgs = append(f.msgs, j)
			}
		}
	}
}

func (s *Server) find(name string) *mailbox {
	for i := range s.folders {
		if s.folders[i].name == name && s.folders[i].in != nil {
			return &s.folders[i]
		}
	}
	return nil
}

// session is one client's connection.
type session struct {
	s      *Server
	r      *bufio.Reader
	w      *bufio.Writer
	authed bool
	sel    *mailbox
}

func (s *Server) serve(c net.Conn) {
	ss := &session{s: s, r: bufio.NewReader(c), w: bufio.NewWriter(c)}
	ss.out("* OK Gimap ready for requests from 127.0.0.1")
	for {
		c.SetDeadline(time.Now().Add(time.Minute))
		toks, err := ss.readCommand()
		if err != nil {
			return
		}
		if len(toks) < 2 {
			ss.out("* BAD empty command")
			continue
		}
		tag, verb, args := toks[0].Text, strings.ToUpper(toks[1].Text), toks[2:]
		if verb == "UID" && len(args) > 0 {
			verb, args = "UID "+strings.ToUpper(args[0].Text), args[1:]
		}
		if ss.run(tag, verb, args) {
			return
		}
	}
}

func (ss *session) out(format string, a ...any) {
	fmt.Fprintf(ss.w, format+"\r\n", a...)
	ss.w.Flush()
}

const caps = "IMAP4rev1 AUTH=PLAIN UNSELECT IDLE NAMESPACE QUOTA ID XLIST CHILDREN X-GM-EXT-1 UIDPLUS"

// run answers one command; true ends the session.
func (ss *session) run(tag, verb string, args []imapconn.Field) bool {
	ok := func(text string) { ss.out("%s OK %s", tag, text) }
	switch {
	case verb == "CAPABILITY":
		ss.out("* CAPABILITY " + caps)
		ok("Success")
	case verb == "NOOP":
		ok("Success")
	case verb == "LOGOUT":
		ss.out("* BYE LOGOUT Requested")
		ok("73")
		return true
	case verb == "ID":
		ss.out(`* ID ("name" "GImap" "vendor" "Google, Inc.")`)
		ok("Success")
	case verb == "AUTHENTICATE" && len(args) >= 1 && strings.EqualFold(args[0].Text, "PLAIN"):
		ir := ""
		if len(args) > 1 {
			ir = args[1].Text
		} else {
			ss.out("+ ")
			line, err := ss.r.ReadString('\n')
			if err != nil {
				return true
			}
			ir = strings.TrimRight(line, "\r\n")
		}
		dec, _ := base64.StdEncoding.DecodeString(ir)
		parts := strings.Split(string(dec), "\x00")
		if len(parts) != 3 || parts[1] != ss.s.user || parts[2] != ss.s.password {
			ss.out("%s NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)", tag)
			return false
		}
		ss.authed = true
		ss.out("%s OK [CAPABILITY %s] %s authenticated (Success)", tag, caps, ss.s.user)
	case verb == "LOGIN":
		if len(args) != 2 || args[0].Text != ss.s.user || args[1].Text != ss.s.password {
			ss.out("%s NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)", tag)
			return false
		}
		ss.authed = true
		ss.out("%s OK [CAPABILITY %s] %s authenticated (Success)", tag, caps, ss.s.user)
	case !ss.authed:
		ss.out("%s BAD not logged in", tag)
	case verb == "LIST" || verb == "XLIST":
		for _, f := range ss.s.folders {
			ss.out(`* %s (%s) "/" %s`, verb, f.attrs, quote(mutf7.Encode(f.name)))
		}
		ok("Success")
	case verb == "STATUS" && len(args) == 2:
		f := ss.s.find(decode(args[0].Text))
		if f == nil {
			ss.out("%s NO [NONEXISTENT] Unknown Mailbox", tag)
			return false
		}
		var items []string
		for _, it := range args[1].List {
			switch strings.ToUpper(it.Text) {
			case "MESSAGES":
				items = append(items, "MESSAGES "+strconv.Itoa(len(f.msgs)))
			case "UIDNEXT":
				items = append(items, "UIDNEXT "+strconv.Itoa(len(f.msgs)+1))
			case "UIDVALIDITY":
				items = append(items, "UIDVALIDITY "+strconv.Itoa(int(f.valid)))
			case "UNSEEN":
				items = append(items, "UNSEEN 0")
			}
		}
		ss.out("* STATUS %s (%s)", quote(args[0].Text), strings.Join(items, " "))
		ok("Success")
	case (verb == "SELECT" || verb == "EXAMINE") && len(args) >= 1:
		f := ss.s.find(decode(args[0].Text))
		if f == nil {
			ss.sel = nil
			ss.out("%s NO [NONEXISTENT] Unknown Mailbox", tag)
			return false
		}
		ss.sel = f
		ss.out(`* FLAGS (\Answered \Flagged \Draft \Deleted \Seen $NotPhishing $Phishing)`)
		ss.out("* OK [PERMANENTFLAGS ()] Flags permitted.")
		ss.out("* OK [UIDVALIDITY %d] UIDs valid.", f.valid)
		ss.out("* %d EXISTS", len(f.msgs))
		ss.out("* 0 RECENT")
		ss.out("* OK [UIDNEXT %d] Predicted next UID.", len(f.msgs)+1)
		ok("[READ-ONLY] " + f.name + " selected. (Success)")
	case verb == "UNSELECT" || verb == "CLOSE":
		ss.sel = nil
		ok("Success")
	case ss.sel == nil:
		ss.out("%s BAD no folder selected", tag)
	case verb == "UID SEARCH":
		ss.search(tag, args)
	case verb == "UID FETCH" && len(args) == 2:
		ss.fetch(tag, args[0].Text, args[1])
	default:
		ss.out("%s BAD Unknown command", tag)
	}
	return false
}

func decode(name string) string {
	if d, err := mutf7.Decode(name); err == nil {
		return d
	}
	return name
}

// inSet reports whether uid is in a sequence set ("1:4,7", "5:*").
func inSet(set string, uid, last int) bool {
	for _, part := range strings.Split(set, ",") {
		lo, hi, isRange := strings.Cut(part, ":")
		num := func(s string) int {
			if s == "*" {
				return last
			}
			n, _ := strconv.Atoi(s)
			return n
		}
		a, b := num(lo), num(lo)
		if isRange {
			b = num(hi)
		}
		if a > b {
			a, b = b, a
		}
		if uid >= a && uid <= b {
			return true
		}
	}
	return false
}

func (ss *session) search(tag string, args []imapconn.Field) {
	f := ss.sel
	keep := func(int) bool { return true }
	for i := 0; i < len(args); i++ {
		switch k := strings.ToUpper(args[i].Text); {
		case k == "ALL":
		case k == "SINCE" && i+1 < len(args):
			day, err := time.Parse("2-Jan-2006", args[i+1].Text)
			if err != nil {
				ss.out("%s BAD Could not parse command", tag)
				return
			}
			prev := keep
			keep = func(j int) bool { return prev(j) && !ss.s.msgs[f.msgs[j]].Date.UTC().Before(day) }
			i++
		case k == "UID" && i+1 < len(args):
			set, prev := args[i+1].Text, keep
			keep = func(j int) bool { return prev(j) && inSet(set, j+1, len(f.msgs)) }
			i++
		default:
			ss.out("%s BAD Could not parse command", tag)
			return
		}
	}
	var uids []string
	for j := range f.msgs {
		if keep(j) {
			uids = append(uids, strconv.Itoa(j+1))
		}
	}
	ss.out("* SEARCH %s", strings.Join(uids, " "))
	ss.out("%s OK SEARCH completed (Success)", tag)
}

// MsgID is the X-GM-MSGID of msgs[i], the same in every folder.
func MsgID(i int) uint64 { return 1278455344230334865 + uint64(i) }

func (ss *session) fetch(tag, set string, items imapconn.Field) {
	f := ss.sel
	list := items.List
	if list == nil {
		list = []imapconn.Field{items}
	}
	for j, mi := range f.msgs {
		if !inSet(set, j+1, len(f.msgs)) {
			continue
		}
		m := &ss.s.msgs[mi]
		var b strings.Builder
		fmt.Fprintf(&b, "* %d FETCH (UID %d", j+1, j+1)
		for _, it := range list {
			name := strings.ToUpper(it.Text)
			switch {
			case name == "UID":
			case name == "FLAGS":
				fmt.Fprintf(&b, " FLAGS (%s)", strings.Join(m.Flags, " "))
			case name == "INTERNALDATE":
				fmt.Fprintf(&b, " INTERNALDATE %q", m.Date.Format("02-Jan-2006 15:04:05 -0700"))
			case name == "RFC822.SIZE":
				fmt.Fprintf(&b, " RFC822.SIZE %d", len(m.Body))
			case name == "X-GM-MSGID":
				fmt.Fprintf(&b, " X-GM-MSGID %d", MsgID(mi))
			case name == "X-GM-THRID":
				fmt.Fprintf(&b, " X-GM-THRID %d", MsgID(mi))
			case name == "X-GM-LABELS":
				b.WriteString(" X-GM-LABELS (")
				for k, l := range m.Labels {
					if k > 0 {
						b.WriteByte(' ')
					}
					b.WriteString(labelString(l))
				}
				b.WriteString(")")
			case strings.HasPrefix(name, "BODY"):
				sect := it.Text[strings.IndexByte(it.Text, '['):]
				data := m.Body
				if strings.HasPrefix(strings.ToUpper(sect), "[HEADER.FIELDS") {
					data = headerFields(m.Body, sect)
				}
				fmt.Fprintf(&b, " BODY%s {%d}\r\n%s", sect, len(data), data)
			default:
				ss.out("%s BAD Could not parse command", tag)
				return
			}
		}
		b.WriteString(")")
		ss.out("%s", b.String())
	}
	ss.out("%s OK Success", tag)
}

// labelString is a label as Gmail sends it: quoted, or a literal when
// quoting cannot carry it.
func labelString(l string) string {
	l = mutf7.Encode(l)
	if strings.ContainsAny(l, "\"\\") && !strings.HasPrefix(l, `\`) {
		return fmt.Sprintf("{%d}\r\n%s", len(l), l)
	}
	return quote(l)
}

// headerFields returns the named header fields of a message and the
// blank line, as BODY[HEADER.FIELDS (...)] does.
func headerFields(body []byte, sect string) []byte {
	open, end := strings.IndexByte(sect, '('), strings.IndexByte(sect, ')')
	if open < 0 || end < open {
		return nil
	}
	var names []string
	for _, f := range imapconn.Fields(sect[open+1 : end]) {
		names = append(names, f.Text)
	}
	var out []byte
	keep := false
	for line := range strings.SplitAfterSeq(string(body), "\n") {
		if strings.TrimRight(line, "\r\n") == "" {
			break
		}
		if line[0] != ' ' && line[0] != '\t' {
			name, _, _ := strings.Cut(line, ":")
			keep = slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, name) })
		}
		if keep {
			out = append(out, line...)
		}
	}
	return append(out, "\r\n"...)
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// readCommand reads one command line with its literals.
func (ss *session) readCommand() ([]imapconn.Field, error) {
	var line []byte
	for {
		part, err := ss.r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		part = strings.TrimRight(part, "\r\n")
		line = append(line, part...)
		open := strings.LastIndexByte(part, '{')
		if !strings.HasSuffix(part, "}") || open < 0 {
			break
		}
		nstr := part[open+1 : len(part)-1]
		plus := strings.HasSuffix(nstr, "+")
		n, err := strconv.Atoi(strings.TrimSuffix(nstr, "+"))
		if err != nil || n > 1<<20 {
			return nil, fmt.Errorf("bad literal %q", nstr)
		}
		if !plus {
			ss.out("+ go ahead")
		}
		lit := make([]byte, n)
		if _, err := io.ReadFull(ss.r, lit); err != nil {
			return nil, err
		}
		line = append(line[:len(line)-len(part)+open], quote(string(lit))...)
	}
	return imapconn.Fields(string(line)), nil
}
