package maildir

import (
	"bufio"
	"io"
	"strings"

	"github.com/mailhaul/mailhaul/internal/mutf7"
)

// Subscription files at a Maildir's root:
//
//   - "subscriptions" (Dovecot). Version 2 starts with "V\t2\n\n"; each
//     following line is one name whose hierarchy levels are separated by
//     tabs, each level tab-escaped (\x01 followed by 1, t, r, n or 0).
//     Older files have one name per line with the namespace separator
//     ("." for Maildir++, usually "/" for LAYOUT=fs) between levels.
//   - "courierimapsubscribed" (Courier): "INBOX.Work.2024" per line.
//
// Names are IMAP names, so modified UTF-7 like the directories.
var SubscriptionFiles = []string{SubscriptionsFile, "courierimapsubscribed"}

// SubscriptionsFile is Dovecot's subscription file, the one written.
const SubscriptionsFile = "subscriptions"

// MaxSubscriptionLine bounds one line; longer ones are not mailbox names.
const MaxSubscriptionLine = 64 << 10

const subscriptionsV2 = "V\t2"

// ReadSubscriptions calls fn with each name in one subscription file, in
// file order: version 2 names with "/" between levels, older ones as
// written; each decoded from modified UTF-7 where it is valid, else as
// written. A line longer than MaxSubscriptionLine is skipped.
func ReadSubscriptions(r io.Reader, fn func(name string)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxSubscriptionLine)
	sc.Split(scanLinesLenient)
	v2 := false
	for n := 0; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if n == 0 && line == subscriptionsV2 {
			v2 = true
			continue
		}
		if line == "" {
			continue
		}
		if v2 {
			line = unescapeV2(line)
		}
		if dec, err := mutf7.Decode(line); err == nil {
			line = dec
		}
		fn(line)
	}
	return sc.Err()
}

// scanLinesLenient is bufio.ScanLines, except that a line longer than the
// buffer is skipped rather than ending the scan: one bad entry must not
// cost every subscription after it.
func scanLinesLenient(data []byte, atEOF bool) (int, []byte, error) {
	advance, tok, err := bufio.ScanLines(data, atEOF)
	if advance == 0 && tok == nil && err == nil && len(data) >= MaxSubscriptionLine {
		return len(data), nil, nil // drop the too-long run; resync on the next newline
	}
	return advance, tok, err
}

// v2Escapes are the bytes a version 2 line escapes, and their letters.
var v2Escapes = [...][2]byte{{'\x01', '1'}, {'\t', 't'}, {'\r', 'r'}, {'\n', 'n'}, {0, '0'}}

// unescapeV2 turns a version 2 line into a "/"-separated name.
func unescapeV2(line string) string {
	if !strings.ContainsAny(line, "\t\x01") {
		return line
	}
	var b strings.Builder
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == '\t':
			b.WriteByte('/')
		case c == '\x01' && i+1 < len(line):
			i++
			b.WriteByte(v2Unescape(line[i]))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func v2Unescape(c byte) byte {
	for _, e := range v2Escapes {
		if e[1] == c {
			return e[0]
		}
	}
	return c
}

// WriteSubscriptions writes Dovecot's version 2 subscription file for the
// folder paths ("/"-separated), each level in modified UTF-7 and escaped.
func WriteSubscriptions(w io.Writer, paths []string) error {
	var b strings.Builder
	b.WriteString(subscriptionsV2 + "\n\n")
	for _, p := range paths {
		for i, level := range strings.Split(p, "/") {
			if i > 0 {
				b.WriteByte('\t')
			}
			for _, c := range []byte(mutf7.Encode(level)) {
				b.WriteString(v2Escape(c))
			}
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func v2Escape(c byte) string {
	for _, e := range v2Escapes {
		if e[0] == c {
			return string([]byte{'\x01', e[1]})
		}
	}
	return string(c)
}
