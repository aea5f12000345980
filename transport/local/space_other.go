//go:build !unix

package local

import (
	"errors"
	"syscall"
)

func freeSpace(string) (int64, bool) { return 0, false }

func isNoSpace(err error) bool { return errors.Is(err, syscall.ENOSPC) }

func isReadOnlyFS(error) bool { return false }
