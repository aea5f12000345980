package maildir

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"

	"github.com/mailhaul/mailhaul/export/srcfs"
	"github.com/mailhaul/mailhaul/format"
	mdir "github.com/mailhaul/mailhaul/mailbox/maildir"
)

// subscriptionFiles are read in this order (see mdir.SubscriptionFiles).
var subscriptionFiles = mdir.SubscriptionFiles

// subscriptions is the set of subscribed names as written in the files
// (after unescaping and decoding). nil means the mailbox has no
// subscription file at all.
type subscriptions map[string]struct{}

// staleNames counts subscribed names that match no folder on disk: stale
// subscriptions of deleted folders, or names a client subscribed without
// creating. They are not folders to create (a subscription file of 300,000
// names must not become 300,000 empty folders); the archive's format has
// only a per-folder subscribed flag, so they are reported, counted, with
// the first few named.
type staleNames struct {
	n     int
	first []string
}

const staleNamed = 5

func (st *staleNames) add(name string) {
	if st == nil {
		return
	}
	st.n++
	if len(st.first) < staleNamed {
		st.first = append(st.first, strconv.Quote(name))
	}
}

// problem is the warning for the stale names, if any.
func (st *staleNames) problem() (format.Problem, bool) {
	if st.n == 0 {
		return format.Problem{}, false
	}
	names := strings.Join(st.first, ", ")
	if st.n > len(st.first) {
		names += ", ..."
	}
	return format.Problem{Item: "subscriptions", Reason: fmt.Sprintf(
		"%d subscribed name(s) with no folder directory (%s): subscriptions only, no folder is created for them", st.n, names)}, true
}

// readSubscriptions reads every subscription file at root, keeping only
// the names keep accepts (those of folders found on disk), so memory is
// bounded by the folders, not by the files; the others are counted in
// stale.
func readSubscriptions(root *srcfs.Dir, keep func(string) bool, stale *staleNames) (subscriptions, error) {
	var subs subscriptions
	for _, name := range subscriptionFiles {
		f, err := root.OpenFile(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("maildir: read %s: %w", name, err)
		}
		if subs == nil {
			subs = subscriptions{}
		}
		err = subs.parse(f, keep, stale)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("maildir: read %s: %w", name, err)
		}
	}
	return subs, nil
}

// parse adds the names in one subscription file to s: those keep accepts
// (all if keep is nil); the others are counted in stale.
func (s subscriptions) parse(r io.Reader, keep func(string) bool, stale *staleNames) error {
	return mdir.ReadSubscriptions(r, func(name string) {
		if !s.add(name, keep) {
			stale.add(name)
		}
	})
}

// add records one subscribed name (decoded), if keep accepts it (or is nil). A
// leading "INBOX." or "INBOX/" (the Courier namespace prefix) is also
// tried stripped, as folder paths here do not carry it. It reports
// whether the name was kept.
func (s subscriptions) add(name string, keep func(string) bool) bool {
	variants := []string{name}
	if strings.EqualFold(name, "INBOX") {
		variants[0] = "INBOX"
	} else if len(name) > 6 && strings.EqualFold(name[:5], "INBOX") && (name[5] == '.' || name[5] == '/') {
		variants = append(variants, name[6:])
	}
	kept := false
	for _, v := range variants {
		if keep == nil || keep(v) {
			s[v] = struct{}{}
			kept = true
		}
	}
	return kept
}

// has reports whether the folder at path ("/"-separated) is subscribed.
// Names from files written with "." as the separator match too.
func (s subscriptions) has(path string) bool {
	if s == nil {
		return true // no subscription state kept: treat every folder as visible
	}
	if _, ok := s[path]; ok {
		return true
	}
	if strings.Contains(path, "/") {
		_, ok := s[strings.ReplaceAll(path, "/", ".")]
		return ok
	}
	return false
}

// subscriptionKeys are the names under which the folders may be
// subscribed: each folder's path as the source names it, and with "." for
// "/" (files written with Maildir++'s separator).
func subscriptionKeys(folders []*folder) func(string) bool {
	keys := make(map[string]struct{}, 2*len(folders))
	for _, f := range folders {
		keys[f.source] = struct{}{}
		keys[strings.ReplaceAll(f.source, "/", ".")] = struct{}{}
	}
	return func(name string) bool { _, ok := keys[name]; return ok }
}
