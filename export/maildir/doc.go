// Package maildir exports a Maildir mailbox (Maildir++, Dovecot's
// LAYOUT=fs, or a plain Maildir) into an export.Sink, streaming each
// message file once and deciding incremental cutoffs from file names alone.
// It walks the tree and decides what to report; what the files mean (the
// layouts, info letters, dovecot-keywords, subscriptions, folder names in
// modified UTF-7) is mailbox/maildir's, which restore writes with too.
//
// What it reads from disk, and nothing else:
//
//   - Messages: the files in each folder's cur/ and new/ (tmp/ holds
//     deliveries in progress). Flags come from the info part ":2,FLAGS"
//     (";2," and "!2," in copies made on Windows and by mbsync, "%3A2%2C"
//     where a tool percent-encoded it); lower-case letters are
//     keywords named in the folder's dovecot-keywords file. The received
//     time is the name's leading Unix timestamp, else the file's mtime.
//     Size hints (",S=", ",W=") are ignored.
//   - Folder names: directory names in modified UTF-7 (RFC 3501 §5.1.3),
//     as Dovecot and Courier write them.
//   - Folders that exist only as names: under Maildir++, an empty ".Name"
//     directory is exported as an empty folder with a note and a warning
//     (a client created it; the target should show it too). A name only in
//     the subscription files is no folder (subscriptions outlive deleted
//     folders): such names are counted in one warning.
//   - Folder names the archive cannot hold (a "." or ".." level, a NUL)
//     are made safe by export.SafeFolderPath, with a note.
//     A dot-directory without cur/, new/ or tmp/ that holds Dovecot or
//     Courier folder files (dovecot-uidlist, dovecot.index*,
//     courierimapuiddb…) is a folder too, exported empty with a note;
//     other non-empty ones belong to other tools (.notmuch) and are left out.
//   - Subscriptions: Dovecot's "subscriptions" (both file versions) and
//     Courier's "courierimapsubscribed". When neither exists the mailbox
//     keeps no subscription state, and every folder is marked subscribed
//     so that clients showing only subscribed folders still show them.
//   - Roles: from folder names (Sent, Sent Items, Drafts, Trash, Junk,
//     Archive and common localisations), for top-level folders and direct
//     children of INBOX, the first folder in export order winning each
//     role. Dovecot keeps special-use flags only in its configuration
//     (mailbox { special_use }); its /private/specialuse metadata entry is
//     served from that configuration, and neither dovecot.list.index nor
//     any other file in the Maildir records them, so there is nothing on
//     disk to read.
//
// Nothing outside the root is read: below it, no symbolic link is
// followed (a linked folder, cur/ or message is reported as an error) and
// only regular files are opened (see export/srcfs); a root that is itself
// a link is refused. The root must be a Maildir (cur/ or new/ as
// directories; tmp/ alone is not enough), a LAYOUT=fs root with an INBOX
// directory, any directory holding maildirs when LayoutFS is given, or a
// Maildir++ root that lost its empty INBOX directories but keeps Dovecot's
// or Courier's files, or only its folders when LayoutMaildirPP is given
// (INBOX then exported empty, with a note); anything else is refused with
// NotMaildirError, which never names a ".Folder" as the root meant.
//
// A live Maildir changes while it is read: new/ is listed before cur/ (a
// message only moves that way), each unique name is exported once, and a
// file gone when it is opened is looked for again by its unique name in a
// re-list shared by every message renamed since; only one absent from two
// re-lists made after the failed open is counted as expunged
// (export.SkipExpunged) and named in a warning. A last re-list of each
// folder catches a message a listing during a rename missed.
//
// Not read: dovecot-uidlist and the dovecot.index* files (UIDs are not
// exported; identity is the file name), Courier's courierimapkeywords/
// directory, and Dovecot's listescape encoding of "." inside Maildir++
// names.
package maildir
