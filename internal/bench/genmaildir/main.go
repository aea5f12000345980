// Command genmaildir writes a realistic Dovecot Maildir++ tree for the
// export benchmarks: a dozen folders, a few years of mail with real-world
// size skew, English-like text, HTML alternatives and attachments both
// compressible and not. The tree is a pure function of -seed, -messages,
// -size and -end; -append adds messages received now, for delta exports.
//
//	go run ./internal/bench/genmaildir -out DIR -messages 20000 -size 1G -seed 1
//	go run ./internal/bench/genmaildir -out DIR -append 200
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	res, err := generate(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	verb := "wrote"
	if cfg.appendN > 0 {
		verb = "appended"
	}
	fmt.Printf("genmaildir: %s %d messages, %.1f MiB, to %s in %.1fs\n",
		verb, res.messages, float64(res.bytes)/(1<<20), cfg.out, time.Since(start).Seconds())
}

func parseFlags(args []string) (config, error) {
	fl := flag.NewFlagSet("genmaildir", flag.ContinueOnError)
	out := fl.String("out", "", "Maildir++ root to create (must be empty or missing), or to append to")
	messages := fl.Int("messages", 20000, "number of messages in a fresh tree")
	size := fl.String("size", "1G", "total bytes of the messages, with K, M or G (binary) suffix; with -append, default is the tree's mean size times N")
	seed := fl.Uint64("seed", 1, "seed; the same seed and flags give the same tree")
	user := fl.String("user", "bench@example.com", "the mailbox owner's address")
	end := fl.String("end", "2026-01-01T00:00:00Z", "newest received time of a fresh tree (RFC 3339); mail spans the 3 years before it")
	appendN := fl.Int("append", 0, "add N messages received now to the existing tree at -out")
	workers := fl.Int("workers", runtime.GOMAXPROCS(0), "messages written in parallel")
	if err := fl.Parse(args); err != nil {
		return config{}, err
	}
	cfg := config{out: *out, messages: *messages, seed: *seed, user: *user, appendN: *appendN, workers: *workers}
	if cfg.out == "" {
		return config{}, fmt.Errorf("genmaildir: -out is required")
	}
	if cfg.messages < 1 || cfg.appendN < 0 || cfg.workers < 1 {
		return config{}, fmt.Errorf("genmaildir: -messages and -workers must be positive, -append not negative")
	}
	sizeSet := false
	fl.Visit(func(f *flag.Flag) { sizeSet = sizeSet || f.Name == "size" })
	if cfg.appendN == 0 || sizeSet {
		n, err := parseSize(*size)
		if err != nil {
			return config{}, err
		}
		cfg.size = n
	}
	t, err := time.Parse(time.RFC3339, *end)
	if err != nil {
		return config{}, fmt.Errorf("genmaildir: -end: %w", err)
	}
	cfg.end = t
	return cfg, nil
}

// parseSize reads "1G", "512M", "64K" (binary units) or a byte count.
func parseSize(arg string) (int64, error) {
	s, mult := arg, int64(1)
	switch {
	case strings.HasSuffix(s, "G"):
		mult = 1 << 30
	case strings.HasSuffix(s, "M"):
		mult = 1 << 20
	case strings.HasSuffix(s, "K"):
		mult = 1 << 10
	}
	if mult > 1 {
		s = s[:len(s)-1]
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || !(n > 0 && n*float64(mult) < 1<<50) { // rejects NaN too
		return 0, fmt.Errorf("genmaildir: -size %q: want a positive number with an optional K, M or G suffix", arg)
	}
	return int64(n * float64(mult)), nil
}
