package confluent

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/modelstream/modelstream/serving"
	"github.com/modelstream/modelstream/serving/kafka"
)

// Errors of a Codec. Each wraps kafka.ErrDecode, so that a Source
// dead-letters the record with the error as its reason; a
// *SchemaError carries the schema ID. Test with errors.Is.
var (
	// ErrUnknownSchema means the registry has no schema with the
	// record's ID: it answered 404 with its "schema not found" error code
	// (40403). A 404 without that code comes from a server that is not a
	// Schema Registry, such as a wrong URL, and is ErrUnavailable.
	ErrUnknownSchema = errors.New("confluent: unknown schema ID")
	// ErrUnavailable means the registry could not be reached, or
	// answered with an error, for every attempt of the Retry policy, or
	// that the Codec did not ask it, its FetchRate being spent; from
	// [NewAvroScores], that it could not be reached, failed (5xx) or
	// asked to be tried later (408, 429).
	//
	// It is not kafka.ErrUnavailable, though both say a server could not
	// be reached: that one stops Source.Run, leaving the record for the
	// partition's next owner, once Kafka refused writes for longer than
	// kafka.RetryTimeout. This one is a record's decoding error (it
	// travels inside kafka.ErrDecode): the Source dead-letters that
	// record and goes on, since the registry being down is no reason to
	// stop serving the records of schemas already cached. A test for
	// kafka.ErrUnavailable that matched it would read a dead-lettered
	// record as a stopped pipeline.
	ErrUnavailable = errors.New("confluent: schema registry unavailable")
	// ErrIncompatible means a record does not match the schema its ID
	// names: truncated or trailing bytes, a value of the wrong type, an
	// out-of-range union branch or enum symbol. From [NewAvroScores],
	// it means the registry refuses the score schema.
	ErrIncompatible = errors.New("confluent: record does not match its schema")
	// ErrUnsupported means the schema of an ID uses what this package
	// cannot read: references to other schemas, a recursion deeper than
	// 32 levels, more than 16,384 nodes once flattened, a Protobuf schema
	// that does not compile, or no field that can be a feature. From a
	// [ScoreDecoder], it means the schema is neither [ScoreSchema] nor
	// [ScoreCompactSchema]: the value is not a score.
	ErrUnsupported = errors.New("confluent: unsupported schema")
)

// SchemaError is the error of a record that could not be decoded with
// the schema its frame names. It wraps kafka.ErrDecode and Err, which
// wraps one of ErrUnknownSchema, ErrUnavailable, ErrIncompatible or
// ErrUnsupported, and a
// *serving.FieldError when one field is at fault.
type SchemaError struct {
	// ID is the schema ID read from the frame.
	ID int
	// Err is the cause.
	Err error
}

// Error implements error.
func (e *SchemaError) Error() string {
	return fmt.Sprintf("confluent: schema %d: %v", e.ID, e.Err)
}

// Unwrap returns kafka.ErrDecode and Err.
func (e *SchemaError) Unwrap() []error { return []error{kafka.ErrDecode, e.Err} }

// errFrame marks a value that is not in the Confluent wire format: too
// short, a magic byte other than 0, or bad Protobuf message indexes. It is
// not exported: to a user it is one more record that does not decode,
// kafka.ErrDecode, with no schema ID to carry.
var errFrame = errors.New("confluent: malformed frame")

// frameErr is the error of a malformed frame.
func frameErr(format string, args ...any) error {
	return fmt.Errorf("%w: %w: "+format, append([]any{kafka.ErrDecode, errFrame}, args...)...)
}

// A plan decodes the payload of one schema ID (after the magic byte and
// the ID) into a serving.Record.
type plan interface {
	decode(payload []byte) (serving.Record, error)
}

// Codec decodes values written in the Confluent Schema Registry wire
// format — a zero magic byte, the 4-byte big-endian schema ID, for
// Protobuf the message indexes, then the encoded record — into named
// serving.Records. It implements kafka.Codec. Avro, Protobuf and JSON
// Schema are read; see the package documentation for how fields map to
// the record.
//
// The schema of an ID is fetched from the registry the first time the
// ID is met, once however many goroutines meet it together, and kept
// (at most MaxSchemas IDs). Fetches are rate-limited (FetchRate), so
// that records naming ever new IDs cannot flood the registry. A Codec is
// safe for concurrent use.
type Codec struct {
	client *sr.Client
	o      options
	// compile compiles a fetched schema into its plan; nil means by
	// the schema's type, with compilers. A ScoreDecoder sets its own.
	compile func(sr.Schema) (plan, error)
	mu      sync.Mutex
	schemas map[int]*entry
	tokens  float64   // fetches allowed now, up to o.burst
	filled  time.Time // when tokens was last topped up
}

