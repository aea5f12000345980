package davclient

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
)

// NewTransport is the HTTP transport every DAV request rides: TLS 1.2 or
// later, verified against roots (nil: the system's), and conns kept-alive
// connections per host (one per worker, plus discovery's).
func NewTransport(roots *x509.CertPool, conns int) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	tr.MaxIdleConnsPerHost = max(conns, 1)
	return tr
}
