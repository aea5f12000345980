// Package mbox exports mbox files into a mailhaul archive: one file, or a
// directory tree in Thunderbird's layout, each file one folder. The mbox
// format itself (splitting, dialects, quoting, flag headers, Gmail labels,
// the .sbd tree) lives in mailbox/mbox; this package walks the source and
// feeds the sink.
//
// # Files and folders
//
// The folder "Name" is the file Name (or Name.mbox); its subfolders are in
// the directory Name.sbd, and plain directories are folder levels too, so
// Name.sbd/Sub is "Name/Sub". Thunderbird's .msf indexes are ignored; any
// other file that does not start with "From " is ignored with a warning;
// an empty file is an empty folder. Below a tree's root no symbolic link is
// followed and only regular files are opened (export/srcfs): a link, FIFO,
// socket or device is reported as an error and skipped. Top-level folders named like Inbox,
// Sent (Items), Drafts, Trash / Deleted Items, Junk / Spam or Archive(s),
// or a common localisation of these (export.RoleForName), get that role,
// the first such folder keeping it; the inbox is always "INBOX" (as is a
// single file named "mbox").
//
// Each file's dialect is detected by a first pass over it
// (mbox.DetectDialect), recorded in the folder's Notes, and undone exactly
// by a second pass.
//
// # Flags, dates, identity
//
// Flags are read by mailbox/mbox (HeaderRoute); keywords
// that are not IMAP atoms have their offending characters replaced by
// '_', with a note on the item. Messages Thunderbird
// marked expunged, and the "FOLDER INTERNAL DATA" message UW-IMAP keeps
// first in a file, are counted as skipped. The received time is the From
// line's date, else the Date field's, else the one ending the oldest
// Received field; a message with none is exported with a warning and kept
// even under a cutoff (a duplicate is harmless, a loss is not). SourceID
// is the file's path below the source and the message's identity, which
// a client rewriting the file (compacting it, writing flags) does not
// change: its Message-ID, "Work.sbd/2024#<a@b>", else a digest of its
// header less the fields mbox writers rewrite ("Work.sbd/2024#h:…"), with
// "+2", "+3"… for further messages of the file with the same identity
// (see identity.go). The state record gives no key: a moved message is
// found by its Message-ID.
//
// A message with an X-Gmail-Labels field goes to exactly one folder (see
// mailbox/mbox, "Gmail Takeout"); such folders are added to the archive
// when first used, and the Takeout file itself is then no folder.
package mbox
