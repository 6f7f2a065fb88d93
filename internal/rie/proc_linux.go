package rie

import (
	"os/exec"
	"syscall"
)

// sysProcAttr puts the emulator in its own process group, and has the
// kernel send it SIGTERM (not KILL) if this process dies, so that the
// emulator stops the runtime it started.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// killGroup kills the emulator and the runtime it started.
func killGroup(cmd *exec.Cmd) {
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) //nolint:errcheck // the group may be gone already
}
