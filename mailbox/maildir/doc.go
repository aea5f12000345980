// Package maildir is what mailhaul knows of the Maildir format, in both
// directions: the layouts (Maildir++ dot folders, Dovecot's LAYOUT=fs,
// the root that is INBOX), the info part of a file name (":2,FRS") and
// its letters ↔ IMAP flags, Dovecot's per-folder dovecot-keywords (letter
// a-z ↔ keyword), the subscription files, and folder names on disk in
// modified UTF-7 (RFC 3501 §5.1.3) as Dovecot and Courier write them.
//
// It holds no walk and no policy: export/maildir reads a tree through it
// (and decides what to do with odd names), importer/maildir writes one.
// Nothing here touches the file system except through the readers and
// writers it is given.
package maildir
