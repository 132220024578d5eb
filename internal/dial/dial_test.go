package dial

import (
	"context"
	"errors"
	"testing"
)

type conn struct{ closed chan struct{} }

func (c *conn) Close() error { close(c.closed); return nil }

func TestOpenReturnsResult(t *testing.T) {
	c := &conn{closed: make(chan struct{})}
	got, err := Open(context.Background(), func() (*conn, error) { return c, nil })
	if err != nil || got != c {
		t.Fatalf("Open = %v, %v; want the connection", got, err)
	}
	want := errors.New("refused")
	if _, err := Open(context.Background(), func() (*conn, error) { return nil, want }); err != want {
		t.Fatalf("Open error = %v, want %v", err, want)
	}
}

// TestOpenCancelled: a cancelled ctx returns at once, and the connection
// that arrives later is closed, not leaked.
func TestOpenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	release := make(chan struct{})
	c := &conn{closed: make(chan struct{})}
	go cancel()
	_, err := Open(ctx, func() (*conn, error) { <-release; return c, nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Open = %v, want context.Canceled", err)
	}
	close(release)
	<-c.closed // the test times out if the late connection is leaked

	called := false
	if _, err := Open(ctx, func() (*conn, error) { called = true; return c, nil }); !errors.Is(err, context.Canceled) || called {
		t.Fatalf("Open on a done ctx = %v (open called %v), want context.Canceled without a call", err, called)
	}
}
