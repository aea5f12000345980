// Package usergen writes many Maildir users for the migrate tests and the
// benchmark: each user a Maildir++ tree, an address book (.vcf) and a
// calendar (.ics), with sizes from empty to large, and some users holding
// the real-world fixtures of testdata/corpus (malformed MIME, odd
// charsets, bare LF, garbage). WritePlan writes a plan.toml, a users.csv
// and the password files for them, in the format of testdata/migrate.
//
// The users, their folders, messages, contacts and events are a pure
// function of Options (the seed included): the same Options give the same
// bytes. Only Change, which stands for mail arriving and a user at work
// between the stages, stamps what it writes with the present time, as a
// delta export must see it as new.
//
// Every message's first line is unique in the whole set ("Message-ID:
// <...>" for generated mail, an "X-Usergen-Id:" header put before a
// corpus message's own bytes), so that a test can count each message on
// a target by its first line.
package usergen

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Options say what to generate.
type Options struct {
	// Dir is the root: user "userNNN@Domain" lives in Dir/userNNN, its
	// Maildir in Dir/userNNN/Maildir.
	Dir    string
	Users  int
	Seed   uint64
	Domain string // default example.org
	// MaxMessages is the largest user's message count. User i holds
	// MaxMessages·u^Skew messages (u uniform in [0,1), from the seed):
	// Skew 0 gives every user MaxMessages, larger values make most users
	// small and a few big. The first user is always empty and the last
	// always has MaxMessages, so a set has both ends.
	MaxMessages int
	Skew        float64
	// MessageBytes is the mean message size (default 4 KiB); sizes are
	// log-normal around it, a tenth carrying an incompressible
	// attachment.
	MessageBytes int
	// Contacts and Events are the largest user's counts, scaled like the
	// messages (a user with mail has at least one of each).
	Contacts, Events int
	// HostileEvery gives every n-th user (0: none) Hostile corpus
	// messages from Corpus (testdata/corpus): files below Corpus/mail.
	HostileEvery, Hostile int
	Corpus                string
}

// User is one generated user.
type User struct {
	Name, Login string // "user007@example.org", "user007"
	Dir         string // Dir/user007
	Maildir     string // Dir/user007/Maildir
	// Contacts and Calendar are the .vcf and .ics files, "" when the
	// user has none.
	Contacts, Calendar     string
	Messages               int
	Bytes                  int64
	ContactUIDs, EventUIDs []string
	// Hostile lists the corpus files the user's mail holds (relative to
	// Corpus).
	Hostile []string
}

// Folders are the folders every user with mail has, in Maildir++ names
// ("" is INBOX); the last is "Ärger" in modified UTF-7.
var Folders = []string{"", ".Sent", ".Archive", ".Work", ".Work.Projects", ".&AMQ-rger"}

// base is the received time of the first generated message: fixed, so the
// bytes do not depend on the day; every message is a minute after the
// last.
var base = time.Date(2025, 1, 1, 8, 0, 0, 0, time.UTC)

// Generate writes the users under o.Dir (which must be empty or missing).
func Generate(o Options) ([]User, error) {
	if o.Users <= 0 || o.MaxMessages < 0 || o.Skew < 0 {
		return nil, errors.New("usergen: Users must be positive, MaxMessages and Skew not negative")
	}
	if o.Domain == "" {
		o.Domain = "example.org"
	}
	if o.MessageBytes <= 0 {
		o.MessageBytes = 4 << 10
	}
	if ents, err := os.ReadDir(o.Dir); err == nil && len(ents) > 0 {
		return nil, fmt.Errorf("usergen: %s is not empty", o.Dir)
	}
	var corpus []string
	if o.HostileEvery > 0 && o.Hostile > 0 {
		var err error
		if corpus, err = corpusMail(o.Corpus); err != nil {
			return nil, err
		}
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x75736572))
	users := make([]User, 0, o.Users)
	for i := 1; i <= o.Users; i++ {
		login := fmt.Sprintf("user%03d", i)
		u := User{Name: login + "@" + o.Domain, Login: login, Dir: filepath.Join(o.Dir, login)}
		u.Maildir = filepath.Join(u.Dir, "Maildir")
		share := math.Pow(rng.Float64(), o.Skew)
		switch {
		case i == 1:
			share = 0
		case i == o.Users:
			share = 1
		}
		g := &gen{rng: rand.New(rand.NewPCG(o.Seed, uint64(i))), user: &u, mean: o.MessageBytes}
		if err := g.write(int(math.Round(share * float64(o.MaxMessages)))); err != nil {
			return nil, err
		}
		if o.HostileEvery > 0 && i%o.HostileEvery == 0 {
			for k := 0; k < o.Hostile && k < len(corpus); k++ {
				rel := corpus[g.rng.IntN(len(corpus))]
				if slices.Contains(u.Hostile, rel) {
					continue
				}
				if err := g.corpusMessage(o.Corpus, rel); err != nil {
					return nil, err
				}
				u.Hostile = append(u.Hostile, rel)
			}
		}
		if u.Messages > 0 {
			if err := g.pim(max(1, int(math.Round(share*float64(o.Contacts)))), max(1, int(math.Round(share*float64(o.Events))))); err != nil {
				return nil, err
			}
		}
		users = append(users, u)
	}
	return users, nil
}

// corpusMail lists the .eml files below dir/mail, sorted.
func corpusMail(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(filepath.Join(dir, "mail"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".eml") {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		out = append(out, rel)
		return err
	})
	if err == nil && len(out) == 0 {
		err = fmt.Errorf("usergen: no .eml files below %s", filepath.Join(dir, "mail"))
	}
	return out, err
}

// Existing returns the users Generate wrote with o, reading their sizes
// from disk (for a new plan over a cached set).
func Existing(o Options) ([]User, error) {
	if o.Domain == "" {
		o.Domain = "example.org"
	}
	users := make([]User, 0, o.Users)
	for i := 1; i <= o.Users; i++ {
		login := fmt.Sprintf("user%03d", i)
		u := User{Name: login + "@" + o.Domain, Login: login, Dir: filepath.Join(o.Dir, login)}
		u.Maildir = filepath.Join(u.Dir, "Maildir")
		err := filepath.WalkDir(u.Maildir, func(p string, d fs.DirEntry, err error) error {
			if sub := filepath.Base(filepath.Dir(p)); err != nil || d.IsDir() || (sub != "cur" && sub != "new") {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			u.Messages++
			u.Bytes += fi.Size()
			return nil
		})
		if err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	return users, nil
}
