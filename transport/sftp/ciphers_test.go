package sftp

import (
	"strings"
	"testing"
)

func TestPreferChaCha(t *testing.T) {
	got := preferChaCha([]string{"aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com", "aes128-ctr"})
	want := []string{"chacha20-poly1305@openssh.com", "aes128-gcm@openssh.com", "aes128-ctr"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("preferChaCha = %q, want %q", got, want)
	}
	if got := preferChaCha([]string{"aes128-ctr"}); len(got) != 1 || got[0] != "aes128-ctr" {
		t.Errorf("preferChaCha without ChaCha = %q, want the list unchanged", got)
	}
}
