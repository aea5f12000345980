// Package convert turns Zimbra items that a tgz export carries as
// metadata or as Zimbra-internal blobs into the standard objects the
// mailhaul archive holds: a contact's fields (and its photo) into a vCard
// 3.0, an appointment's or task's invites into one iCalendar object.
//
//   - Contact: item metadata ("fld", "att") and the optional blob -> vCard.
//   - Calendar: item metadata and the optional .appt/.task blob -> iCalendar
//     (CalendarFromBlob and CalendarFromMetadata do one source each).
//   - CheckContact, CheckCalendar: a meta=0 .vcf, .ics or .task entry,
//     already standard, is checked and its UID returned; its bytes are kept.
//
// Contacts follow Zimbra's own vCard export (its fmt=vcf and CardDAV
// output: the same property for each field, the same UID rule), so that a
// contact read from a tgz and the same contact fetched live come out
// alike, and go beyond it where Zimbra drops data: every field without a
// standard property is kept as X-ZIMBRA-<NAME>, inline and directory group
// members are kept, and whatever still cannot be carried is returned as a
// note for the caller's report. An error means the item could not be
// converted at all; the caller reports it by id, folder and subject.
//
// Every converter bounds what it holds: attached files (MaxAttachment each,
// MaxItemAttachments an item), calendar text (MaxCalendar), blob parts
// (MaxParts). go-ical and go-vcard panics on malformed input become errors.
package convert
