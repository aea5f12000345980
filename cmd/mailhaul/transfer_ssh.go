package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/mailhaul/mailhaul/transport/sftp"
)

// sshFlags say how to log in to an SFTP server. Secrets never come from
// arguments: they would show in process lists and shell history.
type sshFlags struct {
	identities       []string
	passphraseFile   string
	passwordFile     string
	askPassword      bool
	knownHosts       string
	acceptNewHostKey bool
	noAgent          bool
	noRemoteCommands bool
	connections      int
}

func (f *sshFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.identities, "identity", "i", nil, "private key file (repeatable; default ~/.ssh/id_ed25519, id_ecdsa, id_rsa)")
	fl.StringVar(&f.passphraseFile, "passphrase-file", "", "file holding the key's passphrase (else MAILHAUL_SSH_PASSPHRASE, else asked on the terminal)")
	fl.StringVar(&f.passwordFile, "password-file", "", "file holding the login password (else MAILHAUL_PASSWORD)")
	fl.BoolVar(&f.askPassword, "ask-password", false, "ask for the login password on the terminal")
	fl.StringVar(&f.knownHosts, "known-hosts", "", "known_hosts file to check the server's key against (default ~/.ssh/known_hosts)")
	fl.BoolVar(&f.acceptNewHostKey, "accept-new-host-key", false, "record the key of a server not yet in known_hosts (a changed key is still refused)")
	fl.BoolVar(&f.noAgent, "no-agent", false, "do not use ssh-agent")
	fl.IntVar(&f.connections, "connections", 0, "SSH connections the transfers may open (default: 1, shared, over a link under 5 ms of round trip; one per transfer beyond). More helps on a fast LAN with a many-core server: sshd encrypts each connection on one core")
	fl.BoolVar(&f.noRemoteCommands, "no-remote-commands", false, "never run a hashing command (openssl, sha256sum) on the server; verify by reading the archive back over SFTP")
}

// endpoint builds the SFTP endpoint for url, gathering secrets first so
// no prompt appears in the middle of a transfer.
func (f *sshFlags) endpoint(a *app, url string) (*sftp.Endpoint, error) {
	if f.connections < 0 {
		return nil, fmt.Errorf("--connections must be at least 1 (or 0 to choose by the link's round trip)")
	}
	target, err := sftp.ParseURL(url)
	if err != nil {
		return nil, err
	}
	cfg := sftp.Config{
		Target:           target,
		Identities:       f.identities,
		NoAgent:          f.noAgent,
		KnownHosts:       f.knownHosts,
		AcceptNewHostKey: f.acceptNewHostKey,
		NoRemoteCommands: f.noRemoteCommands,
		Connections:      f.connections,
	}
	cfg.Password, err = f.password(a, target)
	if err != nil {
		return nil, err
	}
	switch {
	case f.passphraseFile != "":
		cfg.PassphraseGiven = true
		cfg.Passphrase = func(string) ([]byte, error) { return readSecretFile(f.passphraseFile) }
	case os.Getenv("MAILHAUL_SSH_PASSPHRASE") != "":
		cfg.PassphraseGiven = true
		cfg.Passphrase = func(string) ([]byte, error) { return []byte(os.Getenv("MAILHAUL_SSH_PASSPHRASE")), nil }
	default:
		cfg.Passphrase = func(key string) ([]byte, error) { return askSecret(a, "Passphrase for "+key+": ") }
	}
	return sftp.New(cfg)
}

func (f *sshFlags) password(a *app, t sftp.Target) (string, error) {
	pw, err := password(f.passwordFile)
	if err != nil || pw != "" || !f.askPassword {
		return pw, err
	}
	b, err := askSecret(a, fmt.Sprintf("Password for %s@%s: ", t.User, t.Host))
	return string(b), err
}

// askSecret reads a secret from the controlling terminal without echo.
func askSecret(a *app, prompt string) ([]byte, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil || !term.IsTerminal(int(tty.Fd())) {
		if tty != nil {
			tty.Close()
		}
		return nil, errNoTerminal
	}
	defer tty.Close()
	fmt.Fprint(tty, prompt)
	b, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	return b, err
}
