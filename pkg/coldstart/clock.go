package coldstart

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/lenderops/encompass-lifecycle/pkg/config"
)

// Clock is the function's clock: the machine's, or, when LOCAL_CLOCK_FILE
// is set (local runs only: the demo and the end-to-end tests), the
// machine's moved by the offset the file holds (a Go duration such as
// "720h0m5s"). The file is read at every call, so that a test moves the
// time of a running function to an effective date instead of waiting for
// it; a read that fails keeps the last offset read.
func Clock(cfg *config.Config) (func() time.Time, error) {
	if cfg.ClockFile == "" {
		return time.Now, nil
	}
	c := &fileClock{path: cfg.ClockFile}
	off, err := c.read()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", config.EnvClockFile, err)
	}
	c.offset.Store(int64(off))
	return c.now, nil
}

type fileClock struct {
	path   string
	offset atomic.Int64
}

func (c *fileClock) read() (time.Duration, error) {
	b, err := os.ReadFile(c.path)
	if err != nil {
		return 0, err
	}
	d, err := time.ParseDuration(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("%s does not hold a duration such as 720h0m5s", c.path)
	}
	return d, nil
}

func (c *fileClock) now() time.Time {
	if d, err := c.read(); err == nil {
		c.offset.Store(int64(d))
	}
	return time.Now().Add(time.Duration(c.offset.Load()))
}
