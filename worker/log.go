package worker

import (
	"context"
	"fmt"
	"log/slog"
	"os"
)

// asynqLogger lets asynq log through slog.
type asynqLogger struct{ l *slog.Logger }

func newAsynqLogger(l *slog.Logger) *asynqLogger {
	return &asynqLogger{l: l.With("component", "asynq")}
}

func (a *asynqLogger) log(level slog.Level, args ...any) {
	if a.l.Enabled(context.Background(), level) {
		a.l.Log(context.Background(), level, fmt.Sprint(args...))
	}
}

func (a *asynqLogger) Debug(args ...any) { a.log(slog.LevelDebug, args...) }
func (a *asynqLogger) Info(args ...any)  { a.log(slog.LevelInfo, args...) }
func (a *asynqLogger) Warn(args ...any)  { a.log(slog.LevelWarn, args...) }
func (a *asynqLogger) Error(args ...any) { a.log(slog.LevelError, args...) }

// Fatal logs and exits, as asynq expects of a Logger.
func (a *asynqLogger) Fatal(args ...any) {
	a.log(slog.LevelError, args...)
	os.Exit(1)
}
