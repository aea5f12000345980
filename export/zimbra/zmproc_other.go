//go:build !unix

package zimbra

import "os/exec"

// ownGroup: no process groups here; killGroup ends the program alone.
func ownGroup(*exec.Cmd) {}

func killGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	return cmd.Process.Kill()
}
