// Package format reads and writes the mailhaul archive: one streamed tar
// file per user and export run holding a manifest, folder records, items
// (messages, contacts, calendar objects) each described by a small JSON
// record, and a closing summary. FORMAT.md in this directory is the
// specification; this package knows nothing of IMAP, DAV or SFTP.
package format

import (
	"time"
)

// Version is the archive format version this package writes. Readers
// accept archives whose version is at most Version (see FORMAT.md for the
// versioning rule).
const Version = 1

// Kind says what an item is.
type Kind string

const (
	KindMessage Kind = "message" // an RFC 5322 message, stored as .eml
	KindContact Kind = "contact" // one vCard, stored as .vcf
	KindEvent   Kind = "event"   // one iCalendar object (VEVENT or VJOURNAL) per UID, stored as .ics
	KindTask    Kind = "task"    // one iCalendar object holding VTODOs of one UID, stored as .ics
)

// Ext is the file extension of an item's data entry.
func (k Kind) Ext() string {
	switch k {
	case KindMessage:
		return ".eml"
	case KindContact:
		return ".vcf"
	case KindEvent, KindTask:
		return ".ics"
	}
	return ""
}

func (k Kind) valid() bool { return k.Ext() != "" }

// FolderKind is the kind of folder an item of kind k lives in.
func (k Kind) FolderKind() FolderKind {
	switch k {
	case KindContact:
		return FolderContacts
	case KindEvent, KindTask:
		return FolderCalendar
	}
	return FolderMail
}

// FolderKind says what a folder holds.
type FolderKind string

const (
	FolderMail     FolderKind = "mail"     // a mail folder (IMAP mailbox)
	FolderContacts FolderKind = "contacts" // an address book
	FolderCalendar FolderKind = "calendar" // a calendar (events, tasks or both)
)

// Role is a folder's special use, in the spirit of RFC 6154. The empty role
// is an ordinary folder.
type Role string

const (
	RoleNone    Role = ""
	RoleInbox   Role = "inbox"
	RoleSent    Role = "sent"
	RoleDrafts  Role = "drafts"
	RoleTrash   Role = "trash"
	RoleJunk    Role = "junk"
	RoleArchive Role = "archive"
)

// Manifest is the first entry of every archive.
type Manifest struct {
	Format  int       `json:"format"`          // archive format version
	User    string    `json:"user"`            // the mailbox owner, usually an address
	Source  Source    `json:"source"`          // where the items came from
	Started time.Time `json:"started"`         // export start time, UTC
	After   time.Time `json:"after,omitzero"`  // incremental cutoff: only items received at or after it
	Tool    string    `json:"tool,omitempty"`  // program and version that wrote the archive
	Notes   []string  `json:"notes,omitempty"` // free-form notes from the exporter
	// Account is what the source knew of the account, when it says:
	// optional, for provisioning the target (a field, not an entry of
	// its own, so that every version 1 reader still reads the archive).
	Account *Account `json:"account,omitempty"`
}

// Account is the source's account record: what a target is provisioned
// from and what the user set up beyond mail. Every field is optional.
type Account struct {
	DisplayName string   `json:"displayName,omitempty"`
	GivenName   string   `json:"givenName,omitempty"`
	Surname     string   `json:"surname,omitempty"`
	Aliases     []string `json:"aliases,omitempty"`
	// QuotaBytes is the mailbox quota; 0 is unlimited or unknown.
	QuotaBytes int64 `json:"quotaBytes,omitempty"`
	// Status is the account status as the source names it (Zimbra:
	// active, locked, lockout, maintenance, pending, closed).
	Status   string `json:"status,omitempty"`
	TimeZone string `json:"timeZone,omitempty"` // an IANA or Windows zone name, as the source has it
	// Forwarding are the addresses mail is forwarded to; LocalDelivery
	// false means no copy is kept in the mailbox.
	Forwarding       []string            `json:"forwarding,omitempty"`
	NoLocalDelivery  bool                `json:"noLocalDelivery,omitempty"`
	Sieve            string              `json:"sieve,omitempty"`         // incoming filters, a Sieve script
	OutgoingSieve    string              `json:"outgoingSieve,omitempty"` // outgoing filters
	OutOfOffice      *Reply              `json:"outOfOffice,omitempty"`
	PasswordHash     string              `json:"passwordHash,omitempty"`     // only when the export was asked for it: {SSHA512}...
	SourceAttributes map[string][]string `json:"sourceAttributes,omitempty"` // the raw attributes read
}

// Reply is an automatic reply.
type Reply struct {
	Enabled bool   `json:"enabled"`
	Text    string `json:"text,omitempty"`
}

// Source describes the export source in the manifest.
type Source struct {
	Kind string `json:"kind"`           // "maildir", "mbox", "zimbra", ...
	Host string `json:"host,omitempty"` // machine that ran the export
	Path string `json:"path,omitempty"` // source path or URL (never with credentials)
}

