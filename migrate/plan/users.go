package plan

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/mailhaul/mailhaul/migrate"
)

// columns are the users file's columns (migrate names them).
var columns = migrate.Columns

// maxProblemsPerFile bounds what a broken users file adds to the list:
// a CSV of 25,000 bad rows is reported by its first rows and a count.
const maxProblemsPerFile = 100

// row is one user as the CSV (or the Zimbra directory) gives it.
type row struct {
	source, target, size, sourcePath string
	sourcePW, imapPW, davPW          string
	imapToken, davToken              string
	line                             int
	rec                              []string // as the file has it
}

func (c *checker) users(f *file, p *Plan) {
	k := "users"
	switch {
	case f.Users.All && f.Users.File != "":
		c.at(k+".all", "users names both file and all = true: keep one")
		return
	case f.Users.All:
		if p.Source.Kind != KindZimbra {
			c.at(k+".all", "users.all = true lists the accounts of a Zimbra source; a %s source needs users.file", p.Source.Kind)
		}
		p.AllUsers = true
		return
	case f.Users.File == "":
		c.at(k, "the users are missing: [users] file = \"users.csv\" (columns %s), or all = true for a Zimbra source", strings.Join(columns, ","))
		return
	}
	p.UsersFile = c.abs(f.Users.File)
	fh, err := os.Open(p.UsersFile)
	if err != nil {
		c.at(k+".file", "users.file: %s", unwrapPath(err))
		return
	}
	defer fh.Close()
	rows := c.readCSV(p.UsersFile, fh, &p.Header)
	c.resolveAll(p, rows)
}

// csvProblem records a problem at a line of the users file.
func (c *checker) csvAt(file string, line int, format string, args ...any) {
	c.probs = append(c.probs, Problem{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// readCSV reads the users file, streaming: every row is checked for its
// shape, and a bad row is a problem at its line while the others go on.
func (c *checker) readCSV(name string, r io.Reader, headerOut *[]string) []row {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // counted here, so that one bad row does not end the file
	cr.Comment = '#'
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			c.csvAt(name, 0, "the users file is empty: it needs a header row (%s) and one row per user", strings.Join(columns, ","))
		} else {
			c.csvAt(name, csvLine(err, 1), "%s", csvMsg(err))
		}
		return nil
	}
	hline, _ := cr.FieldPos(0)
	idx := map[string]int{}
	bad := false
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		switch {
		case inlineSecretColumn(h):
			c.csvAt(name, hline, "column %q would hold secrets in the users file: secrets are references only; give a column of files (%s, %s, %s)", h, migrate.ColSourcePasswordFile, migrate.ColIMAPPasswordFile, migrate.ColDAVPasswordFile)
			bad = true
		case !known(h):
			c.csvAt(name, hline, "unknown column %q (known: %s)", h, strings.Join(columns, ", "))
			bad = true
		case idx[h] != 0:
			c.csvAt(name, hline, "column %q is named twice", h)
			bad = true
		default:
			idx[h] = i + 1
		}
	}
	if idx[migrate.ColSource] == 0 {
		c.csvAt(name, hline, "the header has no %q column (the source address)", migrate.ColSource)
		bad = true
	}
	if bad {
		return nil
	}
	*headerOut = header
	get := func(rec []string, col string) string {
		if i := idx[col]; i != 0 && i <= len(rec) {
			return strings.TrimSpace(rec[i-1])
		}
		return ""
	}
	var rows []row
	before := len(c.probs)
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if len(c.probs)-before >= maxProblemsPerFile {
			n := 0
			for ; err == nil || !errors.Is(err, io.EOF); rec, err = cr.Read() {
				n++
			}
			c.csvAt(name, 0, "%d more rows not checked after %d problems", n, maxProblemsPerFile)
			break
		}
		if err != nil {
			c.csvAt(name, csvLine(err, 0), "%s", csvMsg(err))
			continue
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(header) {
			c.csvAt(name, line, "%d fields where the header has %d", len(rec), len(header))
			continue
		}
		rows = append(rows, row{source: get(rec, migrate.ColSource), target: get(rec, migrate.ColTarget), size: get(rec, migrate.ColSize),
			sourcePath: get(rec, migrate.ColSourcePath), sourcePW: get(rec, migrate.ColSourcePasswordFile), imapPW: get(rec, migrate.ColIMAPPasswordFile),
			davPW: get(rec, migrate.ColDAVPasswordFile), imapToken: get(rec, migrate.ColIMAPTokenFile), davToken: get(rec, migrate.ColDAVTokenFile), line: line, rec: rec})
	}
	if len(rows) == 0 && len(c.probs) == before {
		c.csvAt(name, hline, "the users file has a header but no users")
	}
	return rows
}

