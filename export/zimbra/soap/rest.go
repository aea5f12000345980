package soap

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mailhaul/mailhaul/internal/davclient"
	"github.com/mailhaul/mailhaul/internal/loopback"
	"github.com/mailhaul/mailhaul/internal/retry"
)

// Export is one REST export of a mailbox: /service/home/USER/FOLDER?fmt=….
type Export struct {
	// Folder is the folder path ("" or "/": the whole mailbox). Zimbra
	// then exports that folder and those under it.
	Folder string
	Fmt    string   // tgz (default), tar, zip, ics, vcf ...
	NoMeta bool     // meta=0: plain .eml/.vcf/.ics, no .meta entries
	Types  []string // message, contact, appointment, task, document ...
	Query  string   // Zimbra search syntax
	// After keeps items received at or after it (sent as start=, see
	// StartParam); Before keeps those received before it (end=).
	After, Before time.Time
}

// StartParam is start= for "received at or after t", in epoch ms.
// Zimbra turns start=T into after:T, which excludes the second T falls
// in (date >= T + 1000 ms, DateQuery.java), so T is sent a second early.
// Dates as mm/dd/yyyy are never sent: the server reads them in its own
// time zone and locale.
func StartParam(t time.Time) string {
	return strconv.FormatInt(t.UnixMilli()-1000, 10)
}

// AfterQuery is the search term for "received at or after t" that a
// delta sends as query=: after: in epoch ms, a second early as
// StartParam. Unlike start=, which ArchiveFormatter applies to
// appointments by their first instance (appt-start:>=) and not to
// tasks, a query selects every item type by its date: an appointment
// entered after the pre-migration for a meeting before it is in the
// delta.
func AfterQuery(t time.Time) string {
	return "after:" + StartParam(t)
}

// IncludesTrashAndJunk reports whether Zimbra's search for e covers the
// items of Trash and Junk. A plain export of the root searches is:local,
// and every search leaves the two folders out (the account's
// zimbraPrefIncludeTrashInSearch/…SpamInSearch are FALSE by default),
// unless the URL's folder is one of them or the query says is:anywhere,
// in:trash or in:junk.
func (e Export) IncludesTrashAndJunk() bool {
	f := strings.ToLower(strings.Trim(e.Folder, "/"))
	q := strings.ToLower(e.Query)
	return f == "trash" || strings.HasPrefix(f, "trash/") || f == "junk" || strings.HasPrefix(f, "junk/") ||
		strings.Contains(q, "is:anywhere") || (strings.Contains(q, "in:trash") && strings.Contains(q, "in:junk"))
}

// Plan is the exports that together hold every item of a mailbox: the
// root, which leaves Trash and Junk out, then /Trash and /Junk, whose
// path in the URL brings them back. With a cutoff each carries it. The
// folder path is used rather than query=is:anywhere, which also reaches
// into mountpoints, other accounts' folders that are not this mailbox's
// to export. With a cutoff each export carries it as AfterQuery (not
// start=, which would leave out appointments entered after the cutoff
// for a time before it). Only the root export without a cutoff carries
// the folder .meta entries (any query drops them; Folders gives the
// tree anyway).
func Plan(after time.Time) []Export {
	out := []Export{{Folder: "/"}, {Folder: "/Trash"}, {Folder: "/Junk"}}
	if !after.IsZero() {
		// The root's search says is:local, as Zimbra's own without a
		// query does (no mountpoints); the folder exports are bounded
		// by their folder already, and is:local is not known to keep
		// Trash and Junk in (the notes).
		out[0].Query = "is:local " + AfterQuery(after)
		out[1].Query, out[2].Query = AfterQuery(after), AfterQuery(after)
	}
	return out
}

// values is e's URL query.
func (e Export) values() url.Values {
	v := url.Values{}
	f := e.Fmt
	if f == "" {
		f = "tgz"
	}
	v.Set("fmt", f)
	if e.NoMeta {
		v.Set("meta", "0")
	} else if f == "tgz" || f == "tar" || f == "zip" {
		v.Set("meta", "1")
	}
	if len(e.Types) > 0 {
		v.Set("types", strings.Join(e.Types, ","))
	}
	if e.Query != "" {
		v.Set("query", e.Query)
	}
	if !e.After.IsZero() {
		v.Set("start", StartParam(e.After))
	}
	if !e.Before.IsZero() {
		v.Set("end", strconv.FormatInt(e.Before.UnixMilli(), 10))
	}
	return v
}

