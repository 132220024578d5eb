// Command publish writes a model file to a models topic as a model
// message (see package serving/wire for the format), where every
// ModelFeed picks it up.
//
//	go run ./examples/publish -brokers localhost:9092 -file model.json \
//	    -name fraud -format linear -version 3 -label trainer=nightly
//
// With no -brokers it starts an embedded broker, publishes the given file
// (or the sample fraud model), and reads it back through a ModelFeed to
// show that it loads; a model that does not load (a wrong -format, say)
// fails the command. It also prints the kcat command that writes the same
// message: the same key, headers and value.
//
// Without -version the message carries no version, and every ModelFeed
// numbers it the next one (live + 1, the same on every instance), so a
// model published to a running quickstart, whatever it has live, goes
// live. An explicit -version not above the live one is refused as stale.
//
// -location publishes a URL instead of the bytes, for a model too large
// for one message; -sha256 pins the content it must have, and a consumer
// refuses a location without it unless its serving.LoadOptions set
// AllowUnpinned (the read-back on the embedded broker does not). A
// consumer fetches a location only from the prefixes its Server allows,
// and none by default:
//
//	serving.NewServer(serving.WithLoadOptions(serving.LoadOptions{
//		AllowLocations: []string{"https://models.example.com/prod/"},
//	}))
//
// otherwise its feed rejects the message with serving.ErrLocationNotAllowed
// and keeps the live model. On the embedded broker, the Server reading the
// model back allows the location's directory, and prints the option it used.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/IBM/sarama"

	"github.com/modelstream/modelstream/internal/demo"
	"github.com/modelstream/modelstream/serving"
	_ "github.com/modelstream/modelstream/serving/formats/leaves" // the Server reading the model back knows every format
	_ "github.com/modelstream/modelstream/serving/formats/linear"
	_ "github.com/modelstream/modelstream/serving/formats/onnx"
	_ "github.com/modelstream/modelstream/serving/formats/pmml"
	_ "github.com/modelstream/modelstream/serving/formats/tensorflow"
	_ "github.com/modelstream/modelstream/serving/formats/xgboost"
	"github.com/modelstream/modelstream/serving/kafka"
	"github.com/modelstream/modelstream/serving/wire"
)

type labels map[string]string

func (l labels) String() string { return fmt.Sprint(map[string]string(l)) }
func (l labels) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("label %q: want key=value", s)
	}
	l[k] = v
	return nil
}

// defaultVersion is -version's default: none, so that readers number the
// model the next version, the way serving.Server.Activate reads Version 0.
const defaultVersion = 0

