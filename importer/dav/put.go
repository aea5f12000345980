package dav

import (
	"bytes"
	"context"
	"encoding/xml"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// outcome is what a PUT did.
type outcome int

const (
	stored  outcome = iota // the server took the object
	exists                 // If-None-Match failed: something is at our href
	uidElse                // the UID lives at another href (409 no-uid-conflict, or Xandikos's 207 with 412)
	changed                // If-Match failed: the object changed on the server
	refused                // the server refused the object; the answer says why
)

// putResult is a PUT's outcome with what the server said.
type putResult struct {
	Outcome outcome
	ETag    string // as the server sent it, W/ included; may be empty
	Href    string // for uidElse, the conflicting resource when the server named it
	Answer  *answer
}

// put sends body to target with a precondition: ifMatch "" means create
// only (If-None-Match: *); otherwise the ETag (or "*") that must match.
func (c *client) put(ctx context.Context, target *url.URL, contentType string, body []byte, ifMatch string) (putResult, error) {
	hdr := http.Header{"Content-Type": {contentType}}
	if ifMatch == "" {
		hdr.Set("If-None-Match", "*")
	} else {
		hdr.Set("If-Match", ifMatch)
	}
	a, err := c.Send(ctx, http.MethodPut, target.String(), hdr, body)
	if err != nil {
		return putResult{}, err
	}
	return classify(a, ifMatch != ""), nil
}

// classify reads a PUT answer. Besides the plain codes it understands a
// 409 carrying CardDAV/CalDAV no-uid-conflict and a 207 Multi-Status
// holding a 412 (Xandikos 0.2.8 answers a UID stored elsewhere that way).
func classify(a *answer, update bool) putResult {
	r := putResult{Answer: a, ETag: a.Header.Get("ETag")}
	switch {
	case a.Status == http.StatusMultiStatus:
		codes := multiStatusCodes(a.Body)
		r.Outcome = stored
		for _, code := range codes {
			switch {
			case code == http.StatusPreconditionFailed && update:
				r.Outcome = changed
			case code == http.StatusPreconditionFailed && refusalPrecondition(a.Body):
				// Xandikos also wraps "invalid data" in a 207/412.
				r.Outcome = refused
			case code == http.StatusPreconditionFailed:
				r.Outcome = uidElse
			case code/100 != 2:
				r.Outcome = refused
			}
		}
		if len(codes) == 0 {
			r.Outcome = refused
		}
		r.ETag = ""
	case a.Status/100 == 2:
		r.Outcome = stored
	case a.Status == http.StatusPreconditionFailed && update:
		r.Outcome = changed
	case a.Status == http.StatusPreconditionFailed:
		r.Outcome = exists
	case a.Status == http.StatusConflict && bytes.Contains(a.Body, []byte("no-uid-conflict")):
		r.Outcome = uidElse
		r.Href = conflictHref(a.Body)
	default:
		r.Outcome = refused
	}
	return r
}

// refusalPrecondition reports whether a DAV error body names a
// precondition about the object itself (valid-calendar-data,
// supported-address-data, max-resource-size, ...) rather than a UID
// conflict.
func refusalPrecondition(body []byte) bool {
	for _, p := range []string{"valid-calendar-data", "valid-address-data", "supported-calendar-data",
		"supported-address-data", "supported-calendar-component", "valid-calendar-object-resource",
		"max-resource-size", "min-date-time", "max-date-time", "max-instances", "max-attendees-per-instance"} {
		if bytes.Contains(body, []byte(p)) {
			return true
		}
	}
	return false
}

// multiStatusCodes returns every status code in a DAV:multistatus body.
func multiStatusCodes(body []byte) []int {
	var ms struct {
		Responses []struct {
			Status    string `xml:"DAV: status"`
			PropStats []struct {
				Status string `xml:"DAV: status"`
			} `xml:"DAV: propstat"`
		} `xml:"DAV: response"`
	}
	if xml.Unmarshal(body, &ms) != nil {
		return nil
	}
	var codes []int
	add := func(line string) {
		// "HTTP/1.1 412 Precondition Failed"
		f := strings.Fields(line)
		if len(f) >= 2 {
			if n, err := strconv.Atoi(f[1]); err == nil {
				codes = append(codes, n)
			}
		}
	}
	for _, r := range ms.Responses {
		add(r.Status)
		for _, ps := range r.PropStats {
			add(ps.Status)
		}
	}
	return codes
}

// conflictHref is the href inside a no-uid-conflict precondition (RFC 4791
// §5.3.2.1, RFC 6352 §6.3.2.1), or "".
func conflictHref(body []byte) string {
	var e struct {
		Card struct {
			Href string `xml:"DAV: href"`
		} `xml:"urn:ietf:params:xml:ns:carddav no-uid-conflict"`
		Cal struct {
			Href string `xml:"DAV: href"`
		} `xml:"urn:ietf:params:xml:ns:caldav no-uid-conflict"`
	}
	if xml.Unmarshal(body, &e) != nil {
		return ""
	}
	if e.Card.Href != "" {
		return strings.TrimSpace(e.Card.Href)
	}
	return strings.TrimSpace(e.Cal.Href)
}

// strongETag returns etag when it can be sent in If-Match (RFC 9110 uses
// strong comparison there), or "" for weak and missing ones.
func strongETag(etag string) string {
	if etag == "" || strings.HasPrefix(etag, "W/") {
		return ""
	}
	if !strings.HasPrefix(etag, `"`) {
		// Some servers forget the quotes; quote so the header is valid.
		return strconv.Quote(etag)
	}
	return etag
}