func known(col string) bool {
	for _, k := range columns {
		if k == col {
			return true
		}
	}
	return false
}

func inlineSecretColumn(col string) bool {
	for _, part := range strings.FieldsFunc(col, func(r rune) bool { return r == '_' || r == '-' || r == ' ' }) {
		if inlineSecretKeys[part] && !strings.HasSuffix(col, "_file") {
			return true
		}
	}
	return false
}

func csvLine(err error, fallback int) int {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Line
	}
	return fallback
}

func csvMsg(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return "not valid CSV: " + pe.Err.Error()
	}
	return err.Error()
}

// resolveAll resolves every row and checks the plan's two rules across
// users: a source address once, a target login once (compared without
// case, as mail servers compare them).
func (c *checker) resolveAll(p *Plan, rows []row) {
	seenSource := map[string]int{}
	seenLogin := map[string]int{}
	seenKey := map[string]int{}
	for _, r := range rows {
		u, msgs := p.resolve(r, c.abs)
		for _, m := range msgs {
			c.csvAt(p.UsersFile, r.line, "user %q: %s", r.source, m)
		}
		if u.Address == "" || u.Key == "" {
			continue
		}
		if first, dup := seenSource[strings.ToLower(u.Address)]; dup {
			c.csvAt(p.UsersFile, r.line, "user %q is already on line %d", u.Address, first)
			continue
		}
		if first, dup := seenLogin[strings.ToLower(u.Login)]; dup {
			c.csvAt(p.UsersFile, r.line, "user %q: target login %q is already the target of line %d: one user's archive must never go into another's mailbox", u.Address, u.Login, first)
			continue
		}
		if first, dup := seenKey[strings.ToLower(u.Key)]; dup { // not expected: keys are injective
			c.csvAt(p.UsersFile, r.line, "user %q: its file name %q is line %d's too", u.Address, u.Key, first)
			continue
		}
		seenSource[strings.ToLower(u.Address)] = r.line
		seenLogin[strings.ToLower(u.Login)] = r.line
		seenKey[strings.ToLower(u.Key)] = r.line
		if len(msgs) == 0 {
			p.users = append(p.users, u)
		}
	}
}

// Resolve makes a User of an address the plan does not list (a Zimbra
// source with users.all): its login is the address, its secrets and paths
// come from the plan's patterns.
func (p *Plan) Resolve(address string) (User, error) {
	u, msgs := p.resolve(row{source: address}, func(s string) string { return s })
	if len(msgs) > 0 {
		return User{}, fmt.Errorf("user %q: %s", address, strings.Join(msgs, "; "))
	}
	return u, nil
}

