// Package davclient is mailhaul's HTTP client for CardDAV and CalDAV
// servers, usable by an importer writing to one and a source reading
// from one, and its transport by any other HTTP client of mailhaul (the
// Zimbra REST client):
//
//   - NewTransport: verified TLS (extra roots for --tls-ca), kept-alive
//     connections; the one place a DAV transport is built.
//   - Retrying: retry as an http.RoundTripper over retry.Do. 429 and 5xx
//     answers and dropped connections are tried again, Retry-After taken
//     as the server's wait; an untrusted certificate or a server that does
//     not speak TLS fails at once.
//   - Client: credentials (Basic or Bearer) only for the trusted sites
//     and never in clear off loopback (trust.go), no redirects followed
//     behind the caller's back, discovery (RFC 6764 .well-known,
//     principal, home sets), listing collections and their members, and a
//     raw multiget REPORT that returns objects as the server holds them,
//     read from the answer as it streams in.
package davclient
