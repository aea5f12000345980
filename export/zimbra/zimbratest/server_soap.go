package zimbratest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// obj is a decoded JSON SOAP element.
type obj = map[string]any

// text reads a JSON SOAP value as Zimbra's JSONElement accepts it: an
// attribute ("k":"v" or a number), an element ({"_content":"v"}) or the
// first of repeated elements ([{"_content":"v"}]).
func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case map[string]any:
		return text(x["_content"])
	case []any:
		if len(x) > 0 {
			return text(x[0])
		}
	}
	return ""
}

// child is the element k of m (the first when repeated).
func child(m obj, k string) obj {
	switch x := m[k].(type) {
	case map[string]any:
		return x
	case []any:
		if len(x) > 0 {
			if c, ok := x[0].(map[string]any); ok {
				return c
			}
		}
	}
	return nil
}

// fault is a SOAP fault as Zimbra sends it: HTTP 500 and the code at
// Body.Fault.Detail.Error.Code.
type fault struct{ code, reason string }

func (f *fault) Error() string { return f.code + ": " + f.reason }

func faultf(code, format string, args ...any) *fault {
	return &fault{code: code, reason: fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	// As Zimbra's SoapJSProtocol.getContentType labels every JSON answer.
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeFault(w http.ResponseWriter, f *fault) {
	side := "soap:Sender"
	if f.code == "service.FAILURE" {
		side = "soap:Receiver"
	}
	writeJSON(w, http.StatusInternalServerError, obj{
		"Body": obj{"Fault": obj{
			"Code":   obj{"Value": side},
			"Reason": obj{"Text": f.reason},
			"Detail": obj{"Error": obj{"Code": f.code, "Trace": "qtp1-1:fake", "_jsns": "urn:zimbra"}},
		}},
		"_jsns": "urn:zimbraSoap",
	})
}

// soap serves the admin (7071) or the user SOAP endpoint in JSON form.
func (s *Server) soap(admin bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if st := s.takeFault(&s.soapFail); st != 0 {
			http.Error(w, http.StatusText(st), st)
			return
		}
		if hold, ok := s.takeStall(); ok {
			sw := &shortWriter{ResponseWriter: w, left: hold}
			defer sw.stall(r, s.quit)
			w = sw
		}
		var env struct {
			Header struct {
				Context obj `json:"context"`
			}
			Body map[string]obj
		}
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			return
		}
		if !strings.HasPrefix(strings.TrimSpace(string(b)), "{") {
			writeFault(w, faultf("service.PARSE_ERROR", "fake Zimbra speaks the JSON form only"))
			return
		}
		if err := json.Unmarshal(b, &env); err != nil || len(env.Body) != 1 {
			writeFault(w, faultf("service.PARSE_ERROR", "bad JSON envelope"))
			return
		}
		var name string
		var req obj
		for k, v := range env.Body {
			name, req = k, v
		}
		s.mu.Lock()
		s.stats.SOAP[name]++
		s.mu.Unlock()
		if s.o.OnSOAP != nil {
			s.o.OnSOAP(name)
		}
		if n, ok := s.takeCut(name); ok {
			w = &shortWriter{ResponseWriter: w, left: n} // and the answer ends
		}
		tok := text(env.Header.Context["authToken"])
		if tok == "" {
			cookie := "ZM_AUTH_TOKEN"
			if admin {
				cookie = "ZM_ADMIN_AUTH_TOKEN"
			}
			if c, err := r.Cookie(cookie); err == nil {
				tok = c.Value
			}
		}
		resp, f := s.dispatch(admin, name, req, tok, child(env.Header.Context, "account"))
		if f != nil {
			writeFault(w, f)
			return
		}
		resp["_jsns"] = text(req["_jsns"])
		writeJSON(w, http.StatusOK, obj{
			"Header": obj{"context": obj{"_jsns": "urn:zimbra"}},
			"Body":   obj{strings.TrimSuffix(name, "Request") + "Response": resp},
			"_jsns":  "urn:zimbraSoap",
		})
	}
}

// takeStall pops StallSOAP's next byte count.
func (s *Server) takeStall() (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.soapHold) == 0 {
		return 0, false
	}
	n := s.soapHold[0]
	s.soapHold = s.soapHold[1:]
	return n, true
}

// shortWriter passes the headers and the first left bytes of an answer,
// and drops the rest: the answer ends there, or stalls (stall).
type shortWriter struct {
	http.ResponseWriter
	left int64
}

func (sw *shortWriter) Write(p []byte) (int, error) {
	n := min(int64(len(p)), sw.left)
	sw.left -= n
	sw.ResponseWriter.Write(p[:n])
	return len(p), nil
}

// stall sends what was passed, then says nothing until the client hangs
// up, and drops the connection.
func (sw *shortWriter) stall(r *http.Request, quit <-chan struct{}) {
	if f, ok := sw.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
	select {
	case <-r.Context().Done():
	case <-quit:
	}
	panic(http.ErrAbortHandler)
}

