//go:build unix

package lease

import (
	"errors"
	"syscall"
)

// processGone reports whether no process with this PID exists here: a
// signal 0 finds none (ESRCH). A process of another user (EPERM) exists.
func processGone(pid int) bool {
	return pid > 0 && errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