// entry is one schema ID in the cache: done is closed once p or err is
// set. A failed fetch (ErrUnavailable, ErrUnknownSchema) is remembered
// until retry, so a down registry costs each record no more than one
// wait, and an ID it did not know is asked again after that.
type entry struct {
	done  chan struct{}
	p     plan
	err   error
	retry time.Time
}

// Option configures a Codec.
type Option func(*options)

type options struct {
	maxSchemas int
	attempts   int
	backoff    time.Duration
	timeout    time.Duration
	rate       float64 // fetches a second
	burst      int
	now        func() time.Time
}

// MaxSchemas bounds the schema IDs a Codec keeps (default 1024). When
// the cache is full, the IDs whose fetch failed leave it first; a cache
// full of schemas in use is emptied and refilled from the registry.
func MaxSchemas(n int) Option { return func(o *options) { o.maxSchemas = n } }

// FetchRate bounds how often the Codec asks the registry for a schema:
// perSecond fetches a second on average, and up to burst at once (the
// default is 10 a second, and bursts of 100, for a Source that meets many
// schema IDs as it starts). A record whose ID is not cached while the
// rate is spent fails at once with ErrUnavailable, without asking the
// registry, and is dead-lettered by a Source. Without the bound, records
// naming random schema IDs would each cost a registry request, and
// those IDs, cached as unknown, would evict the schemas in use.
func FetchRate(perSecond float64, burst int) Option {
	return func(o *options) { o.rate, o.burst = perSecond, burst }
}

// Retry sets how a schema fetch that fails for a reason other than an
// unknown ID (a connection refused, a timeout, a 5xx answer, or a 408 or
// 429 asking to be tried later) is retried:
// attempts tries in all, waiting backoff, then twice as long, and so on,
// between them, each try bounded by timeout. After the last failure the
// records of that ID fail with ErrUnavailable, and are dead-lettered by a
// Source, until the same total time has passed; then the next record
// tries again. Defaults: 4 attempts, 100ms backoff, 5s timeout, so a
// down registry holds a partition for at most about 21s per schema ID
// before its records are dead-lettered with the reason. Other partitions'
// records whose schemas are cached are not held by the fetch itself, but
// each record waiting for it holds a scoring worker of the Source (see
// kafka.Workers), which the Source's partitions share: with as many such
// records as workers, every partition waits.
func Retry(attempts int, backoff, timeout time.Duration) Option {
	return func(o *options) { o.attempts, o.backoff, o.timeout = attempts, backoff, timeout }
}

// New returns a Codec that reads schemas from client, which carries the
// registry's URLs, TLS and authentication (see sr.NewClient). A nil
// client, a nil Option, MaxSchemas below 1, Retry with fewer than 1 attempt, a
// negative backoff or a non-positive timeout, or FetchRate with a rate
// that is not positive and finite or a burst below 1 is an error
// wrapping serving.ErrConfig.
func New(client *sr.Client, opts ...Option) (*Codec, error) {
	o := options{maxSchemas: 1024, attempts: 4, backoff: 100 * time.Millisecond, timeout: 5 * time.Second, rate: 10, burst: 100, now: time.Now}
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: confluent: nil Option", serving.ErrConfig)
		}
		opt(&o)
	}
	switch {
	case client == nil:
		return nil, fmt.Errorf("%w: confluent: nil registry client", serving.ErrConfig)
	case o.maxSchemas < 1:
		return nil, fmt.Errorf("%w: confluent: MaxSchemas %d, want at least 1", serving.ErrConfig, o.maxSchemas)
	case o.attempts < 1 || o.backoff < 0 || o.timeout <= 0:
		return nil, fmt.Errorf("%w: confluent: Retry(%d, %v, %v): want at least 1 attempt, a backoff of 0 or more and a positive timeout", serving.ErrConfig, o.attempts, o.backoff, o.timeout)
	case !(o.rate > 0) || math.IsInf(o.rate, 1) || o.burst < 1:
		return nil, fmt.Errorf("%w: confluent: FetchRate(%v, %d): want a positive, finite rate and a burst of at least 1", serving.ErrConfig, o.rate, o.burst)
	}
	return &Codec{client: client, o: o, schemas: make(map[int]*entry), tokens: float64(o.burst), filled: o.now()}, nil
}

// Decode implements kafka.Codec.
func (c *Codec) Decode(v []byte) (serving.Record, error) {
	if len(v) < 5 {
		return serving.Record{}, frameErr("%d bytes, want at least 5", len(v))
	}
	if v[0] != 0 {
		return serving.Record{}, frameErr("magic byte %d, want 0", v[0])
	}
	id := int(uint32(v[1])<<24 | uint32(v[2])<<16 | uint32(v[3])<<8 | uint32(v[4]))
	p, err := c.plan(context.Background(), id)
	if err != nil {
		return serving.Record{}, &SchemaError{ID: id, Err: err}
	}
	r, err := p.decode(v[5:])
	if err != nil {
		if errors.Is(err, errFrame) {
			return serving.Record{}, fmt.Errorf("%w: schema %d: %w", kafka.ErrDecode, id, err)
		}
		return serving.Record{}, &SchemaError{ID: id, Err: err}
	}
	return r, nil
}

