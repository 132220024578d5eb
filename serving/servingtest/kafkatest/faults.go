package kafkatest

import (
	"net"
	"sync"
)

// Unresponsive starts a "broker" that accepts TCP connections on
// 127.0.0.1 and never answers: it reads nothing and writes nothing, as a
// broker that hangs does. It returns the address to give a client as its
// bootstrap list, so a test can check that the code under test gives up
// when its context ends rather than waiting out the client's timeouts and
// retries. The listener and every connection it accepted are closed when
// the test ends. It fails the test if it cannot listen.
func Unresponsive(t T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("kafkatest: unresponsive broker: %v", err)
		return ""
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}
