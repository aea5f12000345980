package main

import (
	"crypto/x509"
	"fmt"

	"github.com/mailhaul/mailhaul/internal/tlsca"
)

// loadCAs reads --tls-ca: PEM certificates to trust instead of the
// system's.
func loadCAs(path string) (*x509.CertPool, error) {
	pool, err := tlsca.Load(path)
	if err != nil {
		return nil, fmt.Errorf("--tls-ca: %w", err)
	}
	return pool, nil
}
