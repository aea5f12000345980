package dav

import (
	"bytes"
	"encoding/xml"

	"github.com/mailhaul/mailhaul/format"
)

// creationBody is the extended MKCOL (RFC 5689) or MKCALENDAR (RFC 4791
// §5.3.1) request body for col. Colours use Apple's calendar-color, which
// Radicale, Nextcloud and iCloud read, and InfCloud's addressbook-color for
// address books.
//
// viaMkcol makes a calendar with extended MKCOL instead, for servers that
// lack MKCALENDAR (go-webdav's server, for one).
func creationBody(col *collection, color, description string, viaMkcol bool) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>`)
	esc := func(s string) string {
		var e bytes.Buffer
		xml.EscapeText(&e, []byte(s))
		return e.String()
	}
	if col.Kind == format.FolderContacts {
		b.WriteString(`<D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav" xmlns:INF="http://inf-it.com/ns/ab/"><D:set><D:prop>`)
		b.WriteString(`<D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype>`)
		b.WriteString(`<D:displayname>` + esc(col.Name) + `</D:displayname>`)
		if description != "" {
			b.WriteString(`<CR:addressbook-description>` + esc(description) + `</CR:addressbook-description>`)
		}
		if color != "" {
			b.WriteString(`<INF:addressbook-color>` + esc(color) + `</INF:addressbook-color>`)
		}
		b.WriteString(`</D:prop></D:set></D:mkcol>`)
		return b.Bytes()
	}
	if viaMkcol {
		b.WriteString(`<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:A="http://apple.com/ns/ical/"><D:set><D:prop>`)
		b.WriteString(`<D:resourcetype><D:collection/><C:calendar/></D:resourcetype>`)
	} else {
		b.WriteString(`<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:A="http://apple.com/ns/ical/"><D:set><D:prop>`)
	}
	b.WriteString(`<D:displayname>` + esc(col.Name) + `</D:displayname>`)
	if description != "" {
		b.WriteString(`<C:calendar-description>` + esc(description) + `</C:calendar-description>`)
	}
	if color != "" {
		b.WriteString(`<A:calendar-color>` + esc(color) + `</A:calendar-color>`)
	}
	if len(col.Components) > 0 {
		b.WriteString(`<C:supported-calendar-component-set>`)
		for _, c := range col.Components {
			b.WriteString(`<C:comp name="` + esc(c) + `"/>`)
		}
		b.WriteString(`</C:supported-calendar-component-set>`)
	}
	if viaMkcol {
		b.WriteString(`</D:prop></D:set></D:mkcol>`)
	} else {
		b.WriteString(`</D:prop></D:set></C:mkcalendar>`)
	}
	return b.Bytes()
}

// proppatchBody sets an address book's display name and the description and colour it
// was created with (RFC 4918 §9.2), for a collection whose properties a
// whole-collection PUT replaced.
func proppatchBody(col *collection) []byte {
	var b bytes.Buffer
	esc := func(s string) string {
		var e bytes.Buffer
		xml.EscapeText(&e, []byte(s))
		return e.String()
	}
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav" xmlns:INF="http://inf-it.com/ns/ab/"><D:set><D:prop>`)
	b.WriteString(`<D:displayname>` + esc(col.Name) + `</D:displayname>`)
	if col.Description != "" {
		b.WriteString(`<CR:addressbook-description>` + esc(col.Description) + `</CR:addressbook-description>`)
	}
	if col.Color != "" {
		b.WriteString(`<INF:addressbook-color>` + esc(col.Color) + `</INF:addressbook-color>`)
	}
	b.WriteString(`</D:prop></D:set></D:propertyupdate>`)
	return b.Bytes()
}
