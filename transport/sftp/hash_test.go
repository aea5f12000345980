package sftp

import "testing"

func TestPickHashCommand(t *testing.T) {
	const good = "ec64ccd2849fae4297c0e1fe87480c99006c3c54fa0305f760ba8986d847a5ce"
	const bad = "0000000000000000000000000000000000000000000000000000000000000000"
	for _, tc := range []struct {
		name, out, want string
	}{
		{"openssl answers", "__mailhaul_probe_0\n" + good + " *stdin\n__mailhaul_probe_1\n" + good + "  -\n", hashCommands[0]},
		{"no openssl", "__mailhaul_probe_0\n__mailhaul_probe_1\n" + good + "  -\n", hashCommands[1]},
		{"openssl wrong", "__mailhaul_probe_0\n" + bad + " *stdin\n__mailhaul_probe_1\n" + good + "  -\n", hashCommands[1]},
		{"banner first", "Welcome " + good + "\n__mailhaul_probe_0\n__mailhaul_probe_1\n" + good + "  -\n", hashCommands[1]},
		{"banner line that looks like a sum", good + " banner\n__mailhaul_probe_0\n__mailhaul_probe_1\n", ""},
		{"nothing runs", "__mailhaul_probe_0\n__mailhaul_probe_1\n", ""},
		{"no output (dd missing)", "", ""},
	} {
		if got := pickHashCommand([]byte(tc.out)); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// FuzzPickHashCommand: any output picks one of hashCommands or none.
func FuzzPickHashCommand(f *testing.F) {
	f.Add([]byte("__mailhaul_probe_0\nec64ccd2849fae4297c0e1fe87480c99006c3c54fa0305f760ba8986d847a5ce *stdin\n"))
	f.Add([]byte("__mailhaul_probe_9\nxx\n"))
	f.Fuzz(func(t *testing.T, out []byte) {
		got := pickHashCommand(out)
		if got == "" {
			return
		}
		for _, c := range hashCommands {
			if got == c {
				return
			}
		}
		t.Errorf("picked %q, not one of %q", got, hashCommands)
	})
}
