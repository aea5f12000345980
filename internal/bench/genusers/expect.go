package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mailhaul/mailhaul/internal/usergen"
	"github.com/mailhaul/mailhaul/mailbox/maildir"
)

// expect writes what an IMAP server holding the users o.Dir holds must
// show, one line per user, folder and flag set: "login<TAB>folder<TAB>
// flags<TAB>count", folder as IMAP names it ("INBOX", "Work/Projects",
// "Ärger"), flags its IMAP system flags sorted and space-separated ("-"
// for none), lines sorted. A benchmark prints the same from the server
// (doveadm fetch 'mailbox flags') and compares. Only what usergen writes
// is read: Maildir++ folders, no keywords.
func expect(w io.Writer, o usergen.Options) error {
	us, err := usergen.Existing(o)
	if err != nil {
		return err
	}
	var lines []string
	for _, u := range us {
		ents, err := os.ReadDir(u.Maildir)
		if err != nil {
			return err
		}
		count := map[string]int{}
		for _, dir := range append([]string{""}, dirNames(ents)...) {
			folder := maildir.InboxPath
			if dir != "" {
				p, warn := maildir.MaildirPPPath(dir[1:])
				if warn {
					return fmt.Errorf("%s: folder %q is not modified UTF-7", u.Login, dir)
				}
				folder = p
			}
			for _, sub := range []string{maildir.Cur, maildir.New} {
				files, err := os.ReadDir(filepath.Join(u.Maildir, dir, sub))
				if errors.Is(err, fs.ErrNotExist) {
					continue // a Maildir may lack an empty cur/ or new/
				}
				if err != nil {
					return err
				}
				for _, f := range files {
					_, letters, _ := maildir.SplitInfo(f.Name())
					flags, _ := maildir.ParseFlags(letters).IMAPFlags(nil)
					slices.Sort(flags)
					key := strings.Join(flags, " ")
					if key == "" {
						key = "-"
					}
					count[u.Login+"\t"+folder+"\t"+key]++
				}
			}
		}
		for _, k := range slices.Sorted(maps.Keys(count)) {
			lines = append(lines, fmt.Sprintf("%s\t%d", k, count[k]))
		}
	}
	slices.Sort(lines)
	_, err = fmt.Fprintln(w, strings.Join(lines, "\n"))
	return err
}

// dirNames are the Maildir++ folder directories among ents (".Name").
func dirNames(ents []os.DirEntry) []string {
	var out []string
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), ".") && len(e.Name()) > 1 {
			out = append(out, e.Name())
		}
	}
	return out
}