func (s *Server) dispatch(admin bool, name string, req obj, tok string, target obj) (obj, *fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if name == "AuthRequest" && admin {
		return s.auth(req)
	}
	t, code := s.check(tok)
	if code != "" {
		return nil, faultf(code, "no valid authtoken present")
	}
	if admin {
		if t.account != "" {
			return nil, faultf("service.PERM_DENIED", "permission denied: need adequate admin token")
		}
		switch name {
		case "DelegateAuthRequest":
			return s.delegate(req)
		case "SearchDirectoryRequest":
			return s.searchDirectory(req)
		case "GetAccountRequest":
			return s.getAccount(req)
		case "GetMailboxRequest":
			return s.getMailbox(req)
		case "GetAccountMembershipRequest":
			a, f := s.account(req)
			if f != nil {
				return nil, f
			}
			var dls []any
			for _, dl := range a.MemberOf {
				dls = append(dls, obj{"name": dl, "id": "dl-" + dl})
			}
			return obj{"dl": dls}, nil
		}
		return nil, faultf("service.UNKNOWN_DOCUMENT", "unknown document: %s", name)
	}
	account := t.account
	if account == "" && target != nil { // an admin acting on an account
		account = strings.ToLower(text(target))
	}
	a := s.accounts[account]
	if a == nil {
		return nil, faultf("account.NO_SUCH_ACCOUNT", "no such account: %s", account)
	}
	switch name {
	case "GetFolderRequest":
		// An admin token acting on the account gets ids qualified by the
		// account's zimbraId ("<zimbraId>:2"), as ItemIdFormatter writes
		// ids of a mailbox other than the authenticated account's.
		return obj{"folder": []any{rootFolder(a, t.account == "")}}, nil
	case "SearchRequest":
		return s.search(a, req, t.account == "")
	case "GetSignaturesRequest":
		var sigs []any
		for i, sg := range a.Signatures {
			var content []any
			if sg.Text != "" {
				content = append(content, obj{"type": "text/plain", "_content": sg.Text})
			}
			if sg.HTML != "" {
				content = append(content, obj{"type": "text/html", "_content": sg.HTML})
			}
			sigs = append(sigs, obj{"name": sg.Name, "id": fmt.Sprintf("sig-%d", i), "content": content})
		}
		return obj{"signature": sigs}, nil
	case "GetIdentitiesRequest":
		var ids []any
		for i, id := range a.Identities {
			pairs := obj{"zimbraPrefIdentityName": id.Name}
			for k, v := range id.Attrs {
				if len(v) == 1 {
					pairs[k] = v[0]
				} else {
					pairs[k] = v
				}
			}
			ids = append(ids, obj{"name": id.Name, "id": fmt.Sprintf("id-%d", i), "_attrs": pairs})
		}
		return obj{"identity": ids}, nil
	}
	return nil, faultf("service.UNKNOWN_DOCUMENT", "unknown document: %s", name)
}

func (s *Server) auth(req obj) (obj, *fault) {
	name := text(req["name"])
	if name == "" {
		name = text(req["account"])
	}
	if !strings.EqualFold(name, s.o.AdminName) || text(req["password"]) != s.o.AdminPassword {
		return nil, faultf("account.AUTH_FAILED", "authentication failed for [%s]", name)
	}
	return obj{"authToken": []any{obj{"_content": s.issue("", s.o.AdminLifetime)}}, "lifetime": ms(s.o.AdminLifetime)}, nil
}

// account finds the account a request's <account by=name|id> names.
func (s *Server) account(req obj) (*Account, *fault) {
	sel := child(req, "account")
	key := text(sel)
	if text(sel["by"]) == "id" {
		for _, a := range s.accounts {
			if a.ID == key {
				return a, nil
			}
		}
	} else if a := s.accounts[strings.ToLower(key)]; a != nil {
		return a, nil
	}
	return nil, faultf("account.NO_SUCH_ACCOUNT", "no such account: %s", key)
}

func (s *Server) delegate(req obj) (obj, *fault) {
	a, f := s.account(req)
	if f != nil {
		return nil, f
	}
	life := s.o.DelegateLifetime
	if d, err := strconv.Atoi(text(req["duration"])); err == nil && d > 0 {
		life = min(life, time.Duration(d)*time.Second)
	}
	return obj{"authToken": []any{obj{"_content": s.issue(strings.ToLower(a.Name), life)}}, "lifetime": ms(life)}, nil
}

// attrs are an account's attributes as SOAP shows them, limited to want
// (comma-separated; empty: all). In the JSON form Zimbra writes its
// key-value pairs (<a n="k">v</a> in XML) as one "_attrs" object, a
// multi-valued attribute as a list (JSONElement.addKeyValuePair).
func (s *Server) attrs(a *Account, want string) obj {
	all := map[string][]string{}
	for k, v := range a.Attrs {
		all[k] = v
	}
	all["zimbraId"] = []string{a.ID}
	all["mail"] = []string{a.Name}
	all["uid"] = []string{strings.SplitN(a.Name, "@", 2)[0]}
	if len(all["zimbraMailHost"]) == 0 {
		all["zimbraMailHost"] = []string{s.o.MailHost}
	}
	if len(all["userPassword"]) > 0 {
		all["userPassword"] = []string{"VALUE-BLOCKED"} // Provisioning.sanitizedAttrValue
	}
	var keys []string
	if want != "" && !s.o.IgnoreAttrs {
		keys = strings.Split(want, ",")
	} else {
		for k := range all {
			keys = append(keys, k)
		}
	}
	out := obj{}
	for _, k := range keys {
		k = strings.TrimSpace(k)
		switch v := all[k]; len(v) {
		case 0:
		case 1:
			out[k] = v[0]
		default:
			out[k] = v
		}
	}
	return out
}

