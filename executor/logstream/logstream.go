// Package logstream turns a container's stdout and stderr into log messages published on NATS
// (docs/logs.md has the subject and the message). Lines end at "\n" or "\r"; a line longer than
// MaxMessageSize is split into messages of at most that many bytes, never inside a UTF-8
// character; empty lines are dropped; a partial line is sent on Flush. As upstream's executor,
// each container's messages are limited in lines per second (the cell's setting) and bytes per
// second (the container's LogConfig), and going over says so once in the app's own log and
// drops its messages for a second.
package logstream

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/diego-go/diego/executor"
)

// MaxMessageSize is upstream's limit on one message's text, in bytes.
const MaxMessageSize = 61440

// DefaultSourceName is the source of a container whose LogConfig names none.
const DefaultSourceName = "LOG"

// SubjectPrefix: a log guid's messages are published on SubjectPrefix + Subject(guid).
const SubjectPrefix = "logs."

// overageQuiet is how long a container's messages are dropped after it went over a limit.
const overageQuiet = time.Second

// Streamer is one container's log output.
type Streamer interface {
	Stdout() io.Writer
	Stderr() io.Writer
	// WithSource is a streamer with the same guid, index, tags and limits for another source
	// (an empty name keeps this one's).
	WithSource(sourceName string) Streamer
	// Flush sends the partial lines written so far.
	Flush()
}

// Publisher is where messages go; *nats.Conn is one.
type Publisher interface {
	Publish(subject string, data []byte) error
}

// Limits are the cell's settings.
type Limits struct {
	// LinesPerSecond is the most lines one container may log per second (upstream's
	// max_log_lines_per_second, a cell setting applied to each container); 0 = no limit.
	LinesPerSecond int
}

// Message is what is published for each line, modelled on loggregator's log message.
type Message struct {
	Timestamp      int64             `json:"timestamp"` // Unix nanoseconds
	AppID          string            `json:"app_id"`    // the log guid
	SourceType     string            `json:"source_type"`
	SourceInstance string            `json:"source_instance"`
	MessageType    string            `json:"message_type"` // OUT or ERR
	Message        string            `json:"message"`
	Tags           map[string]string `json:"tags"`
}

// Subject is the NATS subject a log guid's messages are published on: characters NATS gives a
// meaning in subjects ('.', '*', '>', white space) become '_'.
func Subject(logGuid string) string {
	return SubjectPrefix + strings.Map(func(r rune) rune {
		switch r {
		case '.', '*', '>', ' ', '\t', '\r', '\n':
			return '_'
		}
		return r
	}, logGuid)
}

// New is the streamer of a container with cfg; a config without a guid logs nothing.
func New(pub Publisher, cfg executor.LogConfig, limits Limits) Streamer {
	if cfg.Guid == "" {
		return noop{}
	}
	source := cfg.SourceName
	if source == "" {
		source = DefaultSourceName
	}
	tags := map[string]string{}
	for k, v := range cfg.Tags {
		tags[k] = v
	}
	if _, ok := tags["source_id"]; !ok {
		tags["source_id"] = cfg.Guid
	}
	if _, ok := tags["instance_id"]; !ok {
		tags["instance_id"] = strconv.Itoa(cfg.Index)
	}
	o := &output{pub: pub, guid: cfg.Guid, subject: Subject(cfg.Guid), index: strconv.Itoa(cfg.Index), tags: tags,
		limiter: newLimiter(limits.LinesPerSecond, cfg.BytesPerSecond, time.Now)}
	return o.streamer(source)
}

// output is what all of a container's streamers share.
type output struct {
	pub     Publisher
	guid    string
	subject string
	index   string
	tags    map[string]string
	limiter *limiter
}

func (o *output) streamer(source string) *streamer {
	return &streamer{o: o, source: source,
		stdout: &destination{o: o, source: source, messageType: "OUT"},
		stderr: &destination{o: o, source: source, messageType: "ERR"}}
}

func (o *output) publish(source, messageType, text string) {
	data, _ := json.Marshal(Message{Timestamp: time.Now().UnixNano(), AppID: o.guid, SourceType: source,
		SourceInstance: o.index, MessageType: messageType, Message: text, Tags: o.tags})
	// a log line that cannot be sent is lost, as upstream's are; the process must not stall
	_ = o.pub.Publish(o.subject, data)
}

type streamer struct {
	o              *output
	source         string
	stdout, stderr *destination
}

