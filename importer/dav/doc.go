// Package dav imports the contacts, events and tasks of mailhaul archives
// into CardDAV and CalDAV servers, exactly once. Target implements
// importer.Target; the HTTP plumbing is internal/davclient's.
//
// Each archive address book or calendar goes to the target collection of
// the same display name, created when missing. Each object is PUT as the
// bytes the archive holds (after the few conversions README.md lists) to a
// resource named from its UID, with If-None-Match: * so that a re-run, or a
// delta archive overlapping an earlier one, never creates anything twice.
//
// go-webdav is used for discovery and listings only: its PUT re-encodes
// objects lossily and sends no conditional headers, so PUT, extended MKCOL
// and MKCALENDAR are sent here as plain HTTP requests. On Radicale, an
// address book the run creates is filled with one whole-collection PUT
// and then checked card by card (bulk.go). README.md records what each
// tested server does.
package dav
