package main

import (
	"context"
	"errors"
	"fmt"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"github.com/podflow/podflow/config"
	"github.com/podflow/podflow/logging"
)

// run is `podflow run`: load the configuration, set up logging, run the
// agent until SIGINT or SIGTERM.
func (a *app) run(args []string) int {
	cfg, err := config.Load(args, a.lookupEnv)
	if errors.Is(err, config.ErrHelp) {
		fmt.Fprint(a.stdout, usage())
		return exitOK
	}
	if err != nil {
		return a.usageError(err)
	}
	log, err := a.startLogging(cfg.LogLevel)
	if err != nil {
		return a.usageError(err)
	}
	defer log.Sync() //nolint:errcheck // stderr cannot always be synced; nothing to do about it

	log.Info("starting podflow",
		zap.String("version", config.Version), zap.String("commit", config.Commit),
		zap.Object("config", cfg))
	ctx, stop := signalContext(log)
	defer stop()
	if err := a.runAgent(ctx, cfg, log); err != nil && !cleanStop(ctx, err) {
		log.Error("podflow failed", zap.Error(err))
		return exitRuntime
	}
	log.Info("podflow stopped")
	return exitOK
}

// startLogging builds the logger and routes klog into it.
func (a *app) startLogging(level string) (*zap.Logger, error) {
	log, err := a.newLogger(level)
	if err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	if err := logging.RouteKlog(log); err != nil {
		return nil, err
	}
	return log, nil
}

// signalContext is cancelled by the first SIGINT or SIGTERM. After that the
// signals get their default action back, so a second one ends a shutdown
// that hangs. The returned stop releases the signals and waits for the
// watcher goroutine, so nothing logs after the command returns.
func signalContext(log *zap.Logger) (context.Context, func()) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		stop()
		// stop leaves exactly context.Canceled; a signal leaves its own cause
		// (which errors.Is reports as Canceled too, hence ==).
		if cause := context.Cause(ctx); cause != context.Canceled { //nolint:errorlint
			log.Info("shutting down; signal again to force", zap.String("cause", cause.Error()))
		}
	}()
	return ctx, func() { stop(); <-done }
}

// cleanStop reports whether err only says that ctx was cancelled, which is
// how a shutdown ends.
func cleanStop(ctx context.Context, err error) bool {
	return ctx.Err() != nil && errors.Is(err, context.Canceled)
}
