package config

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"
)

// Limits Validate enforces.
const (
	MinMTU      = 576 // the smallest datagram every IPv4 host must accept
	MaxMTU      = 65535
	MinMaxFlows = 1024
	MaxMaxFlows = 1 << 24
	// MinSamplingInterval accounts every packet; MaxSamplingInterval is
	// 1 in 16M (NetFlow v5 can carry at most 14 bits of it).
	MinSamplingInterval = 1
	MaxSamplingInterval = 1 << 24
	// maxIfNameLen is IFNAMSIZ-1: longer literal names can never match.
	maxIfNameLen = 15
)

// LogLevels are the accepted --log-level values.
var LogLevels = []string{"debug", "info", "warn", "error"}

// Validate checks the whole configuration and returns every problem
// (errors.Join), each naming the option, e.g.
// "--active-timeout: must be positive, got 0s".
func (c *Config) Validate() error {
	var errs []error
	fail := func(option, format string, args ...any) {
		errs = append(errs, fmt.Errorf("--"+option+": "+format, args...))
	}

	durations := []struct {
		option string
		d      time.Duration
	}{
		{"active-timeout", c.ActiveTimeout},
		{"idle-timeout", c.IdleTimeout},
		{"poll-interval", c.PollInterval},
		{"template-refresh", c.TemplateRefresh},
	}
	for _, d := range durations {
		if d.d <= 0 {
			fail(d.option, "must be positive, got %s", formatDuration(d.d))
		}
	}
	// The drain loop only looks at flows once per poll: a longer poll would
	// make both timeouts late by up to a poll.
	if c.PollInterval > 0 && c.IdleTimeout > 0 && c.PollInterval > c.IdleTimeout {
		fail("poll-interval", "must not exceed --idle-timeout (%s), got %s", formatDuration(c.IdleTimeout), formatDuration(c.PollInterval))
	}
	if c.PollInterval > 0 && c.ActiveTimeout > 0 && c.PollInterval > c.ActiveTimeout {
		fail("poll-interval", "must not exceed --active-timeout (%s), got %s", formatDuration(c.ActiveTimeout), formatDuration(c.PollInterval))
	}

	if c.MTU < MinMTU || c.MTU > MaxMTU {
		fail("mtu", "must be in %d..%d, got %d", MinMTU, MaxMTU, c.MTU)
	}
	if c.MaxFlows < MinMaxFlows || c.MaxFlows > MaxMaxFlows {
		fail("max-flows", "must be in %d..%d, got %d", MinMaxFlows, MaxMaxFlows, c.MaxFlows)
	}
	if c.MaxTableFlows < MinMaxFlows || c.MaxTableFlows > MaxMaxFlows {
		fail("max-table-flows", "must be in %d..%d, got %d", MinMaxFlows, MaxMaxFlows, c.MaxTableFlows)
	}
	if !slices.Contains(LogLevels, c.LogLevel) {
		fail("log-level", "must be one of %s, got %q", strings.Join(LogLevels, ", "), c.LogLevel)
	}
	if c.Mode != ModeDedup && c.Mode != ModePerInterface {
		fail("mode", "must be %s or %s, got %q", ModeDedup, ModePerInterface, c.Mode)
	}

	if len(c.Collectors) == 0 {
		fail("collector", "at least one collector is required")
	}
	for _, col := range c.Collectors {
		// Re-parse: a Config built in code has not been through the parser.
		parsed, err := ParseCollector(col.URL)
		if err != nil {
			fail("collector", "%w", err)
		} else if parsed != col {
			fail("collector", "%q: fields do not match the URL (use ParseCollector)", col.URL)
		}
	}

	c.validateFilters(fail)

	for _, name := range c.Interfaces {
		if err := checkInterfacePattern(name); err != nil {
			fail("interfaces", "%w", err)
		}
	}
	return errors.Join(errs...)
}

// checkInterfacePattern accepts an interface name or a path.Match glob.
func checkInterfacePattern(p string) error {
	if p == "" || strings.ContainsAny(p, "/ \t\n") {
		return fmt.Errorf("invalid interface name %q", p)
	}
	if _, err := path.Match(p, ""); err != nil {
		return fmt.Errorf("invalid glob %q: %w", p, err)
	}
	if !strings.ContainsAny(p, `*?[\`) && len(p) > maxIfNameLen {
		return fmt.Errorf("interface name %q is longer than %d bytes", p, maxIfNameLen)
	}
	return nil
}
