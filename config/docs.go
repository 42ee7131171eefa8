package config

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"go.uber.org/zap/zapcore"
)

// OptionsMarkdown renders the README options table (option, environment
// variable, default, meaning) from the options table.
func OptionsMarkdown() string {
	var b strings.Builder
	b.WriteString("| Option | Environment | Default | Meaning |\n")
	b.WriteString("| --- | --- | --- | --- |\n")
	for _, o := range options {
		def := "`" + o.def + "`"
		if o.def == "" {
			def = "(none)"
		}
		meaning := o.help
		switch {
		case o.notInFile:
			meaning += " (command line and environment only)"
		case o.list:
			meaning += " (flag may repeat or hold a comma-separated list; environment: comma-separated; YAML: a list)"
		}
		fmt.Fprintf(&b, "| `--%s %s` | `%s` | %s | %s |\n", o.name, o.arg, o.envName(), def, escapeMarkdownCell(meaning))
	}
	return b.String()
}

func escapeMarkdownCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// Usage is the options part of `podflow run -h`.
func Usage() string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, o := range options {
		def := ""
		if o.def != "" {
			def = " (default " + o.def + ")"
		}
		fmt.Fprintf(w, "  --%s %s\t%s%s [%s]\n", o.name, o.arg, o.help, def, o.envName())
	}
	w.Flush()
	return b.String()
}

// MarshalLogObject logs the effective configuration, one field per option
// under its option name: log.Info("config", zap.Object("config", cfg)).
func (c *Config) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	for _, o := range options {
		switch v := o.show(c).(type) {
		case string:
			enc.AddString(o.name, v)
		case bool:
			enc.AddBool(o.name, v)
		case int:
			enc.AddInt(o.name, v)
		case uint32:
			enc.AddUint32(o.name, v)
		case []string:
			if err := enc.AddArray(o.name, zapcore.ArrayMarshalerFunc(func(a zapcore.ArrayEncoder) error {
				for _, s := range v {
					a.AppendString(s)
				}
				return nil
			})); err != nil {
				return err
			}
		default:
			return fmt.Errorf("config: option %s shows an unexpected %T", o.name, v)
		}
	}
	return nil
}
