package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/podflow/podflow/check"
	"github.com/podflow/podflow/config"
)

const checkUsage = `Usage: podflow check [--output text|json] [run options]

Probes the kernel and the host: prints, one line each, what works, what is
degraded and why, and what podflow does about it. The run options (--config,
--kubeconfig, --max-flows, ...) are read as podflow run reads them. Exits 0
when podflow can run (degraded or not), 1 when it cannot.
`

// check is `podflow check`.
func (a *app) check(args []string) int {
	return a.checkWith(args, check.Probes)
}

// checkWith runs the probes probes(cfg) returns; tests pass fakes.
func (a *app) checkWith(args []string, probes func(*config.Config) []check.Probe) int {
	output, rest, err := cutOutputFlag(args)
	if err != nil {
		return a.usageError(err)
	}
	cfg, err := config.Load(rest, a.lookupEnv)
	if errors.Is(err, config.ErrHelp) {
		fmt.Fprint(a.stdout, checkUsage)
		return exitOK
	}
	if err != nil {
		return a.usageError(err)
	}
	results := check.Run(context.Background(), probes(cfg))
	if output == "json" {
		err = check.WriteJSON(a.stdout, results)
	} else {
		err = check.WriteTable(a.stdout, results)
	}
	if err != nil {
		fmt.Fprintf(a.stderr, "podflow: %v\n", err)
		return exitRuntime
	}
	if !check.CanRun(results) {
		return exitRuntime
	}
	return exitOK
}

// cutOutputFlag takes --output (check's own flag) out of args, leaving
// the run options to config.Load.
func cutOutputFlag(args []string) (output string, rest []string, err error) {
	output = "text"
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "output" {
			rest = append(rest, a)
			continue
		}
		if !hasValue {
			if i+1 == len(args) {
				return "", nil, errors.New("--output: needs a value: text or json")
			}
			i++
			value = args[i]
		}
		output = value
	}
	if output != "text" && output != "json" {
		return "", nil, fmt.Errorf("--output: must be text or json, got %q", output)
	}
	return output, rest, nil
}
