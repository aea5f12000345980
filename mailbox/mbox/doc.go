// Package mbox reads and writes mbox files, the format named once for the
// exporter (export/mbox) and for restore (importer/mbox): its Reader is a
// streaming message splitter, its Writer writes mboxrd, and it knows the
// dialects and their quoting, the flag headers mbox writers use, Gmail
// Takeout's labels and Thunderbird's folder tree.
//
// # Dialects
//
// A file's dialect (mboxo, mboxrd, mboxcl, mboxcl2) is detected by a
// first pass over it (DetectDialect) and undone exactly by a second (a
// Reader in that dialect): messages come out as they were before they
// went into the mbox. The blank line before each "From "
// separator belongs to the mbox and is dropped.
//
// The Writer always writes mboxrd, the one dialect whose quoting is exact
// without a Content-Length field. No mbox without Content-Length can end
// a message without a line ending: the Writer adds one and says so.
//
// # Flags
//
// Flags come from Status (R: \Seen), X-Status (A, F, T, D), X-Keywords,
// X-Mozilla-Status (read, replied, marked, forwarded: $Forwarded) and
// X-Mozilla-Keys (HeaderFlags). Written back, flags become Status,
// X-Status and X-Keywords (FlagFields, SetFlags), which HeaderFlags reads
// as the same flags. Keywords are kept as spelled; making them IMAP atoms
// is the caller's concern.
//
// # Thunderbird's tree
//
// The folder "Name" is the file Name (or Name.mbox); its subfolders are
// in the directory Name.sbd, so Name.sbd/Sub is "Name/Sub" (FolderName,
// TreePath).
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
// Labels are comma-separated, double-quoted when they hold a comma
// (SplitLabels). RouteGmail makes the choice; MessageFlags includes it.
package mbox
