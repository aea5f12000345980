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
}

// HrefKey is the form in which a request's href and an answer's are
// matched: the unescaped, cleaned path.
func HrefKey(u *url.URL) string { return path.Clean(u.Path) }

// Multiget reads the objects at hrefs in the collection col with one
// addressbook-multiget (contacts) or calendar-multiget REPORT (RFC 6352
// §8.7, RFC 4791 §7.9), keyed by HrefKey. Objects the server does not
// return are missing from the map.
func (c *Client) Multiget(ctx context.Context, col *url.URL, contacts bool, hrefs []*url.URL) (map[string]Object, error) {
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
	return c.Report(ctx, col, b.Bytes())
}

// Report sends a REPORT asking for objects (a multiget or a query) to the
// collection col and returns the objects of its answer, keyed by HrefKey.
// The answer is decoded as it arrives, one response at a time, and is
// bounded like any other answer.
func (c *Client) Report(ctx context.Context, col *url.URL, body []byte) (map[string]Object, error) {
	req, err := http.NewRequestWithContext(ctx, "REPORT", col.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("dav: REPORT %s: %w", Redact(col), err)
	}
	req.Header.Set("Depth", "1")
	req.Header.Set("Content-Type", "application/xml; charset=utf-8")
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusMultiStatus {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return nil, fmt.Errorf("REPORT answered %s", (&Answer{Status: resp.StatusCode, Body: b}).ServerSays())
	}
	type response struct {
		Href      string `xml:"DAV: href"`
		PropStats []struct {
			ETag   string `xml:"DAV: prop>getetag"`
			Card   string `xml:"urn:ietf:params:xml:ns:carddav prop>address-data"`
			Cal    string `xml:"urn:ietf:params:xml:ns:caldav prop>calendar-data"`
			Status string `xml:"DAV: status"`
		} `xml:"DAV: propstat"`
	}
	dec := xml.NewDecoder(&controlSafe{r: bufio.NewReader(resp.Body), left: maxAnswer})
	out := map[string]Object{}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("REPORT answer: %w", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Space != "DAV:" || se.Name.Local != "response" {
			continue
		}
		var r response
		if err := dec.DecodeElement(&r, &se); err != nil {
			return nil, fmt.Errorf("REPORT answer: %w", err)
		}
		u, err := col.Parse(strings.TrimSpace(r.Href))
		if err != nil {
			continue
		}
		o := Object{Href: u}
		for _, ps := range r.PropStats {
			if ps.Status != "" && !strings.Contains(ps.Status, " 200 ") {
				continue
			}
			if ps.ETag != "" {
				o.ETag = strings.TrimSpace(ps.ETag)
			}
			if d := ps.Card + ps.Cal; d != "" {
				o.Data = []byte(controlsBack.Replace(d))
			}
		}
		if o.Data != nil {
			out[HrefKey(u)] = o
		}
	}
}

// controlSafe stands in for the control characters XML 1.0 forbids,
// which Radicale puts into its answers when an object holds them (a form
// feed in a card): each becomes a private-use character that controlsBack
// turns back, so that the object is returned as the server holds it. It
// also bounds the answer to left bytes.
type controlSafe struct {
	r    *bufio.Reader
	left int64
	pend []byte // the rest of a stand-in's UTF-8 bytes
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
	if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
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

var controlsBack = func() *strings.Replacer {
	var pairs []string
	for c := rune(0); c < 0x20; c++ {
		pairs = append(pairs, string(0xE000+c), string(c))
	}
	return strings.NewReplacer(pairs...)
}()
