package compare

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"iter"
	"slices"
	"strconv"
	"strings"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
)

// Item is one item the source held, as expected on the target.
type Item struct {
	Message             // mail: key and flags; Ref is the sourceId
	Kind    format.Kind `json:"kind"`
	UID     string      `json:"uid,omitempty"` // contacts and events
	SHA256  string      `json:"sha256,omitempty"`
	// archive is the index of the newest archive holding the item's data
	// (-1 when none does: known from the state record alone).
	archive int
	// data is the sourceId of that item record.
	data string
}

// Expected is what the source held, folder by folder: with a state
// record in the last archive, that record (folders and flags from it, each
// item's key from the newest archive holding its data); without one, the
// union of the archives' items, the latest version of each sourceId.
// Memory holds a small record per item, never bodies.
type Expected struct {
	Archives []string
	// Folders are the archive's folders of the kinds asked for, in the
	// order the importer meets them: the folder records of each archive,
	// then folders only items or the state name.
	Folders []format.Folder
	Items   map[string][]Item // folder path → items
	// State is the archive whose state record gave the items ("" for
	// the union).
	State string
	Notes []string
}

// Options say which items Read keeps and how it keys a message.
type Options struct {
	// Kinds are the item kinds wanted; folders of the matching kind come
	// with them (mail folders for messages, the others for the rest).
	Kinds []format.Kind
	// Key reads a message's data and returns its Message-ID and size as
	// the importer sends it (line endings made CRLF): the target's
	// RFC822.SIZE. Nil for kinds other than mail.
	Key func(body io.Reader) (msgID string, size int64, err error)
	// Select is the importer's folder selection.
	Select importer.Select
}

type rec struct {
	Item
	folder string
	labels []string
	// msgID is the item record's Message-ID, as the export wrote it (as
	// it writes a state line's).
	msgID string
}

