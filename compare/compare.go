// Package compare tells whether a target holds what a user's archives say
// the source held: the expected state (a full archive plus its deltas, or
// the latest delta's state record) against a listing of the target, folder
// by folder. It holds the model and the diff only; each importer lists its
// own target (importer/imap, importer/dav) and cmd prints the result.
package compare

import (
	"slices"
	"strconv"
	"strings"
)

// Message is one message as compare knows it, on either side: what can be
// had cheaply from an IMAP server (Message-ID, RFC822.SIZE, FLAGS) and,
// from the archives, the same computed the way the importer sends it.
type Message struct {
	MessageID string   `json:"messageId,omitempty"`
	Size      int64    `json:"size"`
	Flags     []string `json:"flags,omitempty"`
	// Ref names the message: its sourceId on the source side, "UID n" on
	// the target.
	Ref string `json:"ref"`
}

// key is how a message is matched: Message-ID and size, or size alone
// for messages without a Message-ID.
func (m Message) key() string {
	return m.MessageID + "\x00" + strconv.FormatInt(m.Size, 10)
}

// NormFlags is a flag list as compared: lower-cased, without \Recent
// (which no client sets), each once, sorted.
func NormFlags(fs []string) []string {
	out := []string{}
	for _, f := range fs {
		if f = strings.ToLower(f); f != `\recent` && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return out
}

// SameFlags compares two flag lists as sets (see NormFlags).
func SameFlags(a, b []string) bool { return slices.Equal(NormFlags(a), NormFlags(b)) }

// Difference is one listed difference: an item missing on the target,
// copied there too often, there but never at the source, or there with
// other flags or content.
type Difference struct {
	Ref       string `json:"ref"`                 // sourceId, or the target's "UID n" / UID for an extra
	MessageID string `json:"messageId,omitempty"` // mail
	Size      int64  `json:"size,omitempty"`      // mail
	// Copies is, for a duplicate, how many more copies the target holds
	// than the source.
	Copies int `json:"copies,omitempty"`
	// Source and Target are the flags of a flag difference.
	Source []string `json:"source,omitempty"`
	Target []string `json:"target,omitempty"`
	// Reason says what differs in content (DAV).
	Reason string `json:"reason,omitempty"`
}

// Folder is one target folder's comparison: the archive folders mapped
// there, the target's name, imapsync-style counts, and what differs.
type Folder struct {
	Source []string `json:"source"` // archive folder paths
	Target string   `json:"target"` // mailbox or collection
	// Absent is set when the target has no such folder.
	Absent      bool         `json:"absent,omitempty"`
	SourceCount int          `json:"sourceCount"`
	TargetCount int          `json:"targetCount"`
	SourceBytes int64        `json:"sourceBytes"`
	TargetBytes int64        `json:"targetBytes"`
	Missing     []Difference `json:"missing,omitempty"`
	Duplicates  []Difference `json:"duplicates,omitempty"`
	Extra       []Difference `json:"extra,omitempty"`
	Flags       []Difference `json:"flags,omitempty"`
	Content     []Difference `json:"content,omitempty"`
}

// Differs reports whether the folder differs in anything mailhaul should
// have carried: missing, duplicated, other flags or content. Extra items
// (the user's own new mail) do not count.
func (f *Folder) Differs() bool {
	return len(f.Missing)+len(f.Duplicates)+len(f.Flags)+len(f.Content) > 0
}

// Result is a whole comparison of one user's archives with a target.
type Result struct {
	Event    string   `json:"event"` // "compare"
	Kind     string   `json:"kind"`  // "imap", "dav"
	User     string   `json:"user"`
	Target   string   `json:"target"`
	Archives []string `json:"archives"`
	// State names the archive whose state record gave the expected state;
	// "" when it is the union of the archives' items.
	State   string   `json:"state,omitempty"`
	Folders []Folder `json:"folders"`
	// Notes say what could not be compared, or how (an item unreadable in
	// an archive, a folder the target refuses).
	Notes []string `json:"notes,omitempty"`
	// Status is "equal" or "differs", set by Finish.
	Status string `json:"status"`
	// Totals over the folders.
	Missing    int `json:"missing"`
	Duplicates int `json:"duplicates"`
	Extra      int `json:"extra"`
	FlagDiffs  int `json:"flagDifferences"`
	Content    int `json:"contentDifferences"`
}

// Differs reports whether any folder differs (see Folder.Differs).
func (r *Result) Differs() bool {
	for i := range r.Folders {
		if r.Folders[i].Differs() {
			return true
		}
	}
	return false
}

// Finish sets the totals and the status.
func (r *Result) Finish() {
	r.Event = "compare"
	r.Missing, r.Duplicates, r.Extra, r.FlagDiffs, r.Content = 0, 0, 0, 0, 0
	for _, f := range r.Folders {
		r.Missing += len(f.Missing)
		for _, d := range f.Duplicates {
			r.Duplicates += d.Copies
		}
		r.Extra += len(f.Extra)
		r.FlagDiffs += len(f.Flags)
		r.Content += len(f.Content)
	}
	r.Status = "equal"
	if r.Differs() {
		r.Status = "differs"
	}
}

// Mail compares one target folder's messages with what the source held
// there. Messages are matched by (Message-ID, size) as multisets (those
// without Message-ID by size): k copies at the source and j on the target
// are min(k, j) matched, k − j missing or j − k duplicates (extra when
// the source never had the key). Matched copies are paired equal flags
// first, and the pairs left with other flags are flag differences.
func Mail(f *Folder, source, target []Message) {
	f.SourceCount, f.TargetCount = len(source), len(target)
	src, keys, sb := byKey(source)
	tgt, tkeys, tb := byKey(target)
	f.SourceBytes, f.TargetBytes = sb, tb
	for _, k := range keys {
		s, t := src[k], tgt[k]
		s, t = pairEqualFlags(s, t)
		n := min(len(s), len(t))
		for i := range n {
			f.Flags = append(f.Flags, Difference{Ref: s[i].Ref, MessageID: s[i].MessageID, Size: s[i].Size,
				Source: NormFlags(s[i].Flags), Target: NormFlags(t[i].Flags)})
		}
		for _, m := range s[n:] {
			f.Missing = append(f.Missing, Difference{Ref: m.Ref, MessageID: m.MessageID, Size: m.Size})
		}
		if extra := t[n:]; len(extra) > 0 {
			d := Difference{Ref: extra[0].Ref, MessageID: extra[0].MessageID, Size: extra[0].Size, Copies: len(extra)}
			f.Duplicates = append(f.Duplicates, d)
		}
	}
	for _, k := range tkeys {
		if _, ok := src[k]; ok {
			continue
		}
		for _, m := range tgt[k] {
			f.Extra = append(f.Extra, Difference{Ref: m.Ref, MessageID: m.MessageID, Size: m.Size})
		}
	}
}

// byKey groups messages by key, the keys in the order met, and sums
// their sizes.
func byKey(ms []Message) (map[string][]Message, []string, int64) {
	by := map[string][]Message{}
	var keys []string
	var bytes int64
	for _, m := range ms {
		bytes += m.Size
		k := m.key()
		if _, ok := by[k]; !ok {
			keys = append(keys, k)
		}
		by[k] = append(by[k], m)
	}
	return by, keys, bytes
}

// pairEqualFlags takes out the source and target copies whose flags are
// the same, pair by pair, and returns those left in their order.
func pairEqualFlags(s, t []Message) ([]Message, []Message) {
	avail := map[string]int{} // normalised flags → target copies not paired
	for _, o := range t {
		avail[strings.Join(NormFlags(o.Flags), " ")]++
	}
	var restS []Message
	paired := map[string]int{}
	for _, m := range s {
		fk := strings.Join(NormFlags(m.Flags), " ")
		if avail[fk] > 0 {
			avail[fk]--
			paired[fk]++
			continue
		}
		restS = append(restS, m)
	}
	var restT []Message
	for _, o := range t {
		fk := strings.Join(NormFlags(o.Flags), " ")
		if paired[fk] > 0 {
			paired[fk]--
			continue
		}
		restT = append(restT, o)
	}
	return restS, restT
}
