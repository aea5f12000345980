// Package mbox exports mbox files into a mailhaul archive: one file, or a
// directory tree in Thunderbird's layout, each file one folder. Its Reader
// is a streaming message splitter usable on its own.
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
// # Dialects
//
// Each file's dialect (mboxo, mboxrd, mboxcl, mboxcl2) is detected by a
// first pass over it (see DetectDialect), recorded in the folder's Notes,
// and undone exactly by a second pass: messages come out as they were
// before they went into the mbox. The blank line before each "From "
// separator belongs to the mbox and is dropped.
//
// # Flags, dates, identity
//
// Flags come from Status (R: \Seen), X-Status (A, F, T, D), X-Keywords,
// X-Mozilla-Status (read, replied, marked, forwarded: $Forwarded) and
// X-Mozilla-Keys; keywords that are not IMAP atoms have their offending
// characters replaced by '_', with a note on the item. Messages Thunderbird
// marked expunged, and the "FOLDER INTERNAL DATA" message UW-IMAP keeps
// first in a file, are counted as skipped. The received time is the From
// line's date, else the Date field's, else the one ending the oldest
// Received field; a message with none is exported with a warning and kept
// even under a cutoff (a duplicate is harmless, a loss is not). SourceID
// is the file's path below the source and the From line's byte offset,
// "Work.sbd/2024#1234".
//
// # Gmail Takeout
//
// A message with an X-Gmail-Labels field goes to exactly one folder, so
// that no message is imported twice; its other labels become flags:
//
//   - The folder is the first label present of Trash, Spam (role junk),
//     Drafts, Sent, Inbox ("INBOX"); else the first user label (its "/"
//     nests folders); else "Archive" (role archive: Gmail's All Mail).
//   - Opened adds \Seen, Unread removes it, Starred adds \Flagged,
//     Important adds $Important, Drafts adds \Draft, "Category X" adds
//     $Category_X, and Archived says nothing more than "not in the inbox".
//   - Every other user label becomes a keyword.
//
// Labels are comma-separated, double-quoted when they hold a comma. Such
// folders are added to the archive when first used; the Takeout file
// itself is then no folder.
package mbox
