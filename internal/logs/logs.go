// Package logs holds the default logger of the module's packages that
// log: what they log through when they are given no logger.
//
// A library that logs on its own at Info level into the program's
// default logger fills the program's logs with lines it never asked
// for; sarama and kgo log nothing unless given a logger. This module
// keeps the warnings and errors, which an operator needs even when
// nobody configured anything (a model refused, an audit sink down, a
// model that failed to close), and drops the rest: [Default] is
// slog.Default(), as it is when called, at level Warn and above.
//
// This package depends on the standard library alone, and must stay so:
// package serving, which links nothing else, imports it (the root
// package's TestImportRules allows a module internal package that links
// the standard library alone).
package logs

import (
	"context"
	"log/slog"
)

// Default returns slog.Default(), as it is now, passing records at
// level Warn and above only.
func Default() *slog.Logger { return slog.New(WarnOnly{slog.Default().Handler()}) }

// WarnOnly is a slog.Handler that passes to Handler only the records at
// level Warn and above.
type WarnOnly struct{ Handler slog.Handler }

// Enabled implements slog.Handler.
func (w WarnOnly) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && w.Handler.Enabled(ctx, l)
}

// Handle implements slog.Handler.
func (w WarnOnly) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return nil
	}
	return w.Handler.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (w WarnOnly) WithAttrs(as []slog.Attr) slog.Handler { return WarnOnly{w.Handler.WithAttrs(as)} }

// WithGroup implements slog.Handler.
func (w WarnOnly) WithGroup(name string) slog.Handler { return WarnOnly{w.Handler.WithGroup(name)} }
