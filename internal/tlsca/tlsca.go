// Package tlsca reads a file of PEM CA certificates to trust instead of
// the system's, for the command line's --tls-ca and a plan's tls_ca alike.
package tlsca

import (
	"crypto/x509"
	"fmt"
	"os"
)

// Load reads the PEM certificates in path into a pool; a file holding
// none is an error.
func Load(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}
