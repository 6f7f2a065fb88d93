package testenv

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// dynalitePIDs maps a dynalite URL started by this process to its pid.
var dynalitePIDs sync.Map

// clockTicks is Linux's USER_HZ, the unit of /proc/<pid>/stat's CPU times:
// 100 on every architecture Linux ships (getconf CLK_TCK).
const clockTicks = 100

// DynaliteCPU returns the CPU time (user and system) the dynalite process
// serving url has used so far. Benchmarks read it before and after a run
// to say whether the DynamoDB emulator, a single-threaded Node process, was
// what bounded them (one core busy) rather than Encompass. It works on
// Linux for a dynalite this process started.
func DynaliteCPU(url string) (time.Duration, error) {
	v, ok := dynalitePIDs.Load(url)
	if !ok {
		return 0, fmt.Errorf("testenv: no dynalite at %s was started by this process", url)
	}
	return processCPU(v.(int))
}

// SelfCPU returns the CPU time this process (the benchmark, its handlers and
// the in-process simulator) has used so far. With DynaliteCPU it says
// whether the machine's cores, shared by both, bounded a run.
func SelfCPU() (time.Duration, error) { return processCPU(os.Getpid()) }

// processCPU reads utime and stime (fields 14 and 15) of /proc/<pid>/stat.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("testenv: read process cpu: %w", err)
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	rest := string(b)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	f := strings.Fields(rest) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, fmt.Errorf("testenv: short /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("testenv: malformed /proc/%d/stat", pid)
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}
