//go:build !linux

package rie

import (
	"os/exec"
	"syscall"
)

// sysProcAttr: off Linux there is no parent-death signal; as with
// internal/lambdarun there, the emulator stays in this process's group, and
// an interrupted test may leave it running.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// killGroup kills the emulator; off Linux it has no group of its own.
func killGroup(cmd *exec.Cmd) {
	cmd.Process.Kill() //nolint:errcheck // it may be gone already
}
