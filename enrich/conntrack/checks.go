package conntrack

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/vishvananda/netns"
	"go.uber.org/zap"
)

// The sysctls a Table reads, in the namespace it watches, at Start.
const (
	SysctlEvents = "net.netfilter.nf_conntrack_events"
	SysctlAcct   = "net.netfilter.nf_conntrack_acct"
	SysctlMax    = "net.netfilter.nf_conntrack_max"
	SysctlCount  = "net.netfilter.nf_conntrack_count"
)

// Check is one sysctl as the Table found it and what it means for it.
type Check struct {
	Sysctl string // dotted name, as sysctl(8) takes it
	Value  string // as read, trimmed; "" when unreadable
	Err    error  // why it could not be read
	Warn   bool   // the value limits the Table, or could not be read
	Note   string // what the value means for the Table
}

func readChecks(ns netns.NsHandle) []Check {
	names := []string{SysctlEvents, SysctlAcct, SysctlMax, SysctlCount}
	checks := make([]Check, len(names))
	err := inNetns(ns, func() {
		for i, name := range names {
			b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(name, ".", "/"))
			checks[i] = Check{Sysctl: name, Value: strings.TrimSpace(string(b)), Err: err}
		}
	})
	for i := range checks {
		if err != nil {
			checks[i] = Check{Sysctl: names[i], Err: err}
		}
		judge(&checks[i], checks)
	}
	return checks
}

func judge(c *Check, all []Check) {
	if c.Err != nil {
		c.Warn = true
		c.Note = "unreadable (is nf_conntrack loaded in this namespace?)"
		if c.Sysctl == SysctlEvents {
			c.Note += "; following events anyway"
		}
		return
	}
	switch c.Sysctl {
	case SysctlEvents:
		switch c.Value {
		case "0":
			c.Warn = true
			c.Note = "conntrack events disabled: falling back to periodic dumps; connections that start and end between two dumps get no NAT context"
		case "1":
			c.Note = "conntrack events enabled"
		default:
			c.Note = "conntrack events enabled once a listener subscribes: connections created before Start send no DESTROY, periodic dumps retire them"
		}
	case SysctlAcct:
		state := "on"
		if c.Value == "0" {
			state = "off"
		}
		c.Note = "per-connection counters " + state + "; not needed: the Table reads no conntrack counters"
	case SysctlMax:
		c.Note = "kernel conntrack table size"
	case SysctlCount:
		c.Note = "connections tracked at Start"
		count, err1 := strconv.ParseUint(c.Value, 10, 64)
		limit, err2 := strconv.ParseUint(valueOf(all, SysctlMax), 10, 64)
		if err1 == nil && err2 == nil && limit > 0 && count*10 >= limit*9 {
			c.Warn = true
			c.Note = fmt.Sprintf("kernel conntrack table nearly full (%d of %d): new connections are dropped when it is", count, limit)
		}
	}
}

func valueOf(checks []Check, sysctl string) string {
	for _, c := range checks {
		if c.Sysctl == sysctl {
			return c.Value
		}
	}
	return ""
}

func eventsOff(checks []Check) bool { return valueOf(checks, SysctlEvents) == "0" }

func (t *Table) logChecks() {
	for _, c := range t.checks {
		fields := []zap.Field{zap.String("sysctl", c.Sysctl), zap.String("value", c.Value)}
		if c.Err != nil {
			fields = append(fields, zap.Error(c.Err))
		}
		if c.Warn {
			t.log.Warn(c.Note, fields...)
		} else {
			t.log.Info(c.Note, fields...)
		}
	}
}

// inNetns runs fn on a thread inside ns (0: the current namespace); files
// under /proc/sys/net opened there are that namespace's.
func inNetns(ns netns.NsHandle, fn func()) error {
	if ns <= 0 {
		fn()
		return nil
	}
	errc := make(chan error, 1)
	go func() {
		// The thread is not unlocked on failure: one that may sit in another
		// namespace must end with this goroutine.
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- fmt.Errorf("conntrack: get current netns: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			errc <- fmt.Errorf("conntrack: enter netns: %w", err)
			return
		}
		fn()
		if err := netns.Set(orig); err != nil {
			errc <- fmt.Errorf("conntrack: leave netns: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- nil
	}()
	return <-errc
}
