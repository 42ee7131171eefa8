package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// ErrHelp is returned (wrapped) by Load when the arguments ask for help
// (-h, --help); the caller prints Usage and exits 0.
var ErrHelp = flag.ErrHelp

// rawValues are the text values one source gave, by option name. A present
// key with no values means "set to empty" (a list given as "").
type rawValues map[string][]string

// Load builds the run configuration: defaults, then the YAML file named by
// --config or PODFLOW_CONFIG, then PODFLOW_* environment variables (looked
// up with lookupEnv, e.g. os.LookupEnv), then the flags in args (without the
// program name or subcommand), then Validate. Every error names the option
// and, for a bad value, where the value came from; all problems are
// reported together (errors.Join). Any error from Load is a usage error.
func Load(args []string, lookupEnv func(string) (string, bool)) (*Config, error) {
	flags, err := parseFlags(args)
	if err != nil {
		return nil, err
	}
	c := Defaults()
	var errs []error
	if path := configPath(flags, lookupEnv); path != "" {
		errs = append(errs, applyFile(c, path))
	}
	errs = append(errs, applyEnv(c, lookupEnv), applyRaw(c, flags, func(*option) string { return "command line" }))
	if err := errors.Join(errs...); err != nil {
		return nil, err // values that did not parse: validating the rest would only add noise
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// parseFlags collects the raw flag values; parsing them is left to the
// options so that flag, env and YAML values share one parser and one error
// format.
func parseFlags(args []string) (rawValues, error) {
	fs := flag.NewFlagSet("podflow run", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the caller prints errors and usage
	vals := rawValues{}
	for i := range options {
		fs.Var(rawFlag{opt: &options[i], vals: vals}, options[i].name, options[i].help)
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return vals, nil
}

// rawFlag records a flag's values as given.
type rawFlag struct {
	opt  *option
	vals rawValues
}

func (f rawFlag) String() string   { return "" }
func (f rawFlag) IsBoolFlag() bool { return f.opt.boolean }
func (f rawFlag) Set(v string) error {
	f.vals[f.opt.name] = append(f.vals[f.opt.name], f.opt.values(v)...)
	return nil
}

// configPath is the YAML file to read: --config wins over PODFLOW_CONFIG.
func configPath(flags rawValues, lookupEnv func(string) (string, bool)) string {
	if v := flags["config"]; len(v) > 0 {
		return v[len(v)-1]
	}
	o, _ := lookupOption("config")
	v, _ := lookupEnv(o.envName())
	return v
}

func applyEnv(c *Config, lookupEnv func(string) (string, bool)) error {
	vals := rawValues{}
	for i := range options {
		o := &options[i]
		if v, ok := lookupEnv(o.envName()); ok {
			vals[o.name] = o.values(v)
		}
	}
	return applyRaw(c, vals, func(o *option) string { return "env " + o.envName() })
}

// applyRaw applies one source's values in table order; source says where
// an option's value came from, for error messages.
func applyRaw(c *Config, vals rawValues, source func(*option) string) error {
	var errs []error
	for i := range options {
		o := &options[i]
		v, ok := vals[o.name]
		if !ok {
			continue
		}
		for _, err := range o.apply(c, v) {
			errs = append(errs, fmt.Errorf("--%s: %w (from %s)", o.name, err, source(o)))
		}
	}
	return errors.Join(errs...)
}

func applyFile(c *Config, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	return applyYAML(c, path, data)
}
