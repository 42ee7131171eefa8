package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"strconv"

	"go.uber.org/zap"

	"github.com/podflow/podflow/collector"
	"github.com/podflow/podflow/exporter"
	"github.com/podflow/podflow/logging"
)

const (
	defaultListen = "udp://127.0.0.1:4739"
	collectUsage  = `  --listen URL       where to receive IPFIX: udp://HOST:PORT or tcp://HOST:PORT (default ` + defaultListen + `)
  --format FORMAT    how to print records on stdout: json (one object a line) or text (default json)
  --enterprise-number N  PEN of podflow's own elements, as the exporter's --enterprise-number (default 32473)
  --log-level LEVEL  debug, info, warn or error (default info)
`
)

// collect is `podflow collect`: receive IPFIX and print the records on
// stdout until SIGINT or SIGTERM.
func (a *app) collect(args []string) int {
	fs := flag.NewFlagSet("podflow collect", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors and usage are printed below
	listen := fs.String("listen", defaultListen, "")
	format := fs.String("format", "json", "")
	level := fs.String("log-level", "info", "")
	pen := fs.Uint("enterprise-number", uint(exporter.DefaultPEN), "")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(a.stdout, "Usage: podflow collect [options]\n\n"+collectUsage)
		return exitOK
	} else if err != nil {
		return a.usageError(err)
	}
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	if err := checkListen(*listen); err != nil {
		errs = append(errs, fmt.Errorf("--listen: %w", err))
	}
	if *format != "json" && *format != "text" {
		errs = append(errs, fmt.Errorf("--format: must be json or text, got %q", *format))
	}
	if _, err := logging.ParseLevel(*level); err != nil {
		errs = append(errs, fmt.Errorf("--log-level: %w", err))
	}
	if *pen == 0 || uint64(*pen) > math.MaxUint32 {
		errs = append(errs, fmt.Errorf("--enterprise-number: must be 1..4294967295, got %d", *pen))
	}
	if err := errors.Join(errs...); err != nil {
		return a.usageError(err)
	}
	collector.RegisterEnterpriseNumber(uint32(*pen))

	log, err := a.startLogging(*level)
	if err != nil {
		return a.usageError(err)
	}
	defer log.Sync() //nolint:errcheck // see run

	ctx, stop := signalContext(log)
	defer stop()
	opts := collector.Options{
		Listen: *listen, Format: *format, Out: a.stdout, Log: log,
		Ready: func(addr net.Addr) {
			log.Info("collector listening", zap.String("network", addr.Network()), zap.String("address", addr.String()))
		},
	}
	if err := a.runCollector(ctx, opts); err != nil && !cleanStop(ctx, err) {
		log.Error("collector failed", zap.Error(err))
		return exitRuntime
	}
	return exitOK
}

// checkListen accepts udp://HOST:PORT and tcp://HOST:PORT; HOST may be
// empty (all addresses) and PORT 0 (any free port).
func checkListen(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Scheme != "udp" && u.Scheme != "tcp" {
		return fmt.Errorf("%q: want udp://HOST:PORT or tcp://HOST:PORT", raw)
	}
	if u.Opaque != "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q: want %s://HOST:PORT and nothing else", raw, u.Scheme)
	}
	_, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		return fmt.Errorf("%q: %w", raw, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("%q: port %q is not a number in 0..65535", raw, port)
	}
	return nil
}
