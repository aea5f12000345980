package main

import (
	"fmt"
	"os"

	"github.com/mailhaul/mailhaul/internal/secret"
)

// passwordEnv is the environment variable every command takes a password
// from when no --password-file is given. Secrets never come from the
// command line, where other users of the machine could read them.
const passwordEnv = "MAILHAUL_PASSWORD"

// readSecretFile reads a password, passphrase or token from a file,
// without the trailing newline (internal/secret, which plans use too).
func readSecretFile(path string) ([]byte, error) { return secret.ReadFile(path) }

// password is the password from passwordFile, else from the environment;
// "" when neither has one.
func password(passwordFile string) (string, error) {
	if passwordFile != "" {
		b, err := readSecretFile(passwordFile)
		if err != nil {
			return "", fmt.Errorf("--password-file: %w", err)
		}
		return string(b), nil
	}
	return os.Getenv(passwordEnv), nil
}
