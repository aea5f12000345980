package usergen

import (
	"encoding/base64"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// gen writes one user's files from the user's own random stream.
type gen struct {
	rng  *rand.Rand
	user *User
	mean int
	seq  int
}

var words = strings.Fields(`the a of to and in that is for on it with as was be by this are or at from
	migration mailbox server message folder night users archive import export calendar meeting
	report project budget draft review schedule invoice team notes weekly agenda follow-up
	Ärger Grüße naïve café résumé Zoë`)

var flagSets = []string{"S", "S", "S", "RS", "FS", "", "S", "DS"}

func (g *gen) write(n int) error {
	for _, f := range Folders {
		if err := makeFolder(g.user.Maildir, f); err != nil {
			return err
		}
	}
	for k := 0; k < n; k++ {
		folder := Folders[0]
		if r := g.rng.IntN(10); r >= 5 {
			folder = Folders[1+r%(len(Folders)-1)]
		}
		when := base.Add(time.Duration(k) * time.Minute)
		if err := g.message(folder, flagSets[g.rng.IntN(len(flagSets))], when); err != nil {
			return err
		}
	}
	return nil
}

// makeFolder creates a Maildir++ folder ("" is INBOX).
func makeFolder(maildir, folder string) error {
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(maildir, folder, sub), 0o755); err != nil {
			return err
		}
	}
	if folder != "" {
		return os.WriteFile(filepath.Join(maildir, folder, "maildirfolder"), nil, 0o644)
	}
	return nil
}

// size is a message size: log-normal around the mean, at least 300 bytes.
func (g *gen) size() int {
	s := float64(g.mean) * math.Exp(g.rng.NormFloat64()*0.8-0.32)
	return max(300, int(s))
}

// message writes one generated message to folder's cur/, received at
// when.
func (g *gen) message(folder, flags string, when time.Time) error {
	g.seq++
	return g.messageIn("cur", folder, flags, when)
}

// messageIn writes message number g.seq to folder's sub (cur or new).
func (g *gen) messageIn(sub, folder, flags string, when time.Time) error {
	id := fmt.Sprintf("Message-ID: <%s.%d.%d@usergen>", g.user.Login, g.seq, when.UnixNano())
	var b strings.Builder
	fmt.Fprintf(&b, "%s\r\nDate: %s\r\nFrom: Sender %d <s%d@example.net>\r\nTo: %s\r\nSubject: %s %d\r\nMIME-Version: 1.0\r\n",
		id, when.Format(time.RFC1123Z), g.seq%17, g.seq%17, g.user.Name, g.words(4), g.seq)
	target := g.size()
	if g.rng.IntN(10) == 0 {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%[1]d\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n--b%[1]d\r\n"+
			"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"f%[1]d.bin\"\r\n\r\n",
			g.seq, g.words(20))
		raw := make([]byte, max(57, (target-b.Len())*3/4))
		for i := range raw {
			raw[i] = byte(g.rng.Uint32())
		}
		enc := base64.StdEncoding.EncodeToString(raw)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		fmt.Fprintf(&b, "%s\r\n--b%d--\r\n", enc, g.seq)
	} else {
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
		for b.Len() < target {
			b.WriteString(g.words(12) + "\r\n")
		}
	}
	return g.put(sub, folder, flags, when, []byte(b.String()))
}

// corpusMessage puts a corpus file in INBOX with a unique first line
// before its own bytes, which are left as they are.
func (g *gen) corpusMessage(corpus, rel string) error {
	data, err := os.ReadFile(filepath.Join(corpus, rel))
	if err != nil {
		return err
	}
	g.seq++
	when := base.Add(time.Duration(g.seq) * time.Minute)
	head := fmt.Sprintf("X-Usergen-Id: %s.%d.corpus\r\n", g.user.Login, g.seq)
	return g.put("cur", "", "S", when, append([]byte(head), data...))
}

// put writes a message file the way Dovecot names them, its mtime the
// received time.
// A message in new/ has no flags yet, hence no ":2," part.
func (g *gen) put(sub, folder, flags string, when time.Time, data []byte) error {
	name := fmt.Sprintf("%d.M%dP%d.usergen,S=%d", when.Unix(), g.seq, len(g.user.Login), len(data))
	if sub == "cur" {
		name += ":2," + flags
	}
	p := filepath.Join(g.user.Maildir, folder, sub, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		return err
	}
	g.user.Messages++
	g.user.Bytes += int64(len(data))
	return os.Chtimes(p, when, when)
}

func (g *gen) words(n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = words[g.rng.IntN(len(words))]
	}
	return strings.Join(w, " ")
}

// pim writes the user's address book and calendar.
func (g *gen) pim(contacts, events int) error {
	u := g.user
	var vcf strings.Builder
	for k := 1; k <= contacts; k++ {
		uid := fmt.Sprintf("%s-contact-%d@usergen", u.Login, k)
		u.ContactUIDs = append(u.ContactUIDs, uid)
		given, family := strings.ToUpper(g.words(1)[:1])+"ern", fmt.Sprintf("Ørsted-%d", k)
		fmt.Fprintf(&vcf, "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:%s\r\nFN:%s %s\r\nN:%s;%s;;;\r\nEMAIL;TYPE=INTERNET:c%d.%s@example.net\r\n"+
			"TEL;TYPE=CELL:+49 30 %07d\r\nNOTE:%s\\, %s\r\nEND:VCARD\r\n", uid, given, family, family, given, k, u.Login, g.rng.IntN(1e7), g.words(6), g.words(6))
	}
	var ics strings.Builder
	ics.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//mailhaul//usergen//EN\r\n")
	for k := 1; k <= events; k++ {
		uid := fmt.Sprintf("%s-event-%d@usergen", u.Login, k)
		u.EventUIDs = append(u.EventUIDs, uid)
		start := base.Add(time.Duration(k*26) * time.Hour)
		fmt.Fprintf(&ics, "BEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:%s\r\nDTSTART:%s\r\nDTEND:%s\r\nSUMMARY:%s\r\n",
			uid, stamp(base), stamp(start), stamp(start.Add(time.Hour)), g.words(5))
		if k%5 == 0 {
			ics.WriteString("RRULE:FREQ=WEEKLY;COUNT=10\r\n")
		}
		ics.WriteString("END:VEVENT\r\n")
	}
	ics.WriteString("END:VCALENDAR\r\n")
	u.Contacts, u.Calendar = filepath.Join(u.Dir, "contacts.vcf"), filepath.Join(u.Dir, "calendar.ics")
	if err := os.WriteFile(u.Contacts, []byte(vcf.String()), 0o644); err != nil {
		return err
	}
	return os.WriteFile(u.Calendar, []byte(ics.String()), 0o644)
}

func stamp(t time.Time) string { return t.UTC().Format("20060102T150405Z") }
