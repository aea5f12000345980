// Package appender is a minimal IMAP client for one job: loading messages
// fast. It speaks just enough of the protocol to log in and send APPEND
// commands pipelined, with MULTIAPPEND (RFC 3502) and non-synchronizing
// literals (LITERAL+/LITERAL-, RFC 7888) where the server offers them, and
// BINARY literals (RFC 3516) for messages holding NUL bytes.
//
// It exists because go-imap v2 beta.8 waits for the server's "+" before
// every literal over 4 KB, even when LITERAL+ is offered, and has no
// MULTIAPPEND: one round trip per message, which made bulk loading into
// Dovecot no faster than mbsync. Everything else (LIST, CREATE, SELECT,
// FETCH) stays with go-imap.
package appender