// Read streams the archives (in order: full, then deltas) into the
// expected state.
func Read(ctx context.Context, archives []string, o Options) (*Expected, error) {
	ex := &Expected{Archives: archives, Items: map[string][]Item{}}
	mailWanted := slices.Contains(o.Kinds, format.KindMessage)
	seenFolder := map[string]bool{}
	// A contacts and a calendar folder may share a path.
	addFolder := func(f format.Folder) {
		if !seenFolder[f.Path] || !slices.ContainsFunc(ex.Folders, func(g format.Folder) bool { return g.Path == f.Path && g.Kind == f.Kind }) {
			seenFolder[f.Path] = true
			ex.Folders = append(ex.Folders, f)
		}
	}
	recs := map[string]*rec{}
	byName := map[string]string{} // sourceId less its folder → sourceId (a Maildir's state key)
	byUID := map[string]string{}  // folder, NUL, UID → sourceId
	// byMsgID finds an mbox's message whose sourceId, an offset, shifted
	// when the file was rewritten: Message-ID (bare) → sourceId.
	byMsgID := map[string]string{}
	var state []format.StateItem
	stateOf := ""
	unreadable := 0
	idx := map[string]int{}
	for i, a := range archives {
		idx[a] = i
	}
	err := importer.Walk(ctx, archives, importer.Visitor{
		Folder: func(archive string, f format.Folder, _ []string) error {
			if (f.Kind == format.FolderMail) == mailWanted && o.Select.KeepFolder(f.Path) {
				addFolder(f)
			}
			return nil
		},
		Item: func(archive string, e *format.Entry) error {
			it := e.Item
			if !slices.Contains(o.Kinds, it.Kind) || !o.Select.KeepFolder(it.Folder) {
				return nil
			}
			r := &rec{Item: Item{Kind: it.Kind, UID: it.UID, SHA256: it.SHA256, archive: idx[archive], data: it.SourceID,
				Message: Message{MessageID: it.MessageID, Size: it.Size, Flags: it.Flags, Ref: it.SourceID}},
				folder: it.Folder, labels: it.Labels, msgID: it.MessageID}
			if it.Kind == format.KindMessage && o.Key != nil {
				id, size, err := o.Key(e.Body)
				if err != nil {
					// A damaged item: the import failed it too.
					unreadable++
					return nil
				}
				r.MessageID, r.Size = id, size
			}
			recs[it.SourceID] = r
			if name, ok := strings.CutPrefix(it.SourceID, it.Folder+"/"); ok {
				byName[name] = it.SourceID
			}
			if it.UID != "" {
				byUID[it.Folder+"\x00"+it.UID] = it.SourceID
			}
			if it.MessageID != "" {
				byMsgID[BareID(it.MessageID)] = it.SourceID
			}
			return nil
		},
		State: func(archive string, items iter.Seq2[format.StateItem, error]) error {
			state, stateOf = state[:0], archive
			for s, err := range items {
				if err != nil {
					return err
				}
				if slices.Contains(o.Kinds, s.Kind) && o.Select.KeepFolder(s.Folder) {
					s.ETag, s.Received = "", s.Received.UTC()
					state = append(state, s)
				}
			}
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	if unreadable > 0 {
		ex.Notes = append(ex.Notes, fmt.Sprintf("%d messages are damaged in the archives and were not compared", unreadable))
	}
	last := archives[len(archives)-1]
	kind := format.FolderMail
	if !mailWanted {
		kind = ""
	}
	add := func(folder string, it Item) {
		if !seenFolder[folder] {
			addFolder(format.Folder{Kind: kind, Path: folder})
		}
		ex.Items[folder] = append(ex.Items[folder], it)
	}
	if stateOf != "" && stateOf != last {
		ex.Notes = append(ex.Notes, fmt.Sprintf("the last archive (%s) has no state record: expected is every item of the archives, as the import does not apply %s's state either", last, stateOf))
	}
	if stateOf == last {
		ex.State = last
		unknown := 0
		for _, s := range state {
			r := recs[s.SourceID]
			if r != nil && s.MessageID != "" && r.msgID != "" && BareID(r.msgID) != BareID(s.MessageID) {
				r = nil // that sourceId (an mbox offset) is another message now
			}
			if r == nil && s.MessageID != "" && s.Key == "" && s.UID == "" {
				r = recs[byMsgID[BareID(s.MessageID)]]
			}
			if r == nil && s.Key != "" {
				r = recs[byName[s.Key]]
			}
			if r == nil && s.UID != "" {
				r = recs[byUID[s.Folder+"\x00"+s.UID]]
			}
			it := Item{Kind: s.Kind, UID: s.UID, SHA256: s.SHA256, archive: -1,
				Message: Message{MessageID: s.MessageID, Size: s.Size, Flags: s.Flags, Ref: s.SourceID}}
			if r != nil {
				it.archive, it.data = r.archive, r.data
				it.MessageID, it.Size = r.MessageID, r.Size
				if it.UID == "" {
					it.UID = r.UID
				}
			} else {
				unknown++
			}
			add(s.Folder, it)
		}
		if unknown > 0 {
			ex.Notes = append(ex.Notes, fmt.Sprintf("%d items of the state record are in none of the archives: compared by what the state gives (Message-ID and size as the source counted them)", unknown))
		}
		return ex, nil
	}
	// The union, in a stable order: by folder order, then sourceId.
	ids := make([]string, 0, len(recs))
	for id := range recs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		r := recs[id]
		add(r.folder, r.Item)
		for _, l := range r.labels {
			if l != r.folder && o.Select.KeepFolder(l) {
				add(l, r.Item)
			}
		}
	}
	return ex, nil
}

// BareID is a Message-ID without its angle brackets: a message's header
// has them, an archive's state line may not.
func BareID(id string) string { return strings.TrimSuffix(strings.TrimPrefix(id, "<"), ">") }

// Known reports whether the item's data is in one of the archives (else
// it is known from the state record alone, and Bodies gives it not).
func (it Item) Known() bool { return it.archive >= 0 }

// Bodies walks the archives again and calls fn with each expected item
// of folder and its data, read from the newest archive holding it, one
// at a time.
func (ex *Expected) Bodies(ctx context.Context, fn func(folder string, it Item, body io.Reader) error) error {
	type at struct {
		folder string
		i      int
	}
	want := map[string][]at{}
	for folder, items := range ex.Items {
		for i, it := range items {
			if it.archive >= 0 {
				k := strconv.Itoa(it.archive) + "\x00" + it.data
				want[k] = append(want[k], at{folder, i})
			}
		}
	}
	idx := map[string]int{}
	for i, a := range ex.Archives {
		idx[a] = i
	}
	return importer.Walk(ctx, ex.Archives, importer.Visitor{
		Item: func(archive string, e *format.Entry) error {
			ats := want[strconv.Itoa(idx[archive])+"\x00"+e.Item.SourceID]
			if len(ats) == 0 {
				return nil
			}
			if len(ats) > 1 {
				// Shown in several folders (labels): read once.
				b, err := io.ReadAll(e.Body)
				if err != nil {
					return nil // damaged: the import failed it too
				}
				for _, a := range ats {
					if err := fn(a.folder, ex.Items[a.folder][a.i], bytes.NewReader(b)); err != nil {
						return err
					}
				}
				return nil
			}
			return fn(ats[0].folder, ex.Items[ats[0].folder][ats[0].i], e.Body)
		},
	})
}
