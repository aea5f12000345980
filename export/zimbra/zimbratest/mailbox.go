package zimbratest

import (
	"cmp"
	"encoding/pem"
	"io"
	"slices"
)

// CertificatePEM is the fake's certificate, for a client that reads the
// certificates to trust from a file (mailhaul's --tls-ca).
func (s *Server) CertificatePEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.ts.Certificate().Raw})
}

// Mailbox is one account's items served by a fake Zimbra: Content
// answers its REST exports with this package's writer, Folders gives its
// GetFolderRequest tree with the counts.
type Mailbox struct {
	Items []Item // folders (the roots and system ones, SystemFolders) and what they hold
	// Views and Colors are GetFolderRequest's view and colour index of
	// user folders, by id (default: message, none).
	Views  map[int]string
	Colors map[int]int
	// Queries are search folders' queries by id (default "is:unread");
	// Links mountpoints' targets by id (default the Inbox, id 2, of
	// shared@example.test).
	Queries map[int]string
	Links   map[int]Link
}

// Content writes the export e of the mailbox: the folder .meta entries
// when e carries them (a plain export; that folder and those below it),
// then the items e includes, in the order given; nothing (HTTP 204) when
// nothing matches.
func (m Mailbox) Content(e Export, w io.Writer) error {
	var sel []Item
	for _, it := range m.Items {
		if isFolder(it.Type) {
			if e.FolderMeta && (e.Folder == "/" || under(it.Path(), e.Folder)) {
				sel = append(sel, it)
			}
			continue
		}
		if e.Includes(it.Folder, it.Date) {
			sel = append(sel, it)
		}
	}
	if len(sel) == 0 {
		return nil
	}
	zw := NewWriter(w, Options{})
	for _, it := range sel {
		if err := zw.Add(it); err != nil {
			return err
		}
	}
	return zw.Close()
}

// Folders is the tree below USER_ROOT as GetFolderRequest gives it, with
// each folder's item count n (extra adds to the counts by folder id, for
// a store that lost items the export then lacks).
func (m Mailbox) Folders(extra map[int]int) []*Folder {
	byID := map[int]*Folder{}
	var top []*Folder
	for _, it := range m.Items {
		if !isFolder(it.Type) || it.isRoot() {
			continue
		}
		f := &Folder{ID: it.ID, Name: it.Name, View: systemViews[it.ID], N: extra[it.ID], Color: m.Colors[it.ID]}
		if v := m.Views[it.ID]; v != "" {
			f.View = v
		}
		if f.View == "" {
			f.View = "message"
		}
		switch it.Type {
		case TypeSearchFolder:
			f.Query = cmp.Or(m.Queries[it.ID], "is:unread")
		case TypeMountpoint:
			l, ok := m.Links[it.ID]
			if !ok {
				l = Link{Owner: "shared@example.test", ZID: "9f0d4c2e-0000-4000-8000-00000000beef", RID: 2}
			}
			f.Link = &l
		}
		byID[it.ID] = f
		if p := byID[it.FolderID]; p != nil {
			p.Sub = append(p.Sub, f)
		} else {
			top = append(top, f)
		}
	}
	for _, it := range m.Items {
		if f := byID[it.FolderID]; f != nil && !isFolder(it.Type) && it.Type != TypeConversation {
			f.N++
		}
	}
	slices.SortFunc(top, func(a, b *Folder) int { return a.ID - b.ID })
	return top
}

// systemViews are the default views of Zimbra's system folders.
var systemViews = map[int]string{3: "", 7: "contact", 10: "appointment", 13: "contact", 15: "task", 16: "document"}
