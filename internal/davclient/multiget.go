package davclient

import (
	"bufio"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"unicode/utf8"
)

// Object is a contact or calendar object as a REPORT returned it: its
// bytes as the server holds them (go-webdav's client would decode them).
type Object struct {
	Href *url.URL
	ETag string
	Data []byte
	// Status is the status the server gave an object it did not
	// deliver (ReportEach only): "HTTP/1.1 404 Not Found".
	Status string
}

// HrefKey is the form in which a request's href and an answer's are
// matched, whatever form the server answers in (an absolute URL or a
// path, lower- or upper-case escapes, raw UTF-8, a trailing slash): the
// cleaned path with each segment escaped one way. An escaped slash
// (%2F) stays inside its segment: a/b and a%2Fb are two objects.
func HrefKey(u *url.URL) string {
	segs := strings.Split(path.Clean(u.EscapedPath()), "/")
	for i, s := range segs {
		if v, err := url.PathUnescape(s); err == nil {
			segs[i] = url.PathEscape(v)
		}
	}
	return strings.Join(segs, "/")
}

// LastSegment is the unescaped last segment of u's path: an object's
// name in its collection. An escaped slash (%2F) in it is kept, as a
// slash, where u.Path would have split the name there.
func LastSegment(u *url.URL) string {
	s := path.Base(u.EscapedPath())
	if v, err := url.PathUnescape(s); err == nil {
		return v
	}
	return s
}

// Multiget reads the objects at hrefs in the collection col with one
// addressbook-multiget (contacts) or calendar-multiget REPORT (RFC 6352
// §8.7, RFC 4791 §7.9), keyed by HrefKey. Objects the server does not
// return are missing from the map.
func (c *Client) Multiget(ctx context.Context, col *url.URL, contacts bool, hrefs []*url.URL) (map[string]Object, error) {
	return c.Report(ctx, col, multigetBody(contacts, hrefs))
}

