package imap

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/imapconn"
	"github.com/mailhaul/mailhaul/internal/mutf7"
	"github.com/mailhaul/mailhaul/internal/retry"
)

// SkipGmailLabel counts the messages of Gmail's label folders: each is a
// message of [Gmail]/All Mail shown again, exported once from there with
// the label recorded.
const SkipGmailLabel = "shown under a Gmail label: exported once from [Gmail]/All Mail, the label recorded"

// gmail is the export of a Gmail mailbox (a server offering X-GM-EXT-1
// whose \All folder is among those exported): [Gmail]/All Mail is read
// once, with each message's labels; the label folders (INBOX, Sent Mail,
// Drafts, Important, Starred and the user's labels) are recorded as
// folders but their messages are not read again; Spam and Trash, which
// All Mail does not hold, are exported as folders.
//
// A message is stored under the first folder of its labels, in this
// order: INBOX, Sent Mail, Drafts, the user's labels by path, Important,
// Starred; its other label folders go into the item's labels field. A
// message without labels (archived) is stored under All Mail, whose
// record gets the archive role. So a reader that ignores labels still
// finds each message once, in a folder that shows it on Gmail.
//
// go-imap cannot ask for X-GM-LABELS (its FETCH parser refuses items it
// does not know), so the labels come over a raw connection of their own
// (imapconn, not handed to go-imap) that examines All Mail and, for each
// chunk, asks UID FETCH (UID X-GM-LABELS) before the bodies are read:
// one connection more than the folders' (Gmail allows 15).
type gmail struct {
	src     *Source
	all     *folder
	byLabel map[string]*folder // label (system labels lower case) → its folder
	skipped int                // messages of the label folders
	// unmapped counts the messages carrying a label that no exported
	// folder shows (hidden from IMAP, or left out by --exclude).
	unmapped map[string]int
	side     *imapconn.Conn
}

// gmailRank orders a message's label folders to choose the one it is
// stored under: INBOX, Sent, Drafts, user labels, Important, Starred.
var gmailRank = map[string]int{`\inbox`: 0, `\sent`: 1, `\draft`: 2, `\important`: 4, `\starred`: 5}

// labelOf is the label a Gmail folder shows: a system label for INBOX
// and the special-use folders, else the folder's own name.
func labelOf(f *folder) string {
	if f.name == "INBOX" {
		return `\inbox`
	}
	for _, a := range f.attrs {
		switch strings.ToLower(string(a)) {
		case `\sent`:
			return `\sent`
		case `\drafts`:
			return `\draft`
		case `\important`:
			return `\important`
		case `\flagged`:
			return `\starred`
		}
	}
	return f.name
}

