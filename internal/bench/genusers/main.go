// Command genusers writes many Maildir users (internal/usergen) and a
// migration plan for them, for internal/bench/migrate.sh.
//
//	go run ./internal/bench/genusers -out DIR -users 32 -messages 600 -size 50K -imap imap://127.0.0.1:PORT
//
// DIR/src holds the users, DIR/plan.toml, DIR/users.csv and DIR/secrets
// the plan (every password "pw", as internal/bench/lib.sh's Dovecot has).
//
//	go run ./internal/bench/genusers -out DIR -users 32 -change -new 20 -flags 10 -moves 2
//
// changes the users DIR/src holds as a user at work between the full copy
// and the cutover does (usergen.ChangeBy), for internal/bench/delta.sh,
// and prints what it did; -expect prints what a server holding the users
// must show, per user, folder and flags (delta.sh compares it with
// doveadm's view).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mailhaul/mailhaul/internal/usergen"
)

func main() {
	out := flag.String("out", "", "directory to create (must be empty or missing)")
	users := flag.Int("users", 32, "number of users")
	messages := flag.Int("messages", 600, "messages of the largest user")
	skew := flag.Float64("skew", 0, "0: every user the same size; larger: most users small (see usergen.Options.Skew)")
	size := flag.Int("size", 50<<10, "mean message size in bytes")
	seed := flag.Uint64("seed", 1, "generator seed")
	imap := flag.String("imap", "", "the plan's IMAP target URL")
	dav := flag.String("dav", "", "the plan's DAV target URL (none if empty)")
	at := flag.Int("users-at-once", 4, "the plan's [limits] users")
	conns := flag.Int("conns", 16, "the plan's [limits] connections_per_server")
	archives := flag.String("archives", "", "the plan's archive directory (default DIR/archives)")
	planOnly := flag.Bool("plan-only", false, "only rewrite the plan of users DIR/src already holds (same flags)")
	change := flag.Bool("change", false, "change the users DIR/src holds (-new, -flags, -moves each) instead")
	expectOnly := flag.Bool("expect", false, "print what a server holding the users DIR/src holds must show (see expect) instead")
	var d usergen.Delta
	flag.IntVar(&d.Deliver, "new", 20, "with -change: messages delivered to each user's INBOX")
	flag.IntVar(&d.Flag, "flags", 10, "with -change: INBOX messages whose \\Flagged flips, each user")
	flag.IntVar(&d.Move, "moves", 2, "with -change: INBOX messages moved to Archive, each user")
	flag.Parse()
	if *out == "" || (*imap == "" && !*change && !*expectOnly) {
		fmt.Fprintln(os.Stderr, "genusers: -out and -imap (or -change, -expect) are required")
		os.Exit(2)
	}
	if *archives == "" {
		*archives = filepath.Join(*out, "archives")
	}
	o := usergen.Options{Dir: filepath.Join(*out, "src"), Users: *users, Seed: *seed, MaxMessages: *messages, Skew: *skew, MessageBytes: *size}
	if *change || *expectOnly {
		var err error
		if *change {
			err = changeAll(o, *seed, d)
		} else {
			err = expect(os.Stdout, o)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "genusers:", err)
			os.Exit(1)
		}
		return
	}
	var us []usergen.User
	var err error
	if *planOnly {
		us, err = usergen.Existing(o)
	} else {
		us, err = usergen.Generate(o)
	}
	if err == nil {
		_, err = usergen.WritePlan(*out, us, usergen.PlanOptions{Root: o.Dir, Archives: *archives, IMAPURL: *imap, DAVURL: *dav,
			Password: func(string) string { return "pw" }, UsersAtOnce: *at, Conns: *conns})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "genusers:", err)
		os.Exit(1)
	}
	var msgs int
	var bytes int64
	for _, u := range us {
		msgs += u.Messages
		bytes += u.Bytes
	}
	fmt.Printf("genusers: %d users, %d messages, %.1f MiB in %s\n", len(us), msgs, float64(bytes)/(1<<20), o.Dir)
}

// changeAll applies d to every user o.Dir holds and prints the totals
// (a user with a small INBOX gets fewer flags and moves).
func changeAll(o usergen.Options, seed uint64, d usergen.Delta) error {
	us, err := usergen.Existing(o)
	if err != nil {
		return err
	}
	var sum usergen.Changes
	for i := range us {
		c, err := usergen.ChangeBy(&us[i], seed, d)
		if err != nil {
			return fmt.Errorf("%s: %w", us[i].Login, err)
		}
		sum.Delivered += c.Delivered
		sum.Flagged += c.Flagged
		sum.Moved += c.Moved
	}
	fmt.Printf("genusers: changed %d users: %d delivered, %d flagged, %d moved\n", len(us), sum.Delivered, sum.Flagged, sum.Moved)
	return nil
}
