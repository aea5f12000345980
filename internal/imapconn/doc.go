// Package imapconn reaches and logs in to an IMAP server, for whatever
// then uses the connection: go-imap for LIST, SELECT and FETCH, the
// importer's pipelining appender for APPEND, and later an IMAP source.
// It holds the one copy of what they share: the account (address, TLS
// mode, login, a secret read again on every connection), the imap:// and
// imaps:// URL rules with the plaintext guard, one Dial (TCP, TLS or
// STARTTLS, LOGIN or SASL), the raw response line and its classification
// as internal/retry marks, and each provider's connection limits.
//
// Dial logs in on a raw line-level connection (RFC 9051 sections 6.2 and
// 7.1) and then either keeps it (Conn.ReadLine, Conn.Writer) or hands it
// to go-imap (Conn.Client) behind a PREAUTH greeting, so that go-imap's
// own login code is never used and nothing is done twice.
package imapconn
