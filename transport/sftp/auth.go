package sftp

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// authMethods builds the ways to log in, in the order OpenSSH tries them:
// key files, then the agent, then a password. The agent connection, if
// any, is returned for closing.
func authMethods(cfg *Config) ([]ssh.AuthMethod, net.Conn, error) {
	var methods []ssh.AuthMethod
	signers, err := loadIdentities(cfg)
	if err != nil {
		return nil, nil, err
	}
	if len(signers) > 0 {
		methods = append(methods, ssh.PublicKeys(signers...))
	}
	var agentConn net.Conn
	if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" && !cfg.NoAgent {
		if c, err := net.Dial("unix", sock); err == nil {
			agentConn = c
			methods = append(methods, ssh.PublicKeysCallback(agent.NewClient(c).Signers))
		}
	}
	if cfg.Password != "" {
		pw := cfg.Password
		methods = append(methods, ssh.Password(pw),
			ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = pw
				}
				return answers, nil
			}))
	}
	if len(methods) == 0 {
		return nil, nil, errors.New("sftp: no way to log in: give --identity, run an ssh-agent, or give a password with --password-file or MAILHAUL_PASSWORD")
	}
	return methods, agentConn, nil
}

// loadIdentities reads the key files given, or OpenSSH's default ones when
// none are. A default key that needs a passphrase no one gave is left to
// the agent rather than prompting.
func loadIdentities(cfg *Config) ([]ssh.Signer, error) {
	files, explicit := cfg.Identities, true
	if len(files) == 0 {
		explicit = false
		if home, err := os.UserHomeDir(); err == nil {
			for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
				files = append(files, filepath.Join(home, ".ssh", n))
			}
		}
	}
	var signers []ssh.Signer
	for _, f := range files {
		pem, err := os.ReadFile(f)
		if err != nil {
			if !explicit && errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("sftp: identity: %w", err)
		}
		s, err := ssh.ParsePrivateKey(pem)
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			if cfg.Passphrase == nil || (!explicit && !cfg.PassphraseGiven) {
				if explicit {
					return nil, fmt.Errorf("sftp: identity %s needs a passphrase: give --passphrase-file or MAILHAUL_SSH_PASSPHRASE", f)
				}
				continue
			}
			pass, perr := cfg.Passphrase(f)
			if perr != nil {
				return nil, fmt.Errorf("sftp: identity %s: passphrase: %w", f, perr)
			}
			s, err = ssh.ParsePrivateKeyWithPassphrase(pem, pass)
			clear(pass)
		}
		if err != nil {
			return nil, fmt.Errorf("sftp: identity %s: %w", f, err)
		}
		signers = append(signers, s)
	}
	return signers, nil
}
