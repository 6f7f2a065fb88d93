package lambdarun

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// sysProcAttr puts the bootstrap in its own process group, so that killing it
// also kills anything it started, and has the kernel kill it if the runner
// dies, so that an interrupted demo or test leaves no process behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func killProcess(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) //nolint:errcheck // the group may be gone already
	cmd.Process.Kill()                              //nolint:errcheck // likewise
}

// peakMemoryMB reads the high-water mark of resident memory (VmHWM), what
// Lambda's REPORT line calls Max Memory Used.
func peakMemoryMB(pid int) int {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
		if err != nil {
			return 0
		}
		return (kb + 1023) / 1024
	}
	return 0
}