// multigetBody is the body of a multiget REPORT for hrefs.
func multigetBody(contacts bool, hrefs []*url.URL) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>`)
	if contacts {
		b.WriteString(`<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><C:address-data/></D:prop>`)
	} else {
		b.WriteString(`<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop>`)
	}
	for _, h := range hrefs {
		b.WriteString("<D:href>")
		xml.EscapeText(&b, []byte(h.EscapedPath()))
		b.WriteString("</D:href>")
	}
	if contacts {
		b.WriteString(`</C:addressbook-multiget>`)
	} else {
		b.WriteString(`</C:calendar-multiget>`)
	}
	return b.Bytes()
}

// Report sends a REPORT asking for objects (a multiget or a query) to the
// collection col and returns the objects of its answer, keyed by HrefKey.
// The answer is decoded as it arrives, one response at a time, and is
// bounded like any other answer.
func (c *Client) Report(ctx context.Context, col *url.URL, body []byte) (map[string]Object, error) {
	out := map[string]Object{}
	err := c.ReportEach(ctx, col, body, func(o Object) error {
		if o.Data != nil {
			out[HrefKey(o.Href)] = o
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// MultigetEach is Multiget handing each response to fn as it is decoded,
// so that only one object is held at a time (see ReportEach).
func (c *Client) MultigetEach(ctx context.Context, col *url.URL, contacts bool, hrefs []*url.URL, fn func(Object) error) error {
	return c.ReportEach(ctx, col, multigetBody(contacts, hrefs), fn)
}

// ReportEach sends a REPORT like Report and calls fn with each response
// of its answer as it is decoded: an object with its bytes, or one the
// server did not deliver (Data nil, Status its status line, such as
// "HTTP/1.1 404 Not Found"). An error from fn ends the read and is
// returned as it is.
func (c *Client) ReportEach(ctx context.Context, col *url.URL, body []byte, fn func(Object) error) error {
	req, err := http.NewRequestWithContext(ctx, "REPORT", col.String(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("dav: REPORT %s: %w", Redact(col), err)
	}
	req.Header.Set("Depth", "1")
	req.Header.Set("Content-Type", "application/xml; charset=utf-8")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusMultiStatus {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return markAuth(resp.StatusCode, fmt.Errorf("REPORT answered %s", (&Answer{Status: resp.StatusCode, Body: b}).ServerSays()))
	}
	type response struct {
		Href      string `xml:"DAV: href"`
		Status    string `xml:"DAV: status"`
		PropStats []struct {
			ETag   string `xml:"DAV: prop>getetag"`
			Card   string `xml:"urn:ietf:params:xml:ns:carddav prop>address-data"`
			Cal    string `xml:"urn:ietf:params:xml:ns:caldav prop>calendar-data"`
			Status string `xml:"DAV: status"`
		} `xml:"DAV: propstat"`
	}
	_, err = eachResponse(resp.Body, "REPORT", func(dec *xml.Decoder, se *xml.StartElement) error {
		var r response
		if err := dec.DecodeElement(&r, se); err != nil {
			return fmt.Errorf("REPORT answer: %w", err)
		}
		u, err := col.Parse(plain(r.Href))
		if err != nil {
			return nil
		}
		o := Object{Href: u, Status: plain(r.Status)}
		for _, ps := range r.PropStats {
			if ps.Status != "" && !strings.Contains(ps.Status, " 200 ") {
				if o.Status == "" {
					o.Status = plain(ps.Status)
				}
				continue
			}
			if ps.ETag != "" {
				o.ETag = plain(ps.ETag)
			}
			if d := ps.Card + ps.Cal; d != "" {
				o.Data = []byte(controlsBack.Replace(d))
			}
		}
		return fn(o)
	})
	return err
}

// eachResponse decodes a multistatus answer as it streams in, one DAV
// response element at a time (each handed to fn to decode), and returns
// the sync-token the answer ends with, if any. The answer is bounded to
// maxAnswer bytes, and control characters are kept (controlSafe). An
// error from fn ends the read and is returned as it is; the answer's own
// are prefixed with method.
func eachResponse(body io.Reader, method string, fn func(dec *xml.Decoder, se *xml.StartElement) error) (syncToken string, err error) {
	dec := xml.NewDecoder(&controlSafe{r: bufio.NewReader(body), left: maxAnswer})
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return syncToken, nil
		}
		if err != nil {
			return "", fmt.Errorf("%s answer: %w", method, err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Space != "DAV:" {
			continue
		}
		switch se.Name.Local {
		case "response":
			if err := fn(dec, &se); err != nil {
				return "", err
			}
		case "sync-token":
			var v string
			if err := dec.DecodeElement(&v, &se); err != nil {
				return "", fmt.Errorf("%s answer: %w", method, err)
			}
			syncToken = plain(v)
		}
	}
}

// controlSafe stands in for the control characters XML 1.0 forbids,
// which Radicale puts into its answers when an object holds them (a form
// feed in a card), and for a carriage return in character data, which
// XML would read as part of a line break and drop (servers send an
// object's CR LF raw): each becomes a private-use character that
// controlsBack turns back, so that the object is returned as the server
// holds it. It also bounds the answer to left bytes.
type controlSafe struct {
	r     *bufio.Reader
	left  int64
	pend  []byte // the rest of a stand-in's UTF-8 bytes
	inTag bool   // between < and >, where a CR is white space
}

func (s *controlSafe) ReadByte() (byte, error) {
	if len(s.pend) > 0 {
		c := s.pend[0]
		s.pend = s.pend[1:]
		return c, nil
	}
	if s.left <= 0 {
		return 0, errors.New("answer larger than 128 MiB")
	}
	c, err := s.r.ReadByte()
	if err != nil {
		return 0, err
	}
	s.left--
	switch c {
	case '<':
		s.inTag = true
	case '>':
		s.inTag = false
	}
	if c < 0x20 && c != '\t' && c != '\n' && (c != '\r' || !s.inTag) {
		var e [3]byte
		utf8.EncodeRune(e[:], 0xE000+rune(c))
		s.pend = append(s.pend[:0], e[1:]...)
		return e[0], nil
	}
	return c, nil
}

func (s *controlSafe) Read(p []byte) (int, error) {
	for i := range p {
		c, err := s.ReadByte()
		if err != nil {
			if i > 0 && errors.Is(err, io.EOF) {
				return i, nil
			}
			return i, err
		}
		p[i] = c
	}
	return len(p), nil
}

// plain is a short text value read through controlSafe (an href, an
// ETag, a status), its stand-ins turned back and white space trimmed.
func plain(s string) string { return strings.TrimSpace(controlsBack.Replace(s)) }

var controlsBack = func() *strings.Replacer {
	var pairs []string
	for c := rune(0); c < 0x20; c++ {
		pairs = append(pairs, string(0xE000+c), string(c))
	}
	return strings.NewReplacer(pairs...)
}()
