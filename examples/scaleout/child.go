package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/IBM/sarama"
)

// childMain runs one scoring instance in this process, with the brokers,
// group and id given in the environment, and prints its state every
// 100ms as "state live=V claims=N scored=N" until it is killed (or, if
// asked nicely with SIGTERM, until it has drained and committed).
func childMain() int {
	env := strings.Split(os.Getenv(childEnv), "|")
	if len(env) != 3 {
		fmt.Fprintln(os.Stderr, "scaleout child: want brokers|group|id in", childEnv)
		return 2
	}
	id, err := strconv.Atoi(env[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "scaleout child:", err)
		return 2
	}
	sarama.Logger = discard{}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	in, err := startInstance(ctx, id, strings.Split(env[0], ","), env[1], slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Fprintln(os.Stderr, "scaleout child:", err)
		return 1
	}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		live, _ := in.srv.Current("fraud")
		st := in.src.Stats()
		fmt.Printf("state live=%d claims=%d scored=%d\n", live.Version, st.Claims, st.Scored)
		select {
		case <-ctx.Done():
			if err := in.close(); err != nil {
				fmt.Fprintln(os.Stderr, "scaleout child:", err)
				return 1
			}
			return 0
		case <-t.C:
		}
	}
}

// child is the victim instance, running in a process of its own.
type child struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	last childState
	once sync.Once
	done chan struct{}
}

type childState struct {
	live   uint64
	claims int
	scored uint64
}

// startChild re-executes this program (or test binary) as one instance.
func startChild(brokers []string, group string, id int) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%s|%d", childEnv, strings.Join(brokers, ","), group, id))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	k := &child{cmd: cmd, done: make(chan struct{})}
	go k.read(stdout)
	return k, nil
}

func (k *child) read(r io.Reader) {
	defer close(k.done)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var s childState
		if _, err := fmt.Sscanf(sc.Text(), "state live=%d claims=%d scored=%d", &s.live, &s.claims, &s.scored); err == nil {
			k.mu.Lock()
			k.last = s
			k.mu.Unlock()
		}
	}
}

// state is the child's last reported state.
func (k *child) state() childState {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.last
}

// kill sends SIGKILL and reaps the process. It is idempotent.
func (k *child) kill() {
	k.once.Do(func() {
		k.cmd.Process.Kill()
		k.cmd.Wait()
		<-k.done
	})
}
