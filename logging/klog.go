package logging

import (
	"flag"
	"fmt"

	"github.com/go-logr/logr"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"k8s.io/klog/v2"
)

// RouteKlog sends everything logged through klog to log. klog's V(1) maps
// to zap's debug level (as zapr maps logr verbosity: V(n) is level -n), so
// klog's verbosity is raised to 1 when log has debug enabled and V(2) and
// above, which libraries use for tracing, stay off. Call it once at start,
// before other goroutines log: klog.SetLogger is not thread-safe.
func RouteKlog(log *zap.Logger) error {
	verbosity := "0"
	if log.Core().Enabled(zapcore.DebugLevel) {
		verbosity = "1"
	}
	// klog keeps its settings in package state reachable only through flags.
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	if err := fs.Set("v", verbosity); err != nil {
		return fmt.Errorf("set klog verbosity: %w", err)
	}
	klog.SetLogger(Logr(log.Named("klog")))
	return nil
}

// Logr wraps log as a logr.Logger (what klog and client-go take).
func Logr(log *zap.Logger) logr.Logger {
	return logr.New(&sink{log: log})
}

// sink is a minimal logr.LogSink over zap: V(n) logs at zap level -n, key
// and value pairs become fields, names become zap names.
type sink struct {
	log *zap.Logger
}

var (
	_ logr.LogSink          = (*sink)(nil)
	_ logr.CallDepthLogSink = (*sink)(nil)
)

// Init skips logr's own frames so that the caller field points at the code
// that logged.
func (s *sink) Init(info logr.RuntimeInfo) {
	s.log = s.log.WithOptions(zap.AddCallerSkip(info.CallDepth + 1))
}

func (s *sink) Enabled(level int) bool {
	return s.log.Core().Enabled(zapcore.Level(-level))
}

func (s *sink) Info(level int, msg string, keysAndValues ...any) {
	if ce := s.log.Check(zapcore.Level(-level), msg); ce != nil {
		ce.Write(fields(keysAndValues)...)
	}
}

func (s *sink) Error(err error, msg string, keysAndValues ...any) {
	if ce := s.log.Check(zapcore.ErrorLevel, msg); ce != nil {
		fs := fields(keysAndValues)
		if err != nil {
			fs = append(fs, zap.Error(err))
		}
		ce.Write(fs...)
	}
}

func (s *sink) WithValues(keysAndValues ...any) logr.LogSink {
	return &sink{log: s.log.With(fields(keysAndValues)...)}
}

func (s *sink) WithName(name string) logr.LogSink {
	return &sink{log: s.log.Named(name)}
}

func (s *sink) WithCallDepth(depth int) logr.LogSink {
	return &sink{log: s.log.WithOptions(zap.AddCallerSkip(depth))}
}

// fields turns logr's alternating keys and values into zap fields. A key
// that is not a string, or a last key without a value, is kept rather
// than dropped, under a name that shows the mistake.
func fields(kv []any) []zap.Field {
	fs := make([]zap.Field, 0, (len(kv)+1)/2)
	for i := 0; i < len(kv); i += 2 {
		key, ok := kv[i].(string)
		if !ok {
			key = fmt.Sprintf("!BADKEY(%v)", kv[i])
		}
		if i+1 == len(kv) {
			fs = append(fs, zap.Any("!MISSINGVALUE", key))
			break
		}
		fs = append(fs, zap.Any(key, kv[i+1]))
	}
	return fs
}
