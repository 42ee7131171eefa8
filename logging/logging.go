// Package logging builds podflow's zap logger and routes klog (used by
// go-ipfix and client-go) into it, so every line podflow prints is one JSON
// object on stderr.
package logging

import (
	"fmt"
	"io"
	"os"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// ParseLevel accepts podflow's --log-level values: debug, info, warn, error.
func ParseLevel(level string) (zapcore.Level, error) {
	switch level {
	case "debug":
		return zapcore.DebugLevel, nil
	case "info":
		return zapcore.InfoLevel, nil
	case "warn":
		return zapcore.WarnLevel, nil
	case "error":
		return zapcore.ErrorLevel, nil
	}
	return 0, fmt.Errorf("unknown log level %q, want debug, info, warn or error", level)
}

// New returns a production JSON logger on stderr at level (see ParseLevel).
func New(level string) (*zap.Logger, error) {
	return NewTo(os.Stderr, level)
}

// NewTo is New writing to w: zap's production JSON encoding with ISO8601
// times and the caller, sampled as zap's production config does (after 100
// identical messages in a second, one in 100), without stack traces on
// errors (a daemon's errors are expected events, not bugs).
func NewTo(w io.Writer, level string) (*zap.Logger, error) {
	lvl, err := ParseLevel(level)
	if err != nil {
		return nil, err
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	core := zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.Lock(zapcore.AddSync(w)), lvl)
	core = zapcore.NewSamplerWithOptions(core, time.Second, 100, 100)
	return zap.New(core, zap.AddCaller(), zap.ErrorOutput(zapcore.Lock(zapcore.AddSync(w)))), nil
}
