package dav

import "github.com/mailhaul/mailhaul/internal/davclient"

// client is the DAV client (internal/davclient) with the importer's own
// requests on it: PUT and its answers (put.go), the query by UID
// (check.go), the Radicale probe (radicale.go).
type client struct{ *davclient.Client }

// answer is a response read into memory.
type answer = davclient.Answer