// labelKey is how a label from X-GM-LABELS is looked up.
func labelKey(l string) string {
	if strings.HasPrefix(l, `\`) {
		l = strings.ToLower(l)
		if l == `\drafts` {
			l = `\draft`
		}
	}
	return l
}

// gmailPlan decides whether the export is Gmail's and returns the folders
// whose messages are read: all of them, or All Mail, Spam and Trash.
func (s *Source) gmailPlan(c *conn, folders []*folder) ([]*folder, error) {
	s.gmail = nil
	if !c.raw.Has("X-GM-EXT-1") {
		return folders, nil
	}
	var all *folder
	for _, f := range folders {
		if slices.ContainsFunc(f.attrs, func(a imap.MailboxAttr) bool { return strings.EqualFold(string(a), `\All`) }) {
			all = f
		}
	}
	if all == nil {
		s.gmailNote = "Gmail: no folder with the \\All attribute ([Gmail]/All Mail) is exported, so each label is exported as its folder and a message with several labels once per label"
		return folders, nil
	}
	g := &gmail{src: s, all: all, byLabel: map[string]*folder{}, unmapped: map[string]int{}}
	all.rec.Role = format.RoleArchive
	all.rec.Notes = append(all.rec.Notes, "Gmail: every message not in Spam or Trash is exported once from here, stored under its first label's folder with its other labels recorded; those without labels stay here")
	var work []*folder
	for _, f := range folders {
		if f == all || f.rec.Role == format.RoleJunk || f.rec.Role == format.RoleTrash {
			work = append(work, f)
			continue
		}
		g.byLabel[labelOf(f)] = f
		st, err := c.cl.Status(f.name, &imap.StatusOptions{NumMessages: true}).Wait()
		if err != nil {
			return nil, c.fail(err)
		}
		if st.NumMessages != nil {
			g.skipped += int(*st.NumMessages)
		}
	}
	s.gmail = g
	return work, nil
}

// rank orders label folders: by gmailRank, user labels (3) by path.
func (g *gmail) rank(f *folder) int {
	if r, ok := gmailRank[labelOf(f)]; ok {
		return r
	}
	return 3
}

// place sets where a message of All Mail is stored and its labels.
func (g *gmail) place(m *meta, labels []string) {
	var in []*folder
	for _, l := range labels {
		f := g.byLabel[labelKey(l)]
		if f == nil {
			g.unmapped[l]++
			continue
		}
		if !slices.Contains(in, f) {
			in = append(in, f)
		}
	}
	slices.SortFunc(in, func(a, b *folder) int {
		if d := g.rank(a) - g.rank(b); d != 0 {
			return d
		}
		return strings.Compare(a.rec.Path, b.rec.Path)
	})
	m.folder, m.labels, m.labelled = g.all.rec.Path, nil, true
	for i, f := range in {
		if i == 0 {
			m.folder = f.rec.Path
		} else {
			m.labels = append(m.labels, f.rec.Path)
		}
	}
}

// labels reads the labels of the messages uids of All Mail into metas,
// over the side connection.
func (g *gmail) labels(ctx context.Context, metas map[imap.UID]*meta, uids []imap.UID) error {
	if err := g.open(ctx); err != nil {
		return err
	}
	fail := func(err error) error {
		err = imapconn.Classify(g.side.Cause(err))
		g.drop()
		return err
	}
	tag := g.side.NextTag()
	w := g.side.Writer()
	if _, err := w.WriteString(tag + " UID FETCH " + imap.UIDSetNum(uids...).String() + " (UID X-GM-LABELS)\r\n"); err != nil {
		return fail(err)
	}
	if err := w.Flush(); err != nil {
		return fail(err)
	}
	for {
		line, err := g.side.ReadLineLiterals()
		if err != nil {
			return fail(err)
		}
		if rest, ok := strings.CutPrefix(line, tag+" "); ok {
			r, ok := imapconn.ParseStatus(rest)
			switch {
			case !ok:
				return fail(fmt.Errorf("imap: %s: UID FETCH X-GM-LABELS: bad answer %q", g.side.Addr(), line))
			case !r.OK():
				return imapconn.Classify(r.Err(g.side.Addr() + ": UID FETCH X-GM-LABELS"))
			}
			return nil
		}
		g.side.Untagged(line)
		if uid, labels, ok := parseLabels(line); ok && metas[uid] != nil {
			g.place(metas[uid], labels)
		}
	}
}

// parseLabels reads "* n FETCH (UID u X-GM-LABELS (...))".
func parseLabels(line string) (imap.UID, []string, bool) {
	fs := imapconn.Fields(strings.TrimPrefix(line, "* "))
	if len(fs) != 3 || !strings.EqualFold(fs[1].Text, "FETCH") || fs[2].List == nil {
		return 0, nil, false
	}
	var uid imap.UID
	var labels []string
	seen := false
	items := fs[2].List
	for i := 0; i+1 < len(items); i += 2 {
		switch strings.ToUpper(items[i].Text) {
		case "UID":
			n, err := strconv.ParseUint(items[i+1].Text, 10, 32)
			if err != nil {
				return 0, nil, false
			}
			uid = imap.UID(n)
		case "X-GM-LABELS":
			seen = true
			for _, l := range items[i+1].List {
				name := l.Text
				if d, err := mutf7.Decode(name); err == nil {
					name = d
				}
				labels = append(labels, name)
			}
		}
	}
	return uid, labels, uid != 0 && seen
}

// open dials the side connection and examines All Mail, checking that its
// UIDVALIDITY is the one the export's UIDs belong to.
func (g *gmail) open(ctx context.Context) error {
	if g.side != nil {
		return nil
	}
	raw, err := g.src.Dial(ctx, g.src.Account)
	if err != nil {
		return &dialError{imapconn.Classify(err)}
	}
	var validity uint32
	_, err = raw.Command("EXAMINE "+imapconn.Quote(mutf7.Encode(g.all.name)), func(line string) {
		if r, ok := imapconn.ParseStatus(strings.TrimPrefix(line, "* ")); ok && r.Code == "UIDVALIDITY" {
			if v, err := strconv.ParseUint(r.Args, 10, 32); err == nil {
				validity = uint32(v)
			}
		}
	})
	if err != nil {
		raw.Close()
		return imapconn.Classify(err)
	}
	if validity != g.all.uidValidity {
		raw.Close()
		return retry.MarkPermanent(fmt.Errorf("the UIDVALIDITY of %s is %d for its labels, %d for its messages: it changed while the export ran; export it again", g.all.name, validity, g.all.uidValidity))
	}
	g.side = raw
	return nil
}

func (g *gmail) drop() {
	if g.side != nil {
		g.side.Close()
		g.side = nil
	}
}

// finish reports what the Gmail export counted, once the folders are
// done, and closes the side connection.
func (g *gmail) finish(sink *lockedSink) {
	g.drop()
	sink.AddSkipped(SkipGmailLabel, g.skipped)
	for _, l := range slices.Sorted(maps.Keys(g.unmapped)) {
		sink.AddWarning(format.Problem{Folder: g.all.rec.Path, Item: "(label " + strconv.Quote(l) + ")",
			Reason: fmt.Sprintf("%d messages carry this Gmail label, which no exported folder shows (hidden from IMAP or excluded): the label is not recorded", g.unmapped[l])})
	}
}