func main() {
	brokers := flag.String("brokers", "", "comma-separated Kafka brokers; empty starts an embedded broker")
	topic := flag.String("topic", kafka.DefaultModelsTopic, "models topic")
	file := flag.String("file", "", "model file to publish; empty publishes the sample fraud model")
	location := flag.String("location", "", "publish a file:// or http(s):// location instead of the bytes; consumers must allow it (serving.LoadOptions.AllowLocations)")
	sum := flag.String("sha256", "", "lowercase hex SHA-256 of the bytes at -location: consumers refuse other bytes, and a -location without it unless they set serving.LoadOptions.AllowUnpinned")
	name := flag.String("name", "fraud", "model name (the message key)")
	format := flag.String("format", "linear", "model format, one of "+strings.Join(serving.Formats(), ", "))
	version := flag.Uint64("version", defaultVersion, "model version; 0 (the default) lets every feed number it the next one")
	desc := flag.String("description", "", "free text")
	lbl := labels{}
	flag.Var(lbl, "label", "key=value label, repeatable")
	flag.Parse()
	// sarama.Logger is a package variable that sarama's goroutines read
	// while they shut down, so it is set once here, not in run.
	sarama.Logger = discard{}
	if err := run(os.Stdout, *brokers, *topic, *file, *location, *sum, *name, *format, *version, *desc, lbl); err != nil {
		fmt.Fprintln(os.Stderr, "publish:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, brokers, topic, file, location, sum, name, format string, version uint64, desc string, lbl labels) error {
	d := serving.Descriptor{Name: name, Format: format, Version: version, Description: desc, Location: location, SHA256: sum, Labels: lbl, Created: time.Now().UTC()}
	switch {
	case file != "" && location != "":
		return fmt.Errorf("-file and -location exclude each other")
	case sum != "" && location == "":
		return fmt.Errorf("-sha256 goes with -location (the bytes of -file are hashed for you)")
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		d.Bytes = b
	case location == "":
		sample := demo.FraudModel(version)
		if format != sample.Format {
			return fmt.Errorf("-format %s goes with -file or -location: the sample model is %s", format, sample.Format)
		}
		d.Bytes, d.Format = sample.Bytes, sample.Format
		d.Labels = sample.Labels
		for k, v := range lbl {
			d.Labels[k] = v
		}
		file = "(sample fraud model)"
	}
	cl, err := demo.Connect(brokers, "", demo.Topic{Name: topic, Partitions: 1})
	if err != nil {
		return err
	}
	defer cl.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	kcfg, err := kafka.NewConfig(cl.Brokers, kafka.Logger(quiet))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub, err := kafka.NewPublisher(ctx, kcfg, kafka.Topic(topic))
	if err != nil {
		return err
	}
	defer pub.Close()
	part, off, err := pub.Publish(ctx, d)
	if err != nil {
		return err
	}
	at := fmt.Sprintf("%s@v%d", d.Name, d.Version)
	if d.Version == 0 {
		at = d.Name + "@next" // version 0: each reader numbers it, the same on every instance
	}
	if d.Location != "" {
		pin := "no sha256: any bytes found there will load"
		if d.SHA256 != "" {
			pin = "sha256 " + d.SHA256
		}
		fmt.Fprintf(w, "published %s (%s, at %s, %s) to %s/%d@%d on the %s\n",
			at, d.Format, d.Location, pin, topic, part, off, cl.Where())
	} else {
		fmt.Fprintf(w, "published %s (%s, %d bytes, sha256 %s) to %s/%d@%d on the %s\n",
			at, d.Format, len(d.Bytes), d.Ref().ID, topic, part, off, cl.Where())
	}
	kcat, err := kcatCommand(d, cl.Brokers[0], topic, file)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "the same with kcat:\n  %s\n", kcat)
	if cl.Embedded == nil {
		return nil
	}
	// On the embedded broker nobody else is listening: show a feed
	// picking the model up. A location is fetched only where the Server
	// allows it; this one allows the location's directory.
	opts := []serving.Option{serving.WithLogger(quiet)}
	if d.Location != "" {
		lo := serving.LoadOptions{AllowLocations: []string{locationDir(d.Location)}}
		fmt.Fprintf(w, "the reading Server allows it: serving.WithLoadOptions(serving.LoadOptions{AllowLocations: []string{%q}})\n", lo.AllowLocations[0])
		opts = append(opts, serving.WithLoadOptions(lo))
	}
	srv, err := serving.NewServer(opts...)
	if err != nil {
		return err
	}
	defer srv.Close()
	var ev kafka.FeedEvent
	feed, err := kafka.NewModelFeed(kcfg, srv, kafka.Topic(topic), kafka.Observer(func(e kafka.FeedEvent) { ev = e }))
	if err != nil {
		return err
	}
	go feed.Run(ctx)
	select {
	case <-feed.CaughtUp():
	case <-ctx.Done():
		return ctx.Err()
	}
	fmt.Fprintf(w, "a ModelFeed read it back: %s %s", ev.Outcome, ev.Model)
	if ev.Err != nil {
		fmt.Fprintf(w, " (%v)", ev.Err)
	}
	fmt.Fprintln(w)
	if ev.Err != nil {
		// The read-back is there to show that the model loads: a model
		// that does not (a wrong -format, say) fails the command.
		return fmt.Errorf("the model does not go live: %w", ev.Err)
	}
	return nil
}

// kcatCommand is a kcat command line that writes the message Publish
// wrote for d: the same key and headers (those of wire.EncodeModel,
// created time and sha256 included), and the value read from file, from
// /dev/null for a location, or, for the sample model, which is in no
// file, from echo.
func kcatCommand(d serving.Descriptor, broker, topic, file string) (string, error) {
	m, err := wire.EncodeModel(d, 0)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if d.Location == "" && (file == "" || strings.HasPrefix(file, "(")) {
		// kcat reads one message per line from stdin: the sample's
		// JSON is one line.
		fmt.Fprintf(&b, "echo %s | ", shellQuote(string(m.Value)))
	}
	fmt.Fprintf(&b, "kcat -P -b %s -t %s -k %s", shellQuote(broker), shellQuote(topic), shellQuote(string(m.Key)))
	for _, h := range m.Headers {
		fmt.Fprintf(&b, " -H %s", shellQuote(string(h.Key)+"="+string(h.Value)))
	}
	switch {
	case d.Location != "":
		b.WriteString(" /dev/null")
	case file != "" && !strings.HasPrefix(file, "("):
		fmt.Fprintf(&b, " %s", shellQuote(filepath.Clean(file)))
	}
	return b.String(), nil
}

// shellQuote quotes s for a POSIX shell, leaving words of safe
// characters as they are.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.,:/=@%+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// locationDir is the AllowLocations entry for the directory of a
// location URL: its scheme, host and path up to the last slash.
func locationDir(location string) string {
	u, err := url.Parse(location)
	if err != nil || u.Scheme == "" {
		return location // NewServer says what is wrong with it
	}
	u.RawQuery, u.Fragment, u.RawPath = "", "", ""
	u.Path = path.Dir(u.Path)
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u.String()
}

type discard struct{}

func (discard) Print(...any)          {}
func (discard) Printf(string, ...any) {}
func (discard) Println(...any)        {}
