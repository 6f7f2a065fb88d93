//go:build !linux

package lambdarun

import (
	"os/exec"
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr { return nil }

func killProcess(cmd *exec.Cmd) {
	if cmd.Process != nil {
		cmd.Process.Kill() //nolint:errcheck // it may be gone already
	}
}

func peakMemoryMB(int) int { return 0 }