func (s *streamer) Stdout() io.Writer { return s.stdout }
func (s *streamer) Stderr() io.Writer { return s.stderr }

func (s *streamer) WithSource(source string) Streamer {
	if source == "" {
		source = s.source
	}
	return s.o.streamer(source)
}

func (s *streamer) Flush() {
	s.stdout.flush()
	s.stderr.flush()
}

// destination buffers one stream's partial line.
type destination struct {
	o           *output
	source      string
	messageType string
	mu          sync.Mutex
	buf         []byte
}

func (d *destination) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	rest := p
	for len(rest) > 0 {
		i := indexLineEnd(rest)
		if i < 0 {
			d.add(rest)
			break
		}
		d.add(rest[:i])
		d.send()
		rest = rest[i+1:]
	}
	return len(p), nil
}

func indexLineEnd(p []byte) int {
	for i, b := range p {
		if b == '\n' || b == '\r' {
			return i
		}
	}
	return -1
}

// add appends to the partial line, sending full messages whenever it reaches MaxMessageSize.
// A message ends on a character boundary: the bytes of a character that would straddle the
// limit start the next message.
func (d *destination) add(p []byte) {
	for len(d.buf)+len(p) >= MaxMessageSize {
		n := MaxMessageSize - len(d.buf)
		cut := n
		for cut > 0 && cut < len(p) && n-cut < utf8.UTFMax-1 && !utf8.RuneStart(p[cut]) {
			cut--
		}
		if cut < len(p) && !utf8.RuneStart(p[cut]) {
			cut = n // not UTF-8 here: split where the limit says
		}
		d.buf = append(d.buf, p[:cut]...)
		p = p[cut:]
		if len(p) == 0 {
			return // the line may end here: the next write or Flush sends it
		}
		d.send()
	}
	d.buf = append(d.buf, p...)
}

func (d *destination) send() {
	if len(d.buf) == 0 {
		return
	}
	text := string(d.buf)
	d.buf = d.buf[:0]
	if notice, ok := d.o.limiter.allow(len(text)); !ok {
		if notice != "" {
			d.o.publish(d.source, "OUT", notice)
		}
		return
	}
	d.o.publish(d.source, d.messageType, text)
}

func (d *destination) flush() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.send()
}

type noop struct{}

func (noop) Stdout() io.Writer            { return io.Discard }
func (noop) Stderr() io.Writer            { return io.Discard }
func (n noop) WithSource(string) Streamer { return n }
func (noop) Flush()                       {}

// limiter is one container's lines and bytes per second, as token buckets that hold one
// second's worth.
type limiter struct {
	mu           sync.Mutex
	now          func() time.Time
	lines, bytes bucket
	quietUntil   time.Time
}

type bucket struct {
	perSecond float64 // 0 = no limit
	tokens    float64
	at        time.Time
}

func (b *bucket) take(n int, now time.Time) bool {
	if b.perSecond == 0 {
		return true
	}
	b.tokens = min(b.perSecond, b.tokens+now.Sub(b.at).Seconds()*b.perSecond)
	b.at = now
	if float64(n) > b.tokens {
		return false
	}
	b.tokens -= float64(n)
	return true
}

func newLimiter(linesPerSecond int, bytesPerSecond int64, now func() time.Time) *limiter {
	t := now()
	l := &limiter{now: now}
	if linesPerSecond > 0 {
		l.lines = bucket{perSecond: float64(linesPerSecond), tokens: float64(linesPerSecond), at: t}
	}
	if bytesPerSecond > 0 {
		l.bytes = bucket{perSecond: float64(bytesPerSecond), tokens: float64(bytesPerSecond), at: t}
	}
	return l
}

// allow says whether a message of n bytes may be sent; when it is the first one over a limit,
// notice is what to say in the app's log instead.
func (l *limiter) allow(n int) (notice string, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Before(l.quietUntil) {
		return "", false
	}
	switch {
	case !l.bytes.take(n, now):
		notice = fmt.Sprintf("app instance exceeded log rate limit (%d bytes/sec)", int64(l.bytes.perSecond))
	case !l.lines.take(1, now):
		notice = fmt.Sprintf("app instance exceeded log rate limit (%d log-lines/sec) set by platform operator", int(l.lines.perSecond))
	default:
		return "", true
	}
	l.quietUntil = now.Add(overageQuiet)
	return notice, false
}
