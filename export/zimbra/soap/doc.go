// Package soap is mailhaul's client for a live Zimbra: the admin SOAP
// calls a remote exporter needs (in Zimbra's JSON form) and the streaming
// REST export, with no shell on the server.
//
// The admin logs in once (AuthRequest on https://HOST:7071/service/admin/soap);
// each user is reached with a delegated token (DelegateAuthRequest), renewed
// before it expires and again when the server answers service.AUTH_EXPIRED.
// Accounts come from SearchDirectoryRequest, paged with maxResults="0" so
// that Zimbra's 5,000 cap never applies, or from a file of `zmprov -l gaa`.
//
// Every request goes through one transport: verified TLS, a pace below
// Zimbra's DoS filter (30 requests a second per client by default), and
// davclient.Retrying, which repeats 5xx, 429 and dropped connections
// through internal/retry; a DoS-filter refusal is throttling. SOAP faults
// (HTTP 500 with a JSON body) are answers, not retried. Under the retries,
// every try is held to two clocks whatever the transport: HeaderTimeout
// until the answer's headers, IdleTimeout for each wait on its body. A
// SOAP answer whose body stalls or breaks is asked for again; an export
// stream's break is the caller's (below).
//
// The contract of an export stream (Client.Export): the body is handed
// over as it arrives, never buffered. Failures before the body starts
// (5xx, 429, a dropped connection) are retried inside Export. A stream
// that dies mid-body cannot be resumed: Zimbra has no ranges for an
// export. Read then returns an error marked transient (retry.IsRetryable),
// and the caller discards everything written from that user's export and
// starts it again from the beginning; a half archive is never kept under
// its final name. HTTP 204 is an export that matched nothing: a Stream
// whose Empty is true, not an error.
//
// Secrets (the admin password, every token) travel only in request bodies
// and cookies: never in URLs, log lines or errors.
package soap
