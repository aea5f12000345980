// Package dav exports one account's address books and calendars from a
// CardDAV/CalDAV server into an archive (export.Source).
//
// The homes are discovered (RFC 6764 .well-known, the principal, its home
// sets) unless given; every collection in them is listed with one Depth 1
// PROPFIND. Address books and calendars are exported, each as a folder
// named after its URL's last segment, with its display name, colour,
// description, supported components, and the sync token and CTag the
// server gave when it was listed (for a later delta). A scheduling inbox
// or outbox, a calendar another user shared with this one, a subscribed
// calendar and any other collection are listed as warnings and counted
// as skipped, not exported: the server or the subscription makes them
// again, and a shared calendar belongs to its owner's export.
//
// A collection's members are listed with an initial sync-collection
// REPORT (a PROPFIND where refused; an answer the server truncates, RFC
// 6578 §3.6, is followed with its token to the end), spooled to a temporary file, and
// read in multiget REPORTs of Batch objects whose answers are handed to
// the sink one object at a time as they stream in: memory is bounded by
// one object, whatever the collection's size. Objects are written byte
// for byte as the multiget returns them (go-webdav's client would decode
// and re-encode them). An answer that breaks is asked again for what it
// did not deliver, split in halves down to single objects; an object the
// server still does not deliver (404, 500) is an error naming the
// collection and href, and the export goes on (a partial export, exit 3);
// so is a collection whose objects cannot be listed. Each folder notes
// the collection URL it was exported from.
// Each item records the ETag the multiget gave with its bytes (format
// Item.ETag), for a later update with If-Match.
// Requests are repeated through davclient's Retrying transport (429, 5xx,
// dropped connections, Retry-After). A 401 is never repeated and ends
// the export: the credentials no longer work, and every further request
// (another half of a batch, the next collection) would be one more
// failed login, which servers count towards locking the account.
//
// Deltas. Given the folders of an earlier export of the account
// (Source.Earlier, which export dav --since reads from that archive),
// each collection is asked for what changed since its sync token
// (RFC 6578 sync-collection): every object the server names is exported
// whatever its stamps, objects deleted since are counted as skipped (an
// archive holds no deletions), and a collection that is new since is
// exported whole. The objects the earlier export could not fetch
// (Source.EarlierFailed, its summary's errors) are asked for again by
// href and kept whatever their stamps: its token covers them, so the
// server's changes would never name them again. A collection without a token, one whose token the
// server no longer takes (a warning says so; Xandikos 0.2.8 answers an
// unknown token with a 500), and a plain --after are cut by stamps: DAV
// objects have no received time, so an object's is its last change as it
// states it: a vCard's REV; an iCalendar object's latest LAST-MODIFIED,
// else DTSTAMP (the last revision, for objects without METHOD), else
// CREATED. A stamp without a zone or a time of day is taken at the
// latest instant it can mean (a date: its end in UTC-12), so that a
// change made after the cutoff is never dropped for the zone it was
// written in. An object at or after the cutoff is exported, one before it
// is counted as skipped, and one that states none is always exported
// (noted), so a delta never misses a change a server did not date; a
// client that changes an object without touching its stamps is missed
// by such a delta (a full export, or the token, has it).
//
// A delta's state record (export.Options.State) costs one more listing of
// each collection: a line for every object it holds, with the sourceId
// the full export gave it and its ETag, without fetching it (so no UID or
// digest; a calendar's objects are given as events). A collection that
// cannot be listed for it is an error naming its folder, and gives no
// lines, so an importer takes no deletion from it.
package dav
