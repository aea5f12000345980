package soap

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Account is a Zimbra account and the attributes read with it.
type Account struct {
	Name  string
	ID    string // zimbraId
	Attrs map[string][]string
	// PasswordHash is userPassword ({SSHA512}…), only when asked for and
	// only from `zmprov -l` output: over SOAP Zimbra answers VALUE-BLOCKED.
	PasswordHash string
}

// Attr is the first value of the attribute n ("" when absent).
func (a Account) Attr(n string) string {
	if v := a.Attrs[n]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// MailHost is the server that holds the mailbox (zimbraMailHost).
func (a Account) MailHost() string { return a.Attr("zimbraMailHost") }

// AccountAttrs are the attributes read for account.json: what the target
// needs to provision the account and what the user set up (forwarding,
// filters, out-of-office, time zone).
var AccountAttrs = []string{
	"zimbraId", "displayName", "givenName", "sn", "zimbraMailDeliveryAddress", "zimbraMailAlias",
	"zimbraMailQuota", "zimbraAccountStatus", "zimbraMailHost", "zimbraCOSId",
	"zimbraPrefMailForwardingAddress", "zimbraPrefMailLocalDeliveryDisabled", "zimbraMailForwardingAddress",
	"zimbraMailSieveScript", "zimbraMailOutgoingSieveScript",
	"zimbraPrefOutOfOfficeReply", "zimbraPrefOutOfOfficeReplyEnabled", "zimbraPrefTimeZoneId",
}

// recorded is AccountAttrs as a set: a listing and a SOAP answer keep
// these alone, since gaa -v prints every attribute, and a server may
// answer more than attrs= asked, secrets (zimbraPasswordHistory's old
// hashes, zimbraAuthTokens) included.
var recorded = func() map[string]bool {
	m := map[string]bool{}
	for _, a := range AccountAttrs {
		m[strings.ToLower(a)] = true
	}
	return m
}()

// blocked is what Zimbra sends over SOAP in place of a secret attribute.
const blocked = "VALUE-BLOCKED"

// accountJSON is <account name id><a n="k">v</a>…</account>. Zimbra's
// JSON writes the <a> pairs as one object, "_attrs": {"k": "v" or
// ["v1", "v2"]} (JSONElement.addKeyValuePair); the element form
// "a": [{"n": "k", "_content": "v"}] is read too.
type accountJSON struct {
	Name  string              `json:"name"`
	ID    string              `json:"id"`
	Pairs map[string]multiple `json:"_attrs"`
	A     []struct {
		N       string `json:"n"`
		Content string `json:"_content"`
	} `json:"a"`
}

// multiple is a key-value pair's values: a string or a list of them.
type multiple []string

func (m *multiple) UnmarshalJSON(b []byte) error {
	var x any
	if err := json.Unmarshal(b, &x); err != nil {
		return err
	}
	if list, ok := x.([]any); ok {
		for _, v := range list {
			*m = append(*m, flatten(v))
		}
		return nil
	}
	*m = multiple{flatten(x)}
	return nil
}

func (j accountJSON) account(withHash bool) Account {
	a := Account{Name: j.Name, ID: j.ID, Attrs: map[string][]string{}}
	add := func(n, v string) {
		switch {
		case n == "userPassword":
			if withHash && v != blocked {
				a.PasswordHash = v
			}
		case recorded[strings.ToLower(n)]:
			// What was asked only: a server may send more (older
			// releases ignore attrs=), secrets among it.
			a.Attrs[n] = append(a.Attrs[n], v)
		}
	}
	for n, vs := range j.Pairs {
		for _, v := range vs {
			add(n, v)
		}
	}
	for _, at := range j.A {
		add(at.N, at.Content)
	}
	if a.ID == "" {
		a.ID = a.Attr("zimbraId")
	}
	return a
}

// Search selects accounts for Accounts.
type Search struct {
	// Query is an LDAP filter; "": every account and calendar resource
	// (room, equipment: they have mailboxes too) that is not a system
	// resource (spam, ham, virus quarantine and GAL sync accounts).
	Query string
	// Domain limits the search to one domain.
	Domain string
}

// ErrListGap is a listing that gave fewer accounts than the directory
// counts (searchTotal) or that the directory kept shifting under.
var ErrListGap = errors.New("the listing may lack accounts")

// maxRelist bounds the listings started again because the directory
// shifted under the pages.
const maxRelist = 5

// Accounts calls fn for every account and calendar resource Search
// selects, in name order. The whole listing is read first (paging with
// SearchDirectoryRequest's limit and offset; maxResults="0" lifts
// Zimbra's 5,000 cap, which would otherwise fail the whole search), so
// that it does not span an overnight export, during which a deletion
// before the offset would shift the pages and skip a live account. Each
// page after the first starts at the last account of the page before:
// when that one is not in it, the directory shifted, and the listing
// starts again (each account still once), at most maxRelist times. A
// listing that still shifted, or that gave fewer accounts than the
// last page's searchTotal, ends, after fn had every account listed,
// with an error wrapping ErrListGap. Each account carries its name, id
// and zimbraMailHost alone: GetAccount reads the rest, per user.
func (c *Client) Accounts(ctx context.Context, s Search, fn func(Account) error) error {
	var all []Account
	seen := map[string]bool{} // accounts created during the listing shift the pages
	var gap error
	for range maxRelist {
		shifted, total, err := c.listAccounts(ctx, s, func(a Account) {
			if k := strings.ToLower(a.Name); !seen[k] {
				seen[k] = true
				all = append(all, a)
			}
		})
		if err != nil {
			return err
		}
		gap = nil
		if shifted {
			gap = fmt.Errorf("zimbra: %w: the directory kept changing while it was listed (%d listings)", ErrListGap, maxRelist)
			continue
		}
		if len(all) < total {
			gap = fmt.Errorf("zimbra: %w: SearchDirectoryRequest counts %d, the listing gave %d", ErrListGap, total, len(all))
		}
		break
	}
	slices.SortFunc(all, func(a, b Account) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	for _, a := range all {
		if err := fn(a); err != nil {
			return err
		}
	}
	return gap
}

// listAccounts pages through the accounts once, calling add for each;
// shifted says a page did not start where the one before ended.
func (c *Client) listAccounts(ctx context.Context, s Search, add func(Account)) (shifted bool, total int, err error) {
	q := s.Query
	if q == "" {
		q = "(!(zimbraIsSystemResource=TRUE))"
	}
	last := ""
	for offset := 0; ; {
		from := offset
		if last != "" && c.cfg.PageSize > 1 {
			from-- // overlap by one: the last account of the page before
		}
		req := map[string]any{"query": q, "types": "accounts,resources", "sortBy": "name", "sortAscending": "1",
			"limit": c.cfg.PageSize, "offset": from, "maxResults": "0", "attrs": "zimbraMailHost"}
		if s.Domain != "" {
			req["domain"] = s.Domain
		}
		var page struct {
			More     bool          `json:"more"`
			Total    value         `json:"searchTotal"`
			Account  []accountJSON `json:"account"`
			Resource []accountJSON `json:"calresource"`
		}
		if err := c.adminCall(ctx, "SearchDirectoryRequest", req, &page); err != nil {
			return false, 0, err
		}
		list := append(page.Account, page.Resource...)
		if from < offset && len(list) > 0 && !slices.ContainsFunc(list, func(j accountJSON) bool { return strings.EqualFold(j.Name, last) }) {
			shifted = true
		}
		for _, j := range list {
			a := j.account(false)
			// The listing is held whole for the run: only what it needs
			// (GetAccount reads the record, Sieve scripts and all, per
			// user), whatever a server answers beyond attrs=.
			host := a.Attrs["zimbraMailHost"]
			a.Attrs = map[string][]string{}
			if len(host) > 0 {
				a.Attrs["zimbraMailHost"] = host
			}
			add(a)
			if last == "" || strings.ToLower(j.Name) > strings.ToLower(last) {
				last = j.Name
			}
		}
		if !page.More {
			return shifted, int(page.Total.int64()), nil
		}
		if from+len(list) <= offset {
			// None past the overlap: asking again would loop.
			return false, 0, fmt.Errorf("zimbra: SearchDirectoryRequest: the server says more accounts follow offset %d but sent none", offset)
		}
		offset = from + len(list)
	}
}

// GetAccount reads one account's AccountAttrs (GetAccountRequest), and
// userPassword when withHash is set (Zimbra blocks it over SOAP; see
// Account.PasswordHash).
func (c *Client) GetAccount(ctx context.Context, name string, withHash bool) (Account, error) {
	attrs := AccountAttrs
	if withHash {
		attrs = append(attrs[:len(attrs):len(attrs)], "userPassword")
	}
	var r struct {
		Account []accountJSON `json:"account"`
	}
	err := c.adminCall(ctx, "GetAccountRequest", map[string]any{"account": byName(name), "attrs": strings.Join(attrs, ",")}, &r)
	if err != nil {
		return Account{}, err
	}
	if len(r.Account) == 0 {
		return Account{}, fmt.Errorf("zimbra: GetAccountRequest: no account in the answer for %s", name)
	}
	return r.Account[0].account(withHash), nil
}

// MailboxSize is the size in bytes of the mailbox of the account with
// that zimbraId (GetMailboxRequest).
func (c *Client) MailboxSize(ctx context.Context, accountID string) (int64, error) {
	var r struct {
		Mbox []struct {
			S value `json:"s"`
		} `json:"mbox"`
	}
	if err := c.adminCall(ctx, "GetMailboxRequest", map[string]any{"mbox": map[string]any{"id": accountID}}, &r); err != nil {
		return 0, err
	}
	if len(r.Mbox) == 0 {
		return 0, fmt.Errorf("zimbra: GetMailboxRequest: no mailbox in the answer for %s", accountID)
	}
	return r.Mbox[0].S.int64(), nil
}

// attrLine is "name: value" as zmprov prints an attribute.
// LDAP attribute names of Zimbra start in lower case (zimbraMailHost,
// displayName, sn), so a line of a multi-line value such as
// "Subject: away" is not taken for one.
var attrLine = regexp.MustCompile(`^([a-z][A-Za-z0-9]*): (.*)$`)

// ReadGAA reads what `zmprov -l gaa` printed, calling fn per account:
// one address a line, or with -v a "# name ADDRESS" line followed by
// "attribute: value" lines (a value running over several lines, like a
// Sieve script, continues until the next attribute). Only AccountAttrs
// are kept, and userPassword only with withHash. A line that is none of these fails, named by
// its number.
func ReadGAA(r io.Reader, withHash bool, fn func(Account) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var cur *Account
	var last string // the attribute a continuation line belongs to
	blanks := 0     // blank lines held back: inside a value, or between accounts
	flush := func() error {
		if cur == nil {
			return nil
		}
		a := *cur
		cur = nil
		if a.ID == "" {
			a.ID = a.Attr("zimbraId")
		}
		return fn(a)
	}
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		switch {
		case strings.HasPrefix(line, "# name "):
			if err := flush(); err != nil {
				return err
			}
			name := strings.TrimSpace(strings.TrimPrefix(line, "# name "))
			if !isAddress(name) {
				return fmt.Errorf("zimbra: gaa line %d: %q is not an account address", n, name)
			}
			cur, last, blanks = &Account{Name: name, Attrs: map[string][]string{}}, "", 0
		case cur != nil && attrLine.MatchString(line):
			m := attrLine.FindStringSubmatch(line)
			last, blanks = m[1], 0
			if last == "userPassword" {
				if withHash {
					cur.PasswordHash = m[2]
				}
				continue
			}
			if recorded[strings.ToLower(last)] {
				cur.Attrs[last] = append(cur.Attrs[last], m[2])
			}
		case cur != nil && line == "":
			blanks++
		case cur != nil && last != "" && !recorded[strings.ToLower(last)]:
			// the rest of a value not kept
		case cur != nil && last != "":
			v := cur.Attrs[last]
			v[len(v)-1] += strings.Repeat("\n", blanks+1) + line
			blanks = 0
		case cur == nil && strings.TrimSpace(line) == "":
		case cur == nil && isAddress(strings.TrimSpace(line)):
			if err := fn(Account{Name: strings.TrimSpace(line), Attrs: map[string][]string{}}); err != nil {
				return err
			}
		default:
			return fmt.Errorf("zimbra: gaa line %d: %s is neither an account address nor an attribute", n, strconv.Quote(clip(line)))
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("zimbra: read gaa output: %w", err)
	}
	return flush()
}

// isAddress is a plausible account name: local@domain, no spaces.
func isAddress(s string) bool {
	at := strings.IndexByte(s, '@')
	return at > 0 && at < len(s)-1 && !strings.ContainsAny(s, " \t<>") && strings.Count(s, "@") == 1
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
