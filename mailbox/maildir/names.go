package maildir

import (
	"slices"
	"strings"

	"github.com/mailhaul/mailhaul/internal/mutf7"
)

// DecodeLevel decodes one level of a folder name on disk. ok is false
// when it is not valid modified UTF-7 (written by some other tool, or raw
// UTF-8); the name is then raw as it is.
func DecodeLevel(raw string) (name string, ok bool) {
	name, err := mutf7.Decode(raw)
	if err != nil {
		return raw, false
	}
	return name, true
}

// MaildirPPPath turns a Maildir++ directory name (without its leading dot)
// into a folder path. A name with an empty level ("A..B", "A.") cannot be
// split faithfully and is kept as one level. warn is set when a level is
// not valid modified UTF-7 and was kept as written.
func MaildirPPPath(name string) (path string, warn bool) {
	levels := strings.Split(name, ".")
	if slices.Contains(levels, "") {
		p, ok := DecodeLevel(name)
		return p, !ok
	}
	for i, l := range levels {
		var ok bool
		levels[i], ok = DecodeLevel(l)
		warn = warn || !ok
	}
	levels[0] = InboxLevel(levels[0])
	return strings.Join(levels, "/"), warn
}

// listEscape is Dovecot's listescape character: "." inside a Maildir++
// level, which would otherwise split it, is written "\2e" (and "\" itself
// "\5c").
const listEscape = '\\'

// MaildirPPDir is the directory name of the folder at path under
// Maildir++, as Dovecot names it: "." for INBOX, else "." and the levels
// in modified UTF-7 joined by ".". A "." or "\" inside a level is written
// as Dovecot's listescape plugin does ("\2e", "\5c"); escaped reports
// that, as a Dovecot without the plugin shows such a name as written and
// MaildirPPPath does not undo it. path must be safe (format.SafeFolderPath):
// no empty, "." or ".." level.
func MaildirPPDir(path string) (dir string, escaped bool) {
	if path == InboxPath {
		return ".", false
	}
	var b strings.Builder
	for _, level := range strings.Split(path, "/") {
		b.WriteByte('.')
		for _, c := range []byte(mutf7.Encode(level)) {
			switch c {
			case '.':
				b.WriteString(`\2e`)
				escaped = true
			case listEscape:
				b.WriteString(`\5c`)
				escaped = true
			default:
				b.WriteByte(c)
			}
		}
	}
	return b.String(), escaped
}

// FSDir is the directory of the folder at path under LAYOUT=fs, relative
// to the root: the levels in modified UTF-7 joined by "/"; INBOX is the
// root itself.
func FSDir(path string) string {
	if path == InboxPath {
		return "."
	}
	levels := strings.Split(path, "/")
	for i, l := range levels {
		levels[i] = mutf7.Encode(l)
	}
	return strings.Join(levels, "/")
}
