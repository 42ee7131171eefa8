// Command podflow exports the network flows of a Kubernetes node's pods as
// IPFIX. See usage below, config.OptionsMarkdown and configs/podflow.yaml.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"go.uber.org/zap"

	"github.com/podflow/podflow/agent"
	"github.com/podflow/podflow/collector"
	"github.com/podflow/podflow/config"
	"github.com/podflow/podflow/logging"
)

// Exit codes.
const (
	exitOK      = 0
	exitRuntime = 1 // the agent or collector failed
	exitUsage   = 2 // bad command line, environment or configuration file
)

// app is the command with its dependencies, so tests can run it in process
// with fakes in place of the agent and the collector.
type app struct {
	stdout, stderr io.Writer
	lookupEnv      func(string) (string, bool)
	newLogger      func(level string) (*zap.Logger, error)
	runAgent       func(ctx context.Context, cfg *config.Config, log *zap.Logger) error
	runCollector   func(ctx context.Context, opts collector.Options) error
}

func main() {
	a := &app{
		stdout:       os.Stdout,
		stderr:       os.Stderr,
		lookupEnv:    os.LookupEnv,
		newLogger:    logging.New,
		runAgent:     agent.Run,
		runCollector: collector.Run,
	}
	os.Exit(a.main(os.Args[1:]))
}

// main dispatches to a subcommand; run is the default when the first
// argument is a flag or there is none.
func (a *app) main(args []string) int {
	cmd, rest := "run", args
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, rest = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return a.run(rest)
	case "collect":
		return a.collect(rest)
	case "check":
		return a.check(rest)
	case "version":
		return a.version(rest)
	case "help":
		fmt.Fprint(a.stdout, usage())
		return exitOK
	}
	return a.usageError(fmt.Errorf("unknown command %q", cmd))
}

func (a *app) version(args []string) int {
	if len(args) > 0 {
		return a.usageError(fmt.Errorf("version takes no arguments, got %q", args[0]))
	}
	fmt.Fprintln(a.stdout, config.VersionString())
	return exitOK
}

// usageError prints err, one "podflow: " line per joined error, and a hint.
func (a *app) usageError(err error) int {
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintf(a.stderr, "podflow: %s\n", line)
	}
	fmt.Fprintln(a.stderr, "Run 'podflow help' for usage.")
	return exitUsage
}

func usage() string {
	return `podflow exports the network flows of a Kubernetes node's pods as IPFIX.

Usage:
  podflow [run] [options]     export flows (the default command)
  podflow collect [options]   print the flow records received, a built-in collector
  podflow check [options]     probe the kernel and host: what works, what degrades and why
                              (--output json for machines; takes the run options)
  podflow version             print the version, commit and Go version
  podflow help                print this help

Run options. Each is also an environment variable (in brackets) and a key
of the --config YAML file; later wins: defaults, file, environment, flags.
` + config.Usage() + `
Collect options:
` + collectUsage
}