// resolve turns a row into a User, saying what is wrong with it.
func (p *Plan) resolve(r row, abs func(string) string) (User, []string) {
	var msgs []string
	bad := func(format string, args ...any) { msgs = append(msgs, fmt.Sprintf(format, args...)) }
	u := User{Address: r.source, Login: r.target, Line: r.line, Row: r.rec}
	if u.Login == "" {
		u.Login = u.Address
	}
	switch {
	case u.Address == "":
		bad("the source address is empty")
		return u, msgs
	case hasControl(u.Address) || hasControl(u.Login):
		bad("the address or login holds control characters")
		return u, msgs
	}
	local, domain := u.Address, ""
	if i := strings.LastIndexByte(u.Address, '@'); i >= 0 {
		local, domain = u.Address[:i], u.Address[i+1:]
	}
	u.Key = migrate.Key(u.Address)
	if r.size != "" {
		n, err := ParseSize(r.size)
		if err != nil {
			bad("size: %v", err)
		}
		u.EstimatedSize = n
	}
	// fillUser fills a pattern with this user's names, each of which must
	// be one path element: "../x" as a user can never leave the directory.
	fillUser := func(what, pat string) (string, bool) {
		for ph, v := range map[string]string{PhUser: u.Address, PhLocalpart: local, PhDomain: domain, PhLogin: u.Login} {
			if !strings.Contains(pat, ph) {
				continue
			}
			if v == "" || v == "." || v == ".." || strings.ContainsAny(v, "/\\\x00") {
				bad("%s: %s is %q here, which cannot be a file name (it would leave the directory)", what, ph, v)
				return "", false
			}
		}
		return fill(pat, u.Address, local, domain, u.Login), true
	}
	if p.Source.Kind == KindMaildir || p.Source.Kind == KindMbox {
		pat, what := p.Source.Pattern, "source.path"
		if r.sourcePath != "" {
			pat, what = r.sourcePath, migrate.ColSourcePath
		}
		if rel, ok := fillUser(what, pat); ok && pat != "" {
			if !filepath.IsLocal(rel) {
				bad("%s %q leaves source.root", what, rel)
			} else {
				u.SourceRel = filepath.Clean(rel)
				u.SourcePath = filepath.Join(p.Source.Root, u.SourceRel)
			}
		}
		for _, f := range []struct {
			key, pat string
			to       *string
		}{{"source.contacts", p.Source.Contacts, &u.ContactFiles}, {"source.calendars", p.Source.Calendars, &u.CalendarFiles}} {
			if f.pat == "" {
				continue
			}
			if rel, ok := fillUser(f.key, f.pat); ok && filepath.IsLocal(rel) {
				// The user's names are matched as they are, never as
				// patterns ("a*b@x" must not read "ab@x"'s files).
				g := globEscape
				*f.to = filepath.Join(p.Source.Root, fill(f.pat, g(u.Address), g(local), g(domain), g(u.Login)))
			} else if ok {
				bad("%s %q leaves source.root", f.key, rel)
			}
		}
	} else if r.sourcePath != "" {
		bad("%s is for maildir and mbox sources only", migrate.ColSourcePath)
	}
	// secretFor resolves one server's secret for this user: the CSV
	// column wins over the plan's pattern; an admin's secret is the
	// admin's, not the user's.
	secretFor := func(sv *Server, col, colValue, tokCol, tokValue string) (Secret, string) {
		if sv == nil {
			if colValue != "" || tokValue != "" {
				bad("column %s names a secret for a server the plan does not have", col)
			}
			return Secret{}, ""
		}
		var s Secret
		var tok string
		switch {
		case colValue != "":
			s.File = abs(colValue)
		case sv.PerUser && sv.Secret.File != "":
			if f, ok := fillUser("password_file", sv.Secret.File); ok {
				s.File = f
			}
		}
		switch {
		case tokValue != "":
			tok = abs(tokValue)
		case sv.TokenFile != "":
			if f, ok := fillUser("token_file", sv.TokenFile); ok {
				tok = f
			}
		}
		if !sv.PerUser {
			return s, tok
		}
		if !s.Set() && tok == "" {
			bad("no password for the %s server: give the column %s, a password_file pattern, or an admin", sv.URL, col)
			return s, tok
		}
		if tok != "" {
			if msg := secretProblem(Secret{File: tok}); msg != "" {
				bad("%s", strings.Replace(msg, "password file", "token file", 1))
			}
		} else if msg := secretProblem(s); msg != "" {
			bad("%s", msg)
		}
		return s, tok
	}
	switch p.Source.Kind {
	case KindIMAP, KindDAV:
		u.SourceSecret, u.SourceToken = secretFor(&p.Source.Server, migrate.ColSourcePasswordFile, r.sourcePW, "", "")
	default:
		if r.sourcePW != "" {
			bad("column %s: a %s source has no per-user password", migrate.ColSourcePasswordFile, p.Source.Kind)
		}
	}
	u.IMAPSecret, u.IMAPToken = secretFor(p.IMAP, migrate.ColIMAPPasswordFile, r.imapPW, migrate.ColIMAPTokenFile, r.imapToken)
	u.DAVSecret, u.DAVToken = secretFor(p.DAV, migrate.ColDAVPasswordFile, r.davPW, migrate.ColDAVTokenFile, r.davToken)
	return u, msgs
}

// globEscape quotes the characters filepath.Match gives a meaning.
func globEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`, "[", `\[`).Replace(s)
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}
