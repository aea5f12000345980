package zimbratest

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/export/zimbra/metadata"
)

// searchIDs runs one SearchRequest and gives its hits' ids by element,
// and its more.
func searchIDs(t *testing.T, s *Server, tok string, req map[string]any) (map[string][]string, bool, []map[string]any) {
	t.Helper()
	req["_jsns"] = "urn:zimbraMail"
	status, b, code := call(t, s, "/service/soap", tok, "SearchRequest", req)
	if code != "" || status != http.StatusOK {
		t.Fatalf("SearchRequest %v: %d %s", req, status, code)
	}
	ids := map[string][]string{}
	var all []map[string]any
	for _, el := range []string{"m", "cn", "appt", "task"} {
		list, _ := b[el].([]any)
		for _, h := range list {
			hm := h.(map[string]any)
			ids[el] = append(ids[el], text(hm["id"]))
			all = append(all, hm)
		}
	}
	return ids, b["more"] == true, all
}

// SearchRequest lists the account's items as Zimbra documents it:
// types, is:anywhere (Trash and Junk in) or the default (out), sortBy,
// limit/offset paging with more, and each hit's id, l, f, tn, s, d, uid.
func TestServerSearch(t *testing.T) {
	s := NewServer(t, ServerOptions{})
	day := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	inbox := Message(300, "/Inbox", 2, "a", day.Add(2*time.Hour))
	inbox.Flags, inbox.Unread, inbox.Tags = FlagFlagged|FlagReplied, 1, []string{"work", `a,b\c`}
	items := []Item{inbox,
		Message(301, "/Inbox", 2, "b", day),
		Message(302, "/Trash", 3, "c", day.Add(time.Hour)),
		Contact(400, "/Contacts", 7, "Bob", day, map[string]string{"firstName": "Bob"}),
		Calendar(TypeAppointment, 500, "/Calendar", 10, "meet", "uid-500", day, metadata.Map{}),
		Calendar(TypeTask, 600, "/Tasks", 15, "do", "uid-600", day, metadata.Map{}),
	}
	s.AddAccount(Account{Name: "ann@example.test", Items: items})
	tok := delegated(t, s, "ann@example.test")

	ids, more, hits := searchIDs(t, s, tok, map[string]any{"types": "message,contact,appointment,task", "query": "is:anywhere", "sortBy": "dateAsc", "limit": 100})
	if more || fmt.Sprint(ids) != "map[appt:[500] cn:[400] m:[301 302 300] task:[600]]" {
		t.Fatalf("is:anywhere dateAsc: %v more=%v", ids, more)
	}
	for _, h := range hits {
		if text(h["id"]) != "300" {
			continue
		}
		if text(h["l"]) != "2" || text(h["f"]) != "rfu" || text(h["tn"]) != `work,a\,b\\c` || text(h["s"]) != fmt.Sprint(len(inbox.Blob)) ||
			text(h["d"]) != fmt.Sprint(inbox.Date.UnixMilli()) {
			t.Errorf("hit 300: %v", h)
		}
	}
	for _, h := range hits {
		if id := text(h["id"]); (id == "500" || id == "600") && text(h["uid"]) != "uid-"+id {
			t.Errorf("calendar hit %s: uid %v", id, h["uid"])
		}
	}
	// The default query leaves Trash and Junk out; types filter.
	ids, _, _ = searchIDs(t, s, tok, map[string]any{"types": "message", "sortBy": "idAsc", "limit": 100})
	if fmt.Sprint(ids) != "map[m:[300 301]]" {
		t.Errorf("default query: %v", ids)
	}
	// Paging: limit 2 over 6 hits, dateDesc (the default order).
	var got []string
	for off := 0; off < 10; off += 2 {
		ids, more, _ := searchIDs(t, s, tok, map[string]any{"types": "message,contact,appointment,task", "query": "is:anywhere", "limit": 2, "offset": off})
		for _, el := range []string{"m", "cn", "appt", "task"} {
			got = append(got, ids[el]...)
		}
		if !more {
			if off != 4 {
				t.Errorf("more false at offset %d", off)
			}
			break
		}
	}
	slices.Sort(got)
	if fmt.Sprint(got) != "[300 301 302 400 500 600]" {
		t.Errorf("pages: %v", got)
	}
	// Unknown types and queries are faults, not silent answers.
	if _, _, code := call(t, s, "/service/soap", tok, "SearchRequest", map[string]any{"query": "is:anywhere"}); code != "service.INVALID_REQUEST" {
		t.Errorf("default types (conversation): %q", code)
	}
	if _, _, code := call(t, s, "/service/soap", tok, "SearchRequest", map[string]any{"types": "message", "query": "from:x"}); code != "mail.QUERY_PARSE_ERROR" {
		t.Errorf("other query: %q", code)
	}
	// SetItems changes what is listed; CutSOAP cuts the next answer.
	s.SetItems("ann@example.test", items[:1])
	ids, _, _ = searchIDs(t, s, tok, map[string]any{"types": "message", "query": "is:anywhere"})
	if fmt.Sprint(ids) != "map[m:[300]]" {
		t.Errorf("after SetItems: %v", ids)
	}
	s.CutSOAP("SearchRequest", 40)
	status, b, code := call(t, s, "/service/soap", tok, "SearchRequest", map[string]any{"types": "message", "query": "is:anywhere"})
	if status != http.StatusOK || b != nil || code != "" {
		t.Errorf("cut answer decoded: %d %v %q", status, b, code)
	}
}