// mailBase is the base URL of a's mailbox server.
func (c *Client) mailBase(a Account) (string, error) {
	host := a.MailHost()
	if host == "" {
		return "", fmt.Errorf("zimbra: account %s has no zimbraMailHost (read it with GetAccount)", a.Name)
	}
	if c.cfg.MailURL == nil {
		return "https://" + host, nil
	}
	base := strings.TrimRight(c.cfg.MailURL(host), "/")
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || u.User != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return "", fmt.Errorf("zimbra: the mailbox server of %s (%s) maps to no usable https URL", a.Name, host)
	}
	if u.Scheme == "http" && !c.cfg.AllowPlaintext && !loopback.IsHost(u.Hostname()) {
		return "", fmt.Errorf("zimbra: %s would carry %s's token in clear (http:// to a host other than loopback)", u.Host, a.Name)
	}
	return base, nil
}

// exportURL is the REST URL of e for a.
func (c *Client) exportURL(a Account, e Export) (string, error) {
	base := c.admin.String()
	if !c.cfg.ViaAdminPort {
		var err error
		if base, err = c.mailBase(a); err != nil {
			return "", err
		}
	}
	p := "/service/home/" + url.PathEscape(a.Name) + "/"
	for _, seg := range strings.Split(strings.Trim(e.Folder, "/"), "/") {
		if seg != "" {
			p += url.PathEscape(seg) + "/"
		}
	}
	return base + p + "?" + e.values().Encode(), nil
}

// Stream is an export's body as it arrives. See the package doc for what
// a stream that breaks means.
type Stream struct {
	// Empty: the export matched nothing (HTTP 204); Read gives io.EOF.
	Empty bool
	ctx   context.Context
	url   string        // for errors; holds no secret
	body  io.ReadCloser // hung up by the client's idle clock (bounded)
	n     int64
}

// Read reads the body. An error other than io.EOF means the stream broke
// and is marked transient: restart that user's export from the start.
func (s *Stream) Read(p []byte) (int, error) {
	if s.body == nil {
		return 0, io.EOF
	}
	n, err := s.body.Read(p)
	s.n += int64(n)
	if err != nil && err != io.EOF {
		if s.ctx.Err() != nil {
			return n, s.ctx.Err()
		}
		err = retry.MarkTransient(fmt.Errorf("zimbra: GET %s: the stream broke after %d bytes: %w", s.url, s.n, err))
	}
	return n, err
}

// Close releases the connection.
func (s *Stream) Close() error {
	if s.body == nil {
		return nil
	}
	return s.body.Close()
}

// Export starts the REST export e of a's mailbox and returns its body as
// it streams in. Answers before the body (5xx, 429, a dropped connection)
// are retried; an expired token is renewed once.
func (c *Client) Export(ctx context.Context, a Account, e Export) (*Stream, error) {
	u, err := c.exportURL(a, e)
	if err != nil {
		return nil, err
	}
	cookie := "ZM_AUTH_TOKEN"
	if c.cfg.ViaAdminPort {
		cookie = "ZM_ADMIN_AUTH_TOKEN"
	}
	for try := 0; ; try++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, fmt.Errorf("zimbra: export of %s: %w", a.Name, err)
		}
		var tok string
		if c.cfg.BasicAuth {
			if err := c.basicRefused(); err != nil {
				return nil, err
			}
			pw, err := c.cfg.Password()
			if err != nil {
				return nil, err
			}
			req.SetBasicAuth(c.cfg.Admin, pw)
		} else {
			if tok, err = c.userToken(ctx, a.Name); err != nil {
				return nil, err
			}
			req.AddCookie(&http.Cookie{Name: cookie, Value: tok})
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			return nil, c.transportError(ctx, "export", req, err)
		}
		shown := davclient.Redact(req.URL)
		if resp.StatusCode == http.StatusOK {
			return &Stream{ctx: ctx, url: shown, body: resp.Body}, nil
		}
		switch {
		case resp.StatusCode == http.StatusNoContent:
			resp.Body.Close()
			return &Stream{Empty: true}, nil
		case resp.StatusCode == http.StatusUnauthorized && c.cfg.BasicAuth:
			// Not asked again, for this user or any other: each try
			// counts towards the admin's lockout.
			resp.Body.Close()
			refused := fmt.Errorf("zimbra: %w for %s (a wrong password, or an installation that does not take Basic there); use delegated tokens instead", errBasicRefused, c.cfg.Admin)
			c.refuseBasic(refused)
			return nil, fmt.Errorf("GET %s: %w", shown, refused)
		case resp.StatusCode == http.StatusUnauthorized && try == 0:
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			c.forgetUser(a.Name, tok)
			continue
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		ans := davclient.Answer{Status: resp.StatusCode, Body: b}
		err = fmt.Errorf("zimbra: GET %s: %s", shown, ans.ServerSays())
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			err = fmt.Errorf("%w (the tries ran out)", err)
		}
		return nil, err
	}
}