// plan returns the decoding plan of schema id, fetching it once. A
// cancelled ctx ends the wait, and a fetch of this caller's; what that
// fetch failed with may be asked again at once.
func (c *Codec) plan(ctx context.Context, id int) (plan, error) {
	c.mu.Lock()
	e := c.schemas[id]
	if e != nil {
		select {
		case <-e.done:
			if e.err != nil && (errors.Is(e.err, ErrUnavailable) || errors.Is(e.err, ErrUnknownSchema)) && !c.o.now().Before(e.retry) {
				// Try the registry again: it may be back, or a follower
				// that had not yet seen a new schema may have caught up.
				e = nil
			}
		default:
		}
	}
	if e == nil {
		if !c.take() {
			c.mu.Unlock()
			return nil, fmt.Errorf("%w: not asked: more than %v schema fetches a second (FetchRate), as records naming ever new schema IDs make", ErrUnavailable, c.o.rate)
		}
		if len(c.schemas) >= c.o.maxSchemas {
			c.evict()
		}
		e = &entry{done: make(chan struct{})}
		c.schemas[id] = e
		c.mu.Unlock()
		c.fill(ctx, e, id)
		return e.p, e.err
	}
	c.mu.Unlock()
	select {
	case <-e.done:
		return e.p, e.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: waiting for schema %d: %w", ErrUnavailable, id, ctx.Err())
	}
}

// take spends one fetch of the FetchRate, and reports whether there was
// one to spend. The caller holds c.mu.
func (c *Codec) take() bool {
	now := c.o.now()
	if d := now.Sub(c.filled); d > 0 {
		c.tokens = min(float64(c.o.burst), c.tokens+d.Seconds()*c.o.rate)
	}
	c.filled = now
	if c.tokens < 1 {
		return false
	}
	c.tokens--
	return true
}

// evict makes room in the full cache. It drops the IDs whose fetch
// failed first, so that a run of unknown IDs does not evict the schemas
// in use; only a cache full of good schemas is emptied, to be refilled
// from the registry. The caller holds c.mu.
func (c *Codec) evict() {
	for id, e := range c.schemas {
		select {
		case <-e.done:
			if e.err != nil {
				delete(c.schemas, id)
			}
		default:
		}
	}
	if len(c.schemas) >= c.o.maxSchemas {
		clear(c.schemas)
	}
}

// fill fetches schema id into e and closes e.done, whatever happens: a
// fetch or compiler that panicked on a hostile schema leaving e.done open
// would hold every later record of that ID for good. The panic becomes
// ErrUnsupported for that ID, remembered like any other refusal.
func (c *Codec) fill(ctx context.Context, e *entry, id int) {
	defer close(e.done)
	defer func() {
		if r := recover(); r != nil {
			e.p, e.err = nil, unsupported("schema %d: compiling it panicked: %v", id, r)
		}
	}()
	e.p, e.err = c.fetch(ctx, id)
	switch {
	case e.err == nil:
	case ctx.Err() != nil:
		// Cut short by its caller, not refused by the registry: the
		// next record asks again.
		e.retry = c.o.now()
	default:
		e.retry = c.o.now().Add(c.patience())
	}
}

// patience is the longest a fetch can take under the Retry policy.
func (c *Codec) patience() time.Duration {
	d := time.Duration(c.o.attempts) * c.o.timeout
	for i, b := 1, c.o.backoff; i < c.o.attempts; i, b = i+1, 2*b {
		d += b
	}
	return d
}

