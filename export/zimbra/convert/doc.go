// Package convert turns Zimbra items that a tgz export carries as
// metadata or as Zimbra-internal blobs into the standard objects the
// mailhaul archive holds: a contact's fields (and its photo) into a vCard
// 3.0, an appointment's or task's invites into one iCalendar object.
//
// Contacts follow Zimbra's own vCard export (its fmt=vcf and CardDAV
// output: the same property for each field, the same UID rule), so that a
// contact read from a tgz and the same contact fetched live come out
// alike, and go beyond it where Zimbra drops data: every field without a
// standard property is kept as X-ZIMBRA-<NAME>, and whatever still cannot
// be carried is returned as a note for the caller's report.
package convert
