//go:build unix

package zimbra

import (
	"os/exec"
	"syscall"
)

// ownGroup starts cmd in a process group of its own, so that the group
// can be ended whole: zmmailbox is a shell wrapper around java, often
// under sudo or su, and a child left alive keeps the output open.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killGroup ends cmd's process group.
func killGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
