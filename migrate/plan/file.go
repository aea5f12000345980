package plan

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// file is the plan file as written. Every key a user may write is a field
// here: the decoder refuses any other, so a misspelt key is an error, not
// a silent default.
type file struct {
	Source  sourceFile  `toml:"source"`
	Archive archiveFile `toml:"archive"`
	Target  targetFile  `toml:"target"`
	Users   usersFile   `toml:"users"`
	Limits  limitsFile  `toml:"limits"`
}

// secretRef is how a file names a secret: a file (its path may hold the
// user placeholders, one file per user) or an environment variable.
type secretRef struct {
	PasswordFile string `toml:"password_file"`
	PasswordEnv  string `toml:"password_env"`
}

// server is what every network endpoint shares.
type server struct {
	URL            string `toml:"url"`
	Admin          string `toml:"admin"`
	Auth           string `toml:"auth"`
	TokenFile      string `toml:"token_file"`
	StartTLS       bool   `toml:"starttls"`
	AllowPlaintext bool   `toml:"allow_plaintext"`
	TLSCA          string `toml:"tls_ca"`
	Provider       string `toml:"provider"`
	secretRef
}

type sourceFile struct {
	Kind      string `toml:"kind"`
	Root      string `toml:"root"`
	Path      string `toml:"path"`
	Contacts  string `toml:"contacts"`
	Calendars string `toml:"calendars"`
	MailURL   string `toml:"mail_url"`
	server
}

type archiveFile struct {
	Dir          string `toml:"dir"`
	SFTP         string `toml:"sftp"`
	IdentityFile string `toml:"identity_file"`
	KnownHosts   string `toml:"known_hosts"`
	State        string `toml:"state"`
	Compress     string `toml:"compress"`
	Level        int    `toml:"level"`
}

type targetFile struct {
	IMAP *server `toml:"imap"`
	DAV  *server `toml:"dav"`
}

type usersFile struct {
	File string `toml:"file"`
	All  bool   `toml:"all"`
}

type limitsFile struct {
	Users                int    `toml:"users"`
	ConnectionsPerServer int    `toml:"connections_per_server"`
	Bandwidth            string `toml:"bandwidth"`
}

// inlineSecretKeys are keys that would hold a secret itself. They are
// refused with their own message: a plan file is copied, mailed and
// committed, and its secrets must live elsewhere.
var inlineSecretKeys = map[string]bool{
	"password": true, "passwd": true, "pass": true, "secret": true, "token": true, "passphrase": true,
}

// decode reads the plan file strictly. Every unknown key is a problem at
// its line; lines maps each key ("target.imap.url") and table
// ("target.imap") to the line it is on, for the problems found later.
func decode(path string, data []byte) (f file, lines map[string]int, probs []Problem) {
	lines = map[string]int{}
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(&f)
	var strict *toml.StrictMissingError
	var de *toml.DecodeError
	switch {
	case err == nil:
	case errors.As(err, &strict):
		for _, e := range strict.Errors {
			line, _ := e.Position()
			key := strings.Join(e.Key(), ".")
			msg := fmt.Sprintf("unknown key %q", key)
			if k := e.Key(); len(k) > 0 && inlineSecretKeys[strings.ToLower(k[len(k)-1])] {
				msg = fmt.Sprintf("%q holds a secret in the plan: secrets are references only; use password_file = \"FILE\" or password_env = \"VARIABLE\"", key)
			}
			probs = append(probs, Problem{File: path, Line: line, Msg: msg})
		}
	case errors.As(err, &de):
		line, _ := de.Position()
		probs = append(probs, Problem{File: path, Line: line, Msg: strings.TrimPrefix(de.Error(), "toml: ")})
	default:
		probs = append(probs, Problem{File: path, Msg: err.Error()})
	}
	if de == nil { // a syntax error leaves no keys to place
		keyLines(data, lines)
	}
	return f, lines, probs
}

// keyLines parses data and records the line of every key and table
// header, so that problems found after decoding name their line.
func keyLines(data []byte, lines map[string]int) {
	var p unstable.Parser
	p.Reset(data)
	var table []string
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			table = keyOf(e.Key())
			note(&p, lines, table, e.Key())
		case unstable.KeyValue:
			full := append(append([]string(nil), table...), keyOf(e.Key())...)
			note(&p, lines, full, e.Key())
			if v := e.Value(); v.Kind == unstable.InlineTable {
				inline(&p, lines, full, v)
			}
		}
	}
}

// inline records the keys of an inline table { a = 1, b = 2 }.
func inline(p *unstable.Parser, lines map[string]int, prefix []string, v *unstable.Node) {
	it := v.Children()
	for it.Next() {
		kv := it.Node()
		if kv.Kind != unstable.KeyValue {
			continue
		}
		full := append(append([]string(nil), prefix...), keyOf(kv.Key())...)
		note(p, lines, full, kv.Key())
		if sub := kv.Value(); sub.Kind == unstable.InlineTable {
			inline(p, lines, full, sub)
		}
	}
}

func keyOf(it unstable.Iterator) []string {
	var k []string
	for it.Next() {
		k = append(k, string(it.Node().Data))
	}
	return k
}

func note(p *unstable.Parser, lines map[string]int, key []string, it unstable.Iterator) {
	if !it.Next() {
		return
	}
	line := p.Shape(it.Node().Raw).Start.Line
	// Every prefix too: a dotted key (source.kind = ...) opens its tables.
	for i := 1; i <= len(key); i++ {
		name := strings.Join(key[:i], ".")
		if _, ok := lines[name]; !ok {
			lines[name] = line
		}
	}
}
