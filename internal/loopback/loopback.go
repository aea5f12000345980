// Package loopback says whether a host name keeps a connection on this
// machine, where a password may travel without TLS. import imap and
// import dav refuse plaintext to any other host unless told otherwise.
package loopback

import (
	"net"
	"strings"
)

// IsHost reports whether host (without port) is localhost or a loopback
// address.
func IsHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
