package zimbra

// The state record of a live delta (format/FORMAT.md, "The state
// record"): the REST export of a delta holds only what changed, so what
// the mailbox holds is asked of SearchRequest, page by page.

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/zimbra/soap"
	"github.com/mailhaul/mailhaul/export/zimbra/tgz"
	"github.com/mailhaul/mailhaul/format"
)

// noStateReason is why a delta from zmmailbox or from tgz files carries
// no state record.
const noStateReason = "this delta carries no state record: %s, so flags, moves and deletions since the export before it " +
	"are not carried (an import adds what is new and changes nothing else); export with --url to carry them"

// hitTypes are the tgz item types of SearchRequest's hit elements.
var hitTypes = map[string]int{"m": tgz.TypeMessage, "cn": tgz.TypeContact, "appt": tgz.TypeAppointment, "task": tgz.TypeTask}

// addState writes one state line for every message, contact,
// appointment and task of the mailbox (soap.Client.Items), with the
// sourceId, folder and flags the full export gives the item: the folder
// by its id in the tree read just before the listing, through the same
// kindFolder, and the flags through zimbraFlags. Contacts carry no UID or
// digest (both need the contact's data: an importer knows them by
// sourceId), appointments and tasks their UID. Only a set of ids is held
// (an item listed twice, as a deletion shifts the pages, is taken once).
//
// A listing that fails is the export's error: no archive, never a
// partial state, which would read as deletions. A folder whose count
// (GetFolderRequest n, before and after the listing, the smaller) exceeds
// what the listing gave is an error naming it, so that an importer takes
// no deletion from it; items in a folder the tree did not hold yet are an
// error naming no folder (no deletion anywhere).
func (l *Live) addState(x *exporter) error {
	before, err := l.Client.Folders(x.ctx, l.Account)
	if err != nil {
		return fmt.Errorf("zimbra: the delta's state record: %w", err)
	}
	paths := map[int]string{}
	before.Walk(func(f *soap.Folder) error {
		if id, err := strconv.Atoi(f.ID); err == nil && f.Kind == soap.KindFolder {
			paths[id] = f.Path
		}
		return nil
	})
	held := map[int]int{}
	var seen idSet
	unknown := 0
	err = l.Client.Items(x.ctx, l.Account, 0, func(h soap.Hit) error {
		typ := hitTypes[h.Type]
		if typ == 0 || seen.has(h.ID) {
			return nil
		}
		seen.add(h.ID)
		zp, ok := paths[h.Folder]
		if !ok {
			unknown++
			return nil
		}
		held[h.Folder]++
		s := format.StateItem{SourceID: fmt.Sprint("zimbra:", h.ID)}
		if typ == tgz.TypeMessage {
			s.Kind = format.KindMessage
			s.Flags, _ = zimbraFlags(!strings.Contains(h.Flags, "u"), h.Flags, 0, tgz.SplitTags(h.TagNames, ','))
			s.Size = h.Size
			if !h.Date.IsZero() {
				s.Received = h.Date.Truncate(1e9) // a .meta's date is in seconds
			}
		} else {
			s.Kind = pimKind(typ)
			s.UID = h.UID
		}
		f, err := x.kindFolder(zp, s.Kind.FolderKind())
		if err != nil {
			return err
		}
		s.Folder = f.path
		return export.AddState(x.sink, s)
	})
	if err != nil {
		if x.ctx.Err() != nil {
			return x.ctx.Err()
		}
		return fmt.Errorf("zimbra: the delta's state record (no archive written: an incomplete one would read as deletions): %w", err)
	}
	if unknown > 0 {
		x.sink.AddError(format.Problem{Item: "state record", Reason: fmt.Sprintf("%d items are in folders made while the mailbox was listed, "+
			"not in the state record: it is no evidence of deletions", unknown)})
	}
	after, err := l.Client.Folders(x.ctx, l.Account)
	if err != nil {
		if x.ctx.Err() != nil {
			return x.ctx.Err()
		}
		x.sink.AddWarning(format.Problem{Item: "state record", Reason: "folder counts not read again after the listing (" + err.Error() +
			"): the listing was checked against the counts before it alone"})
		after = nil
	}
	countCheck{held: held, noun: "SearchRequest listed", when: "the listing", path: x.statePath,
		skip: func(f *soap.Folder) bool {
			id, _ := strconv.Atoi(f.ID)
			return kindOf(id, treeViews[f.View]) == "" // documents, chats: never listed
		}}.run(x.sink, before, after)
	return nil
}

// statePath is the archive path of the Zimbra folder zp, as its items
// have it (a folder renamed to be safe keeps its safe name).
func (x *exporter) statePath(zp string) string {
	if f := x.folders[zp]; f != nil && f.path != "" {
		return f.path
	}
	return archivePath(zp)
}
