package kafka_test

import (
	"context"
	"crypto/tls"
	"errors"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/servingtest/kafkatest"
)

// TestSinkConfig: a Sink refuses settings under which an acknowledged
// write could still be lost or reordered, since the Source commits
// offsets on the Sink's acknowledgement. Validation runs before any
// broker is dialled, so the address is never used.
func TestSinkConfig(t *testing.T) {
	for name, tune := range map[string]func(*sarama.Config){
		"acks=1":       func(c *sarama.Config) { c.Producer.Idempotent = false; c.Producer.RequiredAcks = sarama.WaitForLocal },
		"acks=0":       func(c *sarama.Config) { c.Producer.Idempotent = false; c.Producer.RequiredAcks = sarama.NoResponse },
		"reordering":   func(c *sarama.Config) { c.Producer.Idempotent = false; c.Net.MaxOpenRequests = 5 },
		"no successes": func(c *sarama.Config) { c.Producer.Return.Successes = false },
		"no errors":    func(c *sarama.Config) { c.Producer.Return.Errors = false },
	} {
		if _, err := kafka.NewSink(t.Context(), config(t, []string{"127.0.0.1:1"}, kafka.Sarama(tune))); !errors.Is(err, serving.ErrConfig) {
			t.Errorf("%s: got %v, want ErrConfig", name, err)
		}
	}
	for name, opt := range map[string]kafka.SinkOption{
		"topic": kafka.Topic(""),
		"dlq":   kafka.DeadLetterTopic(""),
	} {
		if _, err := kafka.NewSink(t.Context(), config(t, []string{"127.0.0.1:1"}), opt); !errors.Is(err, serving.ErrConfig) {
			t.Errorf("%s: got %v, want ErrConfig", name, err)
		}
	}
	if _, err := kafka.NewSink(t.Context(), nil); !errors.Is(err, serving.ErrConfig) {
		t.Errorf("no Config: got %v, want ErrConfig", err)
	}
}

// TestConstructorsHonourContext: NewSink and NewPublisher give up with
// ctx's error when ctx ends before the cluster answers. The "broker"
// accepts connections and never replies, so without the context the
// constructors would wait out sarama's timeouts and retries and then
// fail with a *TopicError instead.
func TestConstructorsHonourContext(t *testing.T) {
	addr := kafkatest.Unresponsive(t)
	cfg := config(t, []string{addr})
	for name, start := range map[string]func(context.Context) error{
		"NewSink": func(ctx context.Context) error {
			s, err := kafka.NewSink(ctx, cfg)
			if err == nil {
				s.Close()
			}
			return err
		},
		"NewPublisher": func(ctx context.Context) error {
			p, err := kafka.NewPublisher(ctx, cfg)
			if err == nil {
				p.Close()
			}
			return err
		},
	} {
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		err := start(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s with a silent broker: got %v, want context.DeadlineExceeded", name, err)
		}
	}
}

// TestConfig: NewConfig refuses what no client could use, before any
// broker is dialled, and the one Sarama function reaches every client.
func TestConfig(t *testing.T) {
	for name, tc := range map[string]struct {
		brokers []string
		opts    []kafka.Option
	}{
		"no brokers":   {nil, nil},
		"empty broker": {[]string{""}, nil},
		"client id":    {[]string{"x:1"}, []kafka.Option{kafka.ClientID("")}},
		"logger":       {[]string{"x:1"}, []kafka.Option{kafka.Logger(nil)}},
		"sasl user":    {[]string{"x:1"}, []kafka.Option{kafka.SASL("", "pw")}},
		"sarama":       {[]string{"x:1"}, []kafka.Option{kafka.Sarama(func(c *sarama.Config) { c.Producer.RequiredAcks = sarama.WaitForLocal })}},
	} {
		if _, err := kafka.NewConfig(tc.brokers, tc.opts...); !errors.Is(err, serving.ErrConfig) {
			t.Errorf("%s: got %v, want serving.ErrConfig", name, err)
		}
	}
	called := 0
	cfg := config(t, []string{"x:1"}, kafka.ClientID("fraud-scorer"), kafka.TLS(&tls.Config{MinVersion: tls.VersionTLS12}), kafka.SASL("svc", "pw"),
		kafka.Sarama(func(c *sarama.Config) { called++; c.Net.DialTimeout = 7 * time.Second }))
	sc, err := cfg.SaramaConfig(func(c *sarama.Config) { c.Net.DialTimeout = time.Second })
	if err != nil {
		t.Fatal(err)
	}
	if sc.ClientID != "fraud-scorer" || !sc.Net.TLS.Enable || sc.Net.TLS.Config.MinVersion != tls.VersionTLS12 ||
		!sc.Net.SASL.Enable || sc.Net.SASL.User != "svc" || sc.Net.SASL.Mechanism != sarama.SASLTypePlaintext ||
		sc.Net.DialTimeout != 7*time.Second || called != 2 { // once in NewConfig, once here
		t.Errorf("sarama config: client %q tls %v sasl %v %q dial %v, Sarama called %d times", sc.ClientID, sc.Net.TLS.Enable, sc.Net.SASL.Enable, sc.Net.SASL.User, sc.Net.DialTimeout, called)
	}
}

// TestOutputTopicsAtStart: a Sink creates its missing scores and
// dead-letter topics when it is made, so the dead-letter topic exists
// before the first dead letter; and on a cluster that refuses to create
// topics, NewSink fails at once with a *TopicError naming the topic.
func TestOutputTopicsAtStart(t *testing.T) {
	c := kafkatest.New(t, kafkatest.NoAutoCreate())
	cfg := config(t, c.Addrs())
	sink, err := kafka.NewSink(t.Context(), cfg, kafka.Topic("out"), kafka.DeadLetterTopic("out.dlq"))
	if err != nil {
		t.Fatal(err)
	}
	sink.Close()
	admin, err := sarama.NewClusterAdmin(c.Addrs(), sarama.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	topics, err := admin.ListTopics()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := topics["out.dlq"]; !ok {
		t.Fatalf("dead-letter topic not created: %v", topics)
	}
	if _, ok := topics["out"]; !ok {
		t.Fatalf("scores topic not created: %v", topics)
	}
	pub, err := kafka.NewPublisher(t.Context(), cfg, kafka.Topic("ms"))
	if err != nil {
		t.Fatal(err)
	}
	pub.Close()
	if d, err := admin.DescribeTopics([]string{"ms"}); err != nil || len(d) != 1 || len(d[0].Partitions) != 1 {
		t.Fatalf("models topic: %+v, %v; want one partition", d, err)
	}

	// A cluster that refuses to create topics.
	c.Fake().ControlKey(int16(kmsg.CreateTopics), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.Fake().KeepControl()
		resp := req.(*kmsg.CreateTopicsRequest).ResponseKind().(*kmsg.CreateTopicsResponse)
		for _, rt := range req.(*kmsg.CreateTopicsRequest).Topics {
			st := kmsg.NewCreateTopicsResponseTopic()
			st.Topic = rt.Topic
			st.ErrorCode = kerr.TopicAuthorizationFailed.Code
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	_, err = kafka.NewSink(t.Context(), cfg, kafka.Topic("out"), kafka.DeadLetterTopic("forbidden.dlq"))
	var te *kafka.TopicError
	if !errors.As(err, &te) || te.Topic != "forbidden.dlq" {
		t.Fatalf("got %v; want a *kafka.TopicError naming forbidden.dlq", err)
	}
}
