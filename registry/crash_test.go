package registry

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelstream/modelstream/serving"
)

// crashEnv names the database a re-executed test binary writes to until
// it is killed.
const crashEnv = "REGISTRY_CRASH_CHILD_DB"

// crashRetain is the retention of the crash test's writer, so that kills
// also land in the middle of pruning.
const crashRetain = 4

// crashBytes is the content of version v in the crash test: its size
// varies from a few bytes to 64 KiB so that some writes span several
// bbolt pages, and it can be recomputed from v alone.
func crashBytes(v uint64) []byte {
	n := int(v*7919%65536) + 8
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], v^uint64(i))
	}
	return b
}

// TestCrashChild is the child process of TestCrashKeepsAcknowledgedPuts.
// Run directly it skips.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("child of TestCrashKeepsAcknowledgedPuts; runs only when re-executed by it")
	}
	s, err := Open(path, Retain(crashRetain))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	ctx := context.Background()
	v := uint64(0)
	if d, err := s.Resolve(ctx, "crash", Latest); err == nil {
		v = d.Version
	}
	for {
		v++
		d := serving.Descriptor{Name: "crash", Format: "blob", Version: v, Bytes: crashBytes(v), Labels: map[string]string{"v": strconv.FormatUint(v, 10)}}
		if _, err := s.Put(ctx, d); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		// os.Stdout is unbuffered: once this line is written, the parent
		// may count the put as acknowledged.
		fmt.Printf("ack %d\n", v)
		if v%3 == 0 {
			a := serving.Activation{Model: serving.ModelRef{Name: "crash", Version: v, ID: serving.ContentID(crashBytes(v))}, Kind: serving.EventActivated, At: time.Unix(0, int64(v))}
			if err := s.RecordActivation(ctx, a); err != nil {
				fmt.Println("error", err)
				os.Exit(2)
			}
			if err := s.SetOffsets(ctx, "models", map[int32]int64{0: int64(v + 1)}); err != nil {
				fmt.Println("error", err)
				os.Exit(2)
			}
			fmt.Printf("act %d\n", v)
		}
	}
}

// TestCrashKeepsAcknowledgedPuts kills a writer process with SIGKILL at
// random moments and checks, after each kill, that the file opens
// cleanly, passes bbolt's consistency check, and holds every put,
// activation and offset the writer acknowledged, with the right bytes
// for the versions retention keeps and metadata for all.
//
// A SIGKILL loses the process, not the page cache, so this checks that
// every write is atomic and acknowledged only once committed; that the
// commit also reached the disk (fsync) is bbolt's contract, which a
// process-level test cannot observe.
func TestCrashKeepsAcknowledgedPuts(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns writer processes")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	const rounds = 5
	var acked, activated uint64
	for round := 0; round < rounds; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Let the child acknowledge a few writes, then kill it at a
		// random moment, most likely in the middle of a write.
		minAcks := 3 + rng.IntN(10)
		kill := time.After(time.Duration(1+rng.IntN(150)) * time.Millisecond)
		seen, killed := 0, false
		for line := range lines {
			f := strings.Fields(line)
			if len(f) != 2 || (f[0] != "ack" && f[0] != "act") {
				t.Fatalf("child: %s", line)
			}
			n, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				t.Fatalf("child: %s", line)
			}
			switch f[0] {
			case "ack":
				acked, seen = n, seen+1
			case "act":
				activated = n
			}
			if !killed && seen >= minAcks {
				select {
				case <-kill:
					cmd.Process.Signal(syscall.SIGKILL)
					killed = true
				default:
				}
			}
			if seen > 5000 {
				t.Fatal("child wrote 5000 versions without being killed")
			}
		}
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("round %d: child ended without SIGKILL: %v", round, err)
		}
		verifyAfterCrash(t, path, acked, activated)
		t.Logf("round %d: killed after %d acknowledged puts (up to v%d)", round, seen, acked)
	}
}

func verifyAfterCrash(t *testing.T, path string, acked, activated uint64) {
	t.Helper()
	s, check, err := OpenBolt(path, Retain(crashRetain))
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer s.Close()
	if err := check(); err != nil {
		t.Fatalf("bbolt check after kill: %v", err)
	}
	ctx := context.Background()
	vs, err := s.List(ctx, "crash")
	if err != nil {
		t.Fatal(err)
	}
	// Every acknowledged put is there; at most one more (written but
	// killed before its ack was printed) may follow.
	if uint64(len(vs)) < acked || uint64(len(vs)) > acked+1 {
		t.Fatalf("%d versions stored, %d acknowledged", len(vs), acked)
	}
	var active uint64
	if h, err := s.History(ctx, "crash"); err == nil && len(h) > 0 {
		active = h[len(h)-1].Model.Version
	}
	for i, v := range vs {
		want := uint64(i + 1)
		if v.Descriptor.Version != want || v.Descriptor.Labels["v"] != strconv.FormatUint(want, 10) || v.Descriptor.SHA256 != serving.ContentID(crashBytes(want)) {
			t.Fatalf("version %d: metadata %+v", want, v)
		}
		d, err := s.Get(ctx, "crash", want)
		kept := len(vs)-i <= crashRetain || want == active
		if !kept {
			// Retention must have dropped these bytes, and only these.
			if !errors.Is(err, ErrPruned) || !v.Pruned || v.HasBytes {
				t.Fatalf("v%d should be pruned: %v, %+v", want, err, v)
			}
			continue
		}
		if err != nil {
			t.Fatalf("get v%d: %v", want, err)
		}
		if string(d.Bytes) != string(crashBytes(want)) || d.SHA256 != serving.ContentID(d.Bytes) {
			t.Fatalf("v%d: bytes differ from what was put", want)
		}
	}
	if activated > 0 {
		ref, err := s.At(ctx, "crash", time.Unix(0, int64(activated)))
		if err != nil || ref.Version != activated {
			t.Fatalf("At(last acknowledged activation v%d) = %v, %v", activated, ref, err)
		}
		offs, err := s.Offsets(ctx, "models")
		if err != nil || uint64(offs[0]) < activated+1 {
			t.Fatalf("offsets %v after acknowledged offset %d: %v", offs, activated+1, err)
		}
	}
}
