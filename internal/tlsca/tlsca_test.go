package tlsca

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadRefusesAFileWithoutCertificates(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(p, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Errorf("Load = %v", err)
	}
	if _, err := Load(p + ".missing"); err == nil {
		t.Error("a missing file loaded")
	}
}
