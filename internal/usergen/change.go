package usergen

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Changes is what Change did to a user's Maildir.
type Changes struct {
	Delivered, Flagged, Moved int
}

// Delta says how much a user changes between the stages: messages
// delivered to INBOX, INBOX messages whose \Flagged flag flips, and INBOX
// messages moved to Archive.
type Delta struct {
	Deliver, Flag, Move int
}

// Change stands for a user at work between the pre-migration and the
// cutover: it delivers n new messages to INBOX (in new/, received now),
// flips the \Flagged flag of up to n messages, and moves up to n messages
// from INBOX to Archive, as a mail client would: the file keeps its name.
// Which messages it picks is a function of seed and the user's files.
func Change(u *User, seed uint64, n int) (Changes, error) {
	return ChangeBy(u, seed, Delta{Deliver: n, Flag: n / 2, Move: n - n/2})
}

// ChangeBy is Change with its own count of each change (the cutover
// benchmark's "20 new, 10 flags, 2 moves"). Flags and moves take
// distinct INBOX messages, alternating while both remain, so a user with
// a small INBOX gets fewer; Changes says what was done.
func ChangeBy(u *User, seed uint64, d Delta) (Changes, error) {
	var c Changes
	g := &gen{rng: rand.New(rand.NewPCG(seed, uint64(len(u.Login))+uint64(u.Messages))), user: u, mean: 2 << 10, seq: u.Messages + 1_000_000}
	inbox, err := files(filepath.Join(u.Maildir, "cur"))
	if err != nil {
		return c, err
	}
	for k := 0; c.Moved+c.Flagged < d.Flag+d.Move && len(inbox) > 0; k++ {
		i := g.rng.IntN(len(inbox))
		name := inbox[i]
		inbox = append(inbox[:i], inbox[i+1:]...)
		from := filepath.Join(u.Maildir, "cur", name)
		if c.Moved < d.Move && (k%2 == 0 || c.Flagged == d.Flag) {
			if err := os.Rename(from, filepath.Join(u.Maildir, ".Archive", "cur", name)); err != nil {
				return c, err
			}
			c.Moved++
			continue
		}
		if err := os.Rename(from, filepath.Join(u.Maildir, "cur", toggleFlagged(name))); err != nil {
			return c, err
		}
		c.Flagged++
	}
	now := time.Now()
	for k := 0; k < d.Deliver; k++ {
		g.seq++
		if err := g.messageIn("new", "", "", now.Add(time.Duration(k)*time.Millisecond)); err != nil {
			return c, err
		}
		c.Delivered++
	}
	return c, nil
}

// files lists the message files of a Maildir cur/ or new/, sorted.
func files(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.Type().IsRegular() {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// toggleFlagged adds or removes F in a name's ":2," flags, keeping them
// sorted as Maildir requires.
func toggleFlagged(name string) string {
	i := strings.LastIndex(name, ":2,")
	if i < 0 {
		return name + ":2,F"
	}
	flags := name[i+3:]
	if strings.Contains(flags, "F") {
		flags = strings.ReplaceAll(flags, "F", "")
	} else {
		b := []byte(flags + "F")
		sort.Slice(b, func(x, y int) bool { return b[x] < b[y] })
		flags = string(b)
	}
	return name[:i+3] + flags
}