// Folder describes a folder. Folders are written before their items, so
// empty folders survive a round trip.
type Folder struct {
	Kind FolderKind `json:"kind"`
	// Path is the folder's true path with "/" between levels, for example
	// "INBOX", "Work/2024" or, for an address book, "Personal".
	Path       string `json:"path"`
	Role       Role   `json:"role,omitempty"`
	Subscribed bool   `json:"subscribed,omitempty"`
	// DisplayName, Color and Description describe address books and
	// calendars; mail folders leave them empty.
	DisplayName string `json:"displayName,omitempty"`
	Color       string `json:"color,omitempty"`
	Description string `json:"description,omitempty"`
	// Components are a calendar's supported components as its server
	// named them (VEVENT, VTODO); none: any, or not known.
	Components []string `json:"components,omitempty"`
	// SyncToken and CTag are what a DAV server said of the collection's
	// state when it was listed (RFC 6578 sync-token; CalendarServer's
	// getctag, else the collection's ETag), for a later delta.
	SyncToken string `json:"syncToken,omitempty"`
	CTag      string `json:"ctag,omitempty"`
	// Notes carries source-specific facts worth keeping (for example the
	// mbox dialect a folder was read in).
	Notes []string `json:"notes,omitempty"`
	// IMAP is the mailbox's state on an IMAP source as the export began,
	// for a later delta to ask for what changed since: optional.
	IMAP *IMAPState `json:"imap,omitempty"`
}

// IMAPState is an IMAP mailbox's identity and change counters (RFC 9051
// UIDVALIDITY and UIDNEXT, RFC 7162 HIGHESTMODSEQ).
type IMAPState struct {
	UIDValidity uint32 `json:"uidValidity"`
	UIDNext     uint32 `json:"uidNext,omitempty"`
	// HighestModSeq is set only where the server offers CONDSTORE.
	HighestModSeq uint64 `json:"highestModSeq,omitempty"`
}

// Item is the metadata record written immediately before an item's data.
type Item struct {
	Kind   Kind   `json:"kind"`
	Folder string `json:"folder"`         // Folder.Path of the folder holding the item
	Role   Role   `json:"role,omitempty"` // the folder's role, copied by the Writer
	// Flags are IMAP flags: system flags such as \Seen and \Flagged, and
	// keywords such as $Forwarded or $Label1.
	Flags     []string  `json:"flags,omitempty"`
	Received  time.Time `json:"received"` // delivery time; becomes the IMAP internal date
	Size      int64     `json:"size"`     // bytes of data, set by the Writer
	SHA256    string    `json:"sha256"`   // hex SHA-256 of the data, set by the Writer
	MessageID string    `json:"messageId,omitempty"`
	UID       string    `json:"uid,omitempty"` // vCard or iCalendar UID
	// SourceID identifies the item in its source, stably across runs: a
	// Maildir base name without its info part, an mbox file and offset.
	SourceID string `json:"sourceId"`
	// Labels are the folders (their Paths, each a mail folder of the
	// archive) that show this message besides Folder, where the source
	// keeps one message under several names (Gmail's labels): the
	// message is stored once and an importer places it in each of them
	// too, or applies them as labels where the target has labels.
	Labels []string `json:"labels,omitempty"`
	// Notes records anything noteworthy about this item, for example that
	// its UID was generated or that a parser could not read it.
	Notes []string `json:"notes,omitempty"`
}

// Problem is an item or file that could not be exported, or was exported
// with a caveat. Each one names the folder, the item and the reason.
type Problem struct {
	Folder string `json:"folder,omitempty"`
	Item   string `json:"item"`
	Reason string `json:"reason"`
}

// Counts tallies items by kind.
type Counts struct {
	Messages int   `json:"messages"`
	Contacts int   `json:"contacts"`
	Events   int   `json:"events"`
	Tasks    int   `json:"tasks"`
	Bytes    int64 `json:"bytes"`
}

// Add counts one item of kind k and size n.
func (c *Counts) Add(k Kind, n int64) {
	switch k {
	case KindMessage:
		c.Messages++
	case KindContact:
		c.Contacts++
	case KindEvent:
		c.Events++
	case KindTask:
		c.Tasks++
	}
	c.Bytes += n
}

// Items is the number of items counted.
func (c Counts) Items() int { return c.Messages + c.Contacts + c.Events + c.Tasks }

// FolderCounts are the counts of one folder.
type FolderCounts struct {
	Path string     `json:"path"`
	Kind FolderKind `json:"kind"`
	Role Role       `json:"role,omitempty"`
	Counts
}

// Summary is the last entry of every complete archive.
type Summary struct {
	Finished time.Time      `json:"finished"`
	Counts   Counts         `json:"counts"`
	Folders  []FolderCounts `json:"folders"`
	// Errors are items that are not in the archive because they could not
	// be read or exported. An archive with errors is a partial success.
	Errors []Problem `json:"errors,omitempty"`
	// Warnings are items that are in the archive, with a caveat.
	Warnings []Problem `json:"warnings,omitempty"`
	// Skipped counts items left out on purpose, by reason (for example
	// "expunged" or "received before the cutoff").
	Skipped map[string]int `json:"skipped,omitempty"`
	// Truncated is set when more problems occurred than the summary lists.
	Truncated int `json:"truncated,omitempty"`
	// State, when set, announces the state record in the archive's tail
	// (FORMAT.md): its items counted by kind, bytes the sum of the sizes
	// they give.
	State *Counts `json:"state,omitempty"`
}
