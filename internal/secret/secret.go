// Package secret reads the secrets mailhaul is given by reference: a
// password, passphrase or token held in a file. The command line and the
// migration plan both read them here, so a file means the same to both.
package secret

import (
	"os"
	"strings"
)

// ReadFile reads a password, passphrase or token from a file, without the
// trailing line ending.
func ReadFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return []byte(strings.TrimRight(string(b), "\r\n")), nil
}
