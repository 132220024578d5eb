package kafkatest

import (
	"net"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
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

// FetchFault is a fault made by [Cluster.FailFetches]. Its methods are
// safe for concurrent use.
type FetchFault struct {
	mu      sync.Mutex
	failed  int
	stopped bool
	ids     map[[16]byte]string // topic names of the IDs fetches named
}

// FailFetches makes the cluster answer every fetch that names one of
// topics (any fetch when none are given) with code on each partition of
// those topics, until [FetchFault.Stop]. Fetches that name their topics
// by ID alone (version 13 and later, as franz-go sends them) fail alike.
// Other topics named in the same fetch get no records and no error, so
// their consumers simply fetch again: a client that fetches a failed
// topic and another one together reads neither until the fault stops or
// it gives the failed topic up. With [kerr.OffsetOutOfRange], as a broker
// answers once retention deleted the records ahead of a consumer, sarama
// gives the partitions up: the way to test that code notices a lost
// partition.
func (c *Cluster) FailFetches(code *kerr.Error, topics ...string) *FetchFault {
	f := &FetchFault{}
	fail := func(name string) bool { return len(topics) == 0 || slices.Contains(topics, name) }
	c.kc.ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.stopped {
			c.kc.DropControl()
			return nil, nil, false
		}
		c.kc.KeepControl()
		fr := req.(*kmsg.FetchRequest)
		names := make([]string, len(fr.Topics))
		for i, rt := range fr.Topics {
			names[i] = f.name(c.kc, rt)
		}
		if !slices.ContainsFunc(names, fail) {
			return nil, nil, false
		}
		resp := fr.ResponseKind().(*kmsg.FetchResponse)
		for i, rt := range fr.Topics {
			rtopic := kmsg.NewFetchResponseTopic()
			rtopic.Topic, rtopic.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				p := kmsg.NewFetchResponseTopicPartition()
				p.Partition = rp.Partition
				if fail(names[i]) {
					p.ErrorCode = code.Code
				}
				p.HighWatermark, p.LastStableOffset, p.LogStartOffset = -1, -1, -1
				rtopic.Partitions = append(rtopic.Partitions, p)
			}
			resp.Topics = append(resp.Topics, rtopic)
		}
		f.failed++
		return resp, nil, true
	})
	return f
}

// name returns the name of the topic rt fetches. A fetch of version 13
// or later (KIP-516) names its topics by ID alone, as franz-go sends it,
// so the name is looked up in the cluster, once per ID. The cluster answers that lookup while a control function runs.
// f.mu is held.
func (f *FetchFault) name(kc *kfake.Cluster, rt kmsg.FetchRequestTopic) string {
	if rt.Topic != "" || rt.TopicID == [16]byte{} {
		return rt.Topic
	}
	if name, ok := f.ids[rt.TopicID]; ok {
		return name
	}
	info := kc.TopicIDInfo(rt.TopicID)
	if info == nil {
		return ""
	}
	if f.ids == nil {
		f.ids = map[[16]byte]string{}
	}
	f.ids[rt.TopicID] = info.Topic
	return info.Topic
}

// Failed returns how many fetches the fault has answered with its error.
func (f *FetchFault) Failed() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}

// Stop ends the fault: later fetches are served normally. It is
// idempotent.
func (f *FetchFault) Stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = true
}
