package serving

import (
	"context"
	"log/slog"
)

// defaultLogger is what a Server logs through when it is given no
// logger: slog.Default(), as it is now, at level Warn and above only
// (see [WithLogger]). It is the module's internal/logs.Default, copied
// because this package depends on the standard library alone.
func defaultLogger() *slog.Logger { return slog.New(warnOnly{slog.Default().Handler()}) }

// warnOnly passes to h only the records at level Warn and above.
type warnOnly struct{ h slog.Handler }

func (w warnOnly) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && w.h.Enabled(ctx, l)
}

func (w warnOnly) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return nil
	}
	return w.h.Handle(ctx, r)
}

func (w warnOnly) WithAttrs(as []slog.Attr) slog.Handler { return warnOnly{w.h.WithAttrs(as)} }
func (w warnOnly) WithGroup(name string) slog.Handler    { return warnOnly{w.h.WithGroup(name)} }