// fetch reads schema id from the registry and compiles its plan.
func (c *Codec) fetch(ctx context.Context, id int) (plan, error) {
	var (
		s   sr.Schema
		err error
	)
	backoff := c.o.backoff
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, c.o.timeout)
		s, err = c.client.SchemaByID(actx, id)
		cancel()
		if err == nil {
			break
		}
		var re *sr.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
			if re.ErrorCode == sr.ErrSchemaNotFound.Code {
				return nil, fmt.Errorf("%w: %v", ErrUnknownSchema, err)
			}
			// Not the registry's "schema not found": a server that is not
			// a Schema Registry, or a wrong path prefix. Every ID would be
			// "unknown" there; say what is wrong instead.
			return nil, fmt.Errorf("%w: %s answered 404 without the registry's \"schema not found\" (error code %d): is the registry URL right? %v",
				ErrUnavailable, redacted(re.URL), sr.ErrSchemaNotFound.Code, err)
		}
		if re != nil {
			// The answer's message alone ("down") does not say who
			// answered what.
			err = fmt.Errorf("%s %s answered %d: %w", re.Method, redacted(re.URL), re.StatusCode, err)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w after %d attempts: %w", ErrUnavailable, attempt, ctx.Err())
		}
		if attempt == c.o.attempts || re != nil && !retryStatus(re.StatusCode) {
			// sr's own errors quote the request's URL as configured,
			// password and all.
			return nil, fmt.Errorf("%w after %d attempts: %s", ErrUnavailable, attempt, urlPasswords.ReplaceAllString(err.Error(), "$1:xxxxx@"))
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil, fmt.Errorf("%w after %d attempts: %w", ErrUnavailable, attempt, ctx.Err())
		}
		backoff *= 2
	}
	if c.compile != nil {
		return c.compile(s)
	}
	if len(s.References) > 0 {
		return nil, unsupported("schema %d has %d references; schemas with references are not supported", id, len(s.References))
	}
	compile := compilers[s.Type]
	if compile == nil {
		return nil, unsupported("schema %d has type %v", id, s.Type)
	}
	return compile(s.Schema)
}

// redacted returns a registry URL with any password in it replaced: the
// errors that name it become dead-letter reasons and log lines.
func redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(a URL that does not parse)"
	}
	return u.Redacted()
}

// urlPasswords matches the user and password of a URL in a text.
var urlPasswords = regexp.MustCompile(`(\w+://[^\s/:@"]*):[^\s/@"]*@`)

// retryStatus reports whether a registry's answer with HTTP status code
// asks to be tried again: a server error, or a request timeout or rate
// limit (408, 429), as NewAvroScores reads them too.
func retryStatus(code int) bool {
	return code >= 500 || code == http.StatusRequestTimeout || code == http.StatusTooManyRequests
}

// compilers compile a schema's text into its decoding plan, by type.
var compilers = map[sr.SchemaType]func(string) (plan, error){
	sr.TypeAvro:     compileAvro,
	sr.TypeProtobuf: compileProtobuf,
	sr.TypeJSON:     compileJSONSchema,
}

// fields accumulates the leaves of a schema: each distinct path is one
// position of the Layout.
type fields struct {
	names []string
	index map[string]int
	nodes int // schema nodes compiled, see maxNodes
}

// maxNodes bounds the nodes a schema compiles to. Each use of a named
// type (Avro) or message type (Protobuf) compiles it again, at its own
// path, so a small schema that uses a type twice per level, level after
// level, flattens to exponentially many fields; a recursive Protobuf
// message with two fields of its own type to 2^32 before maxDepth stops
// it. Such a schema is refused rather than compiled on its first record.
const maxNodes = 1 << 14

// visit counts one more node, and fails past maxNodes.
func (f *fields) visit() error {
	if f.nodes++; f.nodes > maxNodes {
		return unsupported("the schema flattens to more than %d nodes", maxNodes)
	}
	return nil
}

// leaf returns the position of path, adding it if new.
func (f *fields) leaf(path string) int {
	if f.index == nil {
		f.index = make(map[string]int)
	}
	if i, ok := f.index[path]; ok {
		return i
	}
	f.index[path] = len(f.names)
	f.names = append(f.names, path)
	return len(f.names) - 1
}

func (f *fields) layout() (*serving.Layout, error) {
	if len(f.names) == 0 {
		return nil, unsupported("the schema has no numeric, boolean, string or enum field")
	}
	l, err := serving.NewLayout(f.names...)
	if err != nil {
		return nil, unsupported("%v", err)
	}
	return l, nil
}

// newRecord returns a record of l with every feature missing (NaN).
func newRecord(l *serving.Layout) serving.Record {
	x := make([]float64, l.Len())
	for i := range x {
		x[i] = math.NaN()
	}
	return serving.Record{Features: x, Layout: l}
}

// setText sets field i of r to the text s.
func setText(r *serving.Record, i int, s string) {
	if r.Text == nil {
		r.Text = make([]string, len(r.Features))
	}
	r.Text[i] = s
	r.Features[i] = math.NaN()
}

// maxDepth bounds the nesting of the fields a schema flattens, which also
// stops recursive schemas.
const maxDepth = 32

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

func incompatible(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrIncompatible}, args...)...)
}

func fieldIncompatible(field string, kind error, format string, args ...any) error {
	return fmt.Errorf("%w: %w", ErrIncompatible, &serving.FieldError{Field: field, Err: fmt.Errorf("%w: "+format, append([]any{kind}, args...)...)})
}

func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUnsupported}, args...)...)
}
