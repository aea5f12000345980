// Command genusers writes many Maildir users (internal/usergen) and a
// migration plan for them, for internal/bench/migrate.sh.
//
//	go run ./internal/bench/genusers -out DIR -users 32 -messages 600 -size 50K -imap imap://127.0.0.1:PORT
//
// DIR/src holds the users, DIR/plan.toml, DIR/users.csv and DIR/secrets
// the plan (every password "pw", as internal/bench/lib.sh's Dovecot has).
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
	flag.Parse()
	if *out == "" || *imap == "" {
		fmt.Fprintln(os.Stderr, "genusers: -out and -imap are required")
		os.Exit(2)
	}
	if *archives == "" {
		*archives = filepath.Join(*out, "archives")
	}
	o := usergen.Options{Dir: filepath.Join(*out, "src"), Users: *users, Seed: *seed, MaxMessages: *messages, Skew: *skew, MessageBytes: *size}
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
