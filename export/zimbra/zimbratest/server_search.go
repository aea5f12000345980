package zimbratest

import (
	"slices"
	"strconv"
	"strings"

	"github.com/mailhaul/mailhaul/export/zimbra/metadata"
)

// SetItems replaces the items an account's SearchRequest lists, as the
// mailbox changes (a flag set, a message moved or deleted, new mail).
func (s *Server) SetItems(name string, items []Item) {
	s.locked(func() {
		if a := s.accounts[strings.ToLower(name)]; a != nil {
			a.Items = slices.Clone(items)
		}
	})
}

// CutSOAP makes the next answers to the request name send that many
// bytes of their JSON body and end there normally: an answer cut short
// without an error (a proxy in front of a mailboxd that died).
func (s *Server) CutSOAP(name string, after ...int64) {
	s.locked(func() {
		if s.soapCuts == nil {
			s.soapCuts = map[string][]int64{}
		}
		s.soapCuts[name] = append(s.soapCuts[name], after...)
	})
}

// takeCut pops CutSOAP's next byte count for name.
func (s *Server) takeCut(name string) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.soapCuts[name]
	if len(q) == 0 {
		return 0, false
	}
	s.soapCuts[name] = q[1:]
	return q[0], true
}

// searchTypes are SearchRequest's types the fake answers, with the
// element each hit is: m, cn, appt, task (MailConstants).
var searchTypes = map[string]struct {
	typ  byte
	elem string
}{"message": {TypeMessage, "m"}, "contact": {TypeContact, "cn"}, "appointment": {TypeAppointment, "appt"}, "task": {TypeTask, "task"}}

// search answers SearchRequest over a's Items as Zimbra documents it
// (soap-mail SearchRequest): types (a comma list; Zimbra's default,
// conversation, is not served), query ("is:anywhere": every folder;
// empty: all but Trash and Junk, as the default preferences search),
// sortBy (dateDesc by default, dateAsc, idAsc, idDesc, none), limit
// (default 10, at most 1000) and offset; the answer has more, and one
// <m>, <cn>, <appt> or <task> per hit with id, l (folder), f (flags),
// tn (tag names), s (size), d (date, ms) and, for calendar items, uid.
// Ids are qualified ("<zimbraId>:N") for an admin acting on the account.
func (s *Server) search(a *Account, req obj, qualified bool) (obj, *fault) {
	want := map[byte]string{}
	types := text(req["types"])
	if types == "" {
		types = "conversation"
	}
	for _, t := range strings.Split(types, ",") {
		st, ok := searchTypes[strings.TrimSpace(t)]
		if !ok {
			return nil, faultf("service.INVALID_REQUEST", "fake Zimbra: search type %q not served", t)
		}
		want[st.typ] = st.elem
	}
	trashOrJunk := map[int]bool{}
	var anywhere bool
	switch q := text(req["query"]); q {
	case "is:anywhere":
		anywhere = true
	case "":
		for _, f := range a.Folders {
			if f.ID == 3 || f.ID == 4 {
				markTree(f, trashOrJunk)
			}
		}
	default:
		return nil, faultf("mail.QUERY_PARSE_ERROR", "fake Zimbra: query %q not served", q)
	}
	var hits []Item
	for _, it := range a.Items {
		if _, ok := want[it.Type]; ok && (anywhere || !trashOrJunk[it.FolderID]) {
			hits = append(hits, it)
		}
	}
	byID := func(x, y Item) int { return x.ID - y.ID }
	sortBy := text(req["sortBy"])
	switch sortBy {
	case "", "dateDesc":
		sortBy = "dateDesc"
		slices.SortStableFunc(hits, func(x, y Item) int { return cmpOr(y.Date.Compare(x.Date), byID(y, x)) })
	case "dateAsc":
		slices.SortStableFunc(hits, func(x, y Item) int { return cmpOr(x.Date.Compare(y.Date), byID(x, y)) })
	case "idAsc":
		slices.SortStableFunc(hits, byID)
	case "idDesc":
		slices.SortStableFunc(hits, func(x, y Item) int { return byID(y, x) })
	case "none":
	default:
		return nil, faultf("service.INVALID_REQUEST", "fake Zimbra: sortBy %q not served", sortBy)
	}
	limit, offset := 10, 0
	if v := text(req["limit"]); v != "" {
		limit, _ = strconv.Atoi(v)
	}
	if v := text(req["offset"]); v != "" {
		offset, _ = strconv.Atoi(v)
	}
	limit, offset = min(max(limit, 1), 1000), max0(offset)
	page := hits[min(offset, len(hits)):min(offset+limit, len(hits))]
	id := strconv.Itoa
	if qualified {
		id = func(n int) string { return a.ID + ":" + strconv.Itoa(n) }
	}
	resp := obj{"sortBy": sortBy, "offset": offset, "more": offset+len(page) < len(hits)}
	for _, it := range page {
		h := obj{"id": id(it.ID), "l": id(it.FolderID), "s": len(it.Blob), "d": it.Date.UnixMilli()}
		if f := it.FlagStr(); f != "" {
			h["f"] = f
		}
		if len(it.Tags) > 0 {
			h["tn"] = searchTags(it.Tags)
		}
		if it.Type == TypeAppointment || it.Type == TypeTask {
			if md, err := metadata.Decode(it.Metadata); err == nil {
				if uid, ok := md["u"].(string); ok {
					h["uid"] = uid
				}
			}
		}
		elem := want[it.Type]
		list, _ := resp[elem].([]any)
		resp[elem] = append(list, h)
	}
	return resp, nil
}

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

// markTree marks f and every folder under it.
func markTree(f *Folder, in map[int]bool) {
	in[f.ID] = true
	for _, c := range f.Sub {
		markTree(c, in)
	}
}

// searchTags is a hit's tn: the tag names joined by ',', each ',' and
// '\' escaped by '\' (TagUtil.encodeTags).
func searchTags(tags []string) string {
	esc := make([]string, len(tags))
	for i, t := range tags {
		esc[i] = strings.ReplaceAll(strings.ReplaceAll(t, `\`, `\\`), ",", `\,`)
	}
	return strings.Join(esc, ",")
}