func (s *Server) getAccount(req obj) (obj, *fault) {
	a, f := s.account(req)
	if f != nil {
		return nil, f
	}
	return obj{"account": []any{obj{"name": a.Name, "id": a.ID, "_attrs": s.attrs(a, text(req["attrs"]))}}}, nil
}

func (s *Server) getMailbox(req obj) (obj, *fault) {
	id := text(child(req, "mbox")["id"])
	for _, a := range s.accounts {
		if a.ID == id {
			return obj{"mbox": []any{obj{"mbxid": 1, "s": a.MailboxSize}}}, nil
		}
	}
	return nil, faultf("account.NO_SUCH_ACCOUNT", "no such account: %s", id)
}

// searchDirectory pages the accounts by name. Without maxResults="0" a
// match larger than the cap fails, whatever limit and offset say, as
// Zimbra's LDAP search does. The query is not interpreted: every account
// matches, or those of the domain attribute's domain.
func (s *Server) searchDirectory(req obj) (obj, *fault) {
	// types= lists accounts and calendar resources apart; none is accounts.
	types := text(req["types"])
	accounts, resources := types == "" || strings.Contains(types, "accounts"), strings.Contains(types, "resources")
	var match []*Account
	dom := strings.ToLower(text(req["domain"]))
	for _, a := range s.sortedAccounts() {
		if (dom == "" || strings.HasSuffix(strings.ToLower(a.Name), "@"+dom)) && (a.Resource && resources || !a.Resource && accounts) {
			match = append(match, a)
		}
	}
	max := s.o.SearchCap
	if v := text(req["maxResults"]); v != "" {
		max, _ = strconv.Atoi(v)
	}
	if max > 0 && len(match) > max {
		return nil, faultf("account.TOO_MANY_SEARCH_RESULTS", "number of results exceeded the limit: %d", max)
	}
	offset, _ := strconv.Atoi(text(req["offset"]))
	limit, _ := strconv.Atoi(text(req["limit"]))
	offset = min(max0(offset), len(match))
	end := len(match)
	if limit > 0 {
		end = min(end, offset+limit)
	}
	out := obj{"more": end < len(match), "searchTotal": len(match)}
	for _, a := range match[offset:end] {
		kind := "account"
		if a.Resource {
			kind = "calresource"
		}
		list, _ := out[kind].([]any)
		out[kind] = append(list, obj{"name": a.Name, "id": a.ID, "_attrs": s.attrs(a, text(req["attrs"]))})
	}
	return out, nil
}

func max0(n int) int { return max(n, 0) }

// colors is Zimbra's colour index (common/mailbox/Color.java).
var colors = []string{"#000000", "#5b9bf2", "#43eded", "#6acb9e", "#ba86e5", "#f66666", "#f8fa33", "#fe98d3", "#bebebe", "#fdbc55"}

// rootFolder is GetFolderResponse's USER_ROOT with a's tree under it.
func rootFolder(a *Account, qualified bool) obj {
	id := strconv.Itoa
	if qualified {
		id = func(n int) string { return a.ID + ":" + strconv.Itoa(n) }
	}
	root := obj{"id": id(1), "uuid": newID(), "name": "USER_ROOT", "absFolderPath": "/", "l": id(11), "n": 0, "s": 0}
	addChildren(root, a.Folders, 1, "", id)
	return root
}

func addChildren(parent obj, subs []*Folder, parentID int, parentPath string, id func(int) string) {
	for _, f := range subs {
		p := parentPath + "/" + f.Name
		o := obj{"id": id(f.ID), "uuid": newID(), "name": f.Name, "absFolderPath": p, "l": id(parentID)}
		if f.View != "" {
			o["view"] = f.View
		}
		if f.RGB != "" {
			o["rgb"] = f.RGB
		} else if f.Color > 0 && f.Color < len(colors) {
			o["color"] = f.Color
		}
		kind := "folder"
		switch {
		case f.Link != nil:
			kind = "link"
			o["owner"], o["zid"], o["rid"] = f.Link.Owner, f.Link.ZID, f.Link.RID
			o["n"], o["s"] = f.N, f.S
		case f.Query != "":
			kind = "search"
			o["query"] = f.Query
		default:
			o["n"], o["s"] = f.N, f.S
			if f.Unread > 0 {
				o["u"] = f.Unread
			}
		}
		list, _ := parent[kind].([]any)
		parent[kind] = append(list, o)
		addChildren(o, f.Sub, f.ID, p, id)
	}
}
