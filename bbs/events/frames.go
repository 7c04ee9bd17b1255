// Package events is the wire format of the BBS's event streams (POST /v1/events/lrp_instances.r1
// and /v1/events/tasks.r1): one Server-Sent Events frame per models event, written by
// EncodeFrame and read back by EventSource. It imports nothing of the server, so the BBS client
// and its users can decode streams without linking the hub that serves them (bbs/eventhub).
package events

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"

	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/models"
)

// MaxFrameBytes bounds one SSE frame an EventSource accepts.
const MaxFrameBytes = 16 << 20

// EncodeFrame renders e as one SSE frame: id, event name, and base64 of the
// protobuf bytes, followed by the blank line that ends the frame.
func EncodeFrame(id uint64, e models.Event) ([]byte, error) {
	payload, err := proto.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("events: encoding %s: %w", e.EventType(), err)
	}
	var b bytes.Buffer
	b.Grow(len(payload)*4/3 + 64)
	b.WriteString("id: ")
	b.WriteString(strconv.FormatUint(id, 10))
	b.WriteString("\nevent: ")
	b.WriteString(e.EventType())
	b.WriteString("\ndata: ")
	b.WriteString(base64.StdEncoding.EncodeToString(payload))
	b.WriteString("\n\n")
	return b.Bytes(), nil
}

// ErrEventSourceClosed is returned by Next after Close.
var ErrEventSourceClosed = errors.New("events: event source closed")

// FrameError says why an SSE frame could not be decoded.
type FrameError struct {
	ID     string // the frame's id field, if it had one
	Event  string // the frame's event field, if it had one
	Reason string
}

func (e *FrameError) Error() string {
	return fmt.Sprintf("events: bad SSE frame (id %q, event %q): %s", e.ID, e.Event, e.Reason)
}

// EventSource decodes an SSE stream written by NewHandler into models
// events. Next is not safe for concurrent use; Close may be called from
// another goroutine to unblock it.
type EventSource struct {
	body   io.ReadCloser
	r      *bufio.Reader
	closed atomic.Bool
	lastID string
}

// NewEventSource reads frames from body, typically the body of a response
// to POST /v1/events/....
func NewEventSource(body io.ReadCloser) *EventSource {
	return &EventSource{body: body, r: bufio.NewReaderSize(body, 64<<10)}
}

// LastEventID is the id of the last frame Next returned.
func (s *EventSource) LastEventID() string { return s.lastID }

// Next returns the next event, skipping comments (heartbeats). It returns
// io.EOF when the stream ends between frames, io.ErrUnexpectedEOF when it
// ends inside one, a *FrameError for a frame that cannot be decoded (unknown
// event, bad base64, bad protobuf, unknown field, oversized), and
// ErrEventSourceClosed after Close.
func (s *EventSource) Next() (models.Event, error) {
	var (
		id, name string
		data     []byte
		hasData  bool
		inFrame  bool
		size     int
	)
	for {
		line, err := s.readLine()
		if err != nil {
			if s.closed.Load() {
				return nil, ErrEventSourceClosed
			}
			if errors.Is(err, io.EOF) {
				if inFrame {
					return nil, io.ErrUnexpectedEOF
				}
				return nil, io.EOF
			}
			return nil, err
		}
		size += len(line)
		if size > MaxFrameBytes {
			return nil, &FrameError{ID: id, Event: name, Reason: fmt.Sprintf("frame larger than %d bytes", MaxFrameBytes)}
		}
		if len(line) == 0 { // end of frame
			if !inFrame {
				continue
			}
			if !hasData {
				if name == "" { // only id or retry fields: nothing to dispatch
					inFrame, id = false, ""
					continue
				}
				return nil, &FrameError{ID: id, Event: name, Reason: "no data field"}
			}
			e, err := decode(id, name, data)
			if err != nil {
				return nil, err
			}
			s.lastID = id
			return e, nil
		}
		if line[0] == ':' { // comment: heartbeat
			continue
		}
		inFrame = true
		field, value, found := bytes.Cut(line, []byte(":"))
		if !found {
			return nil, &FrameError{ID: id, Event: name, Reason: fmt.Sprintf("line %q is not a field", truncate(line))}
		}
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "id":
			id = string(value)
		case "event":
			name = string(value)
		case "data":
			if hasData {
				data = append(data, '\n')
			}
			data = append(data, value...)
			hasData = true
		case "retry":
		default:
			return nil, &FrameError{ID: id, Event: name, Reason: fmt.Sprintf("unknown field %q", truncate(field))}
		}
	}
}

func decode(id, name string, data []byte) (models.Event, error) {
	if name == "" {
		return nil, &FrameError{ID: id, Reason: "no event field"}
	}
	e, err := models.NewEventByType(name)
	if err != nil {
		return nil, &FrameError{ID: id, Event: name, Reason: err.Error()}
	}
	payload := make([]byte, base64.StdEncoding.DecodedLen(len(data)))
	n, err := base64.StdEncoding.Decode(payload, data)
	if err != nil {
		return nil, &FrameError{ID: id, Event: name, Reason: "data is not base64: " + err.Error()}
	}
	if err := proto.Unmarshal(payload[:n], e); err != nil {
		return nil, &FrameError{ID: id, Event: name, Reason: "data is not a protobuf " + name + " event: " + err.Error()}
	}
	return e, nil
}

// readLine returns one line without its "\n" or "\r\n", at most
// MaxFrameBytes long.
func (s *EventSource) readLine() ([]byte, error) {
	var line []byte
	for {
		chunk, err := s.r.ReadSlice('\n')
		switch {
		case err == nil:
			if line == nil {
				line = chunk
			} else {
				line = append(line, chunk...)
			}
			line = bytes.TrimSuffix(line[:len(line)-1], []byte("\r"))
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			line = append(line, chunk...)
			if len(line) > MaxFrameBytes {
				return nil, &FrameError{Reason: fmt.Sprintf("line longer than %d bytes", MaxFrameBytes)}
			}
		default:
			return nil, err
		}
	}
}

// Close closes the body; a blocked Next returns ErrEventSourceClosed.
func (s *EventSource) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.body.Close()
}

func truncate(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}
