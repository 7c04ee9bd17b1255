package events_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/diego-go/diego/bbs/events"
	"github.com/diego-go/diego/models"
)

// FuzzEventSource feeds arbitrary streams to the decoder: it must never
// panic, and every failure must be a *FrameError, io.EOF or
// io.ErrUnexpectedEOF. Run longer with
// go test -run '^$' -fuzz FuzzEventSource ./bbs/events/
func FuzzEventSource(f *testing.F) {
	for i, e := range []models.Event{
		models.NewTaskCreatedEvent(&models.Task{TaskGuid: "t", CellId: "c"}),
		models.NewActualLRPCrashedEvent(&models.ActualLRP{}, &models.ActualLRP{CrashCount: 3}),
		models.NewDesiredLRPRemovedEvent(&models.DesiredLRP{ProcessGuid: "p"}, "trace"),
	} {
		frame, err := events.EncodeFrame(uint64(i), e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(frame))
		f.Add(": heartbeat\n\n" + string(frame) + string(frame))
		f.Add(strings.ReplaceAll(string(frame), "\n", "\r\n"))
		f.Add(string(frame[:len(frame)/2]))
	}
	f.Add("event: task_created\ndata: AAAA\ndata: BBBB\n\n")
	f.Add("data\n\n")
	f.Add("id: 1\nretry: 5\n\n")
	f.Fuzz(func(t *testing.T, stream string) {
		s := events.NewEventSource(io.NopCloser(strings.NewReader(stream)))
		for range 100 {
			e, err := s.Next()
			if err == nil {
				if e == nil || e.EventType() == "" {
					t.Fatalf("Next returned %v without an error", e)
				}
				continue
			}
			var fe *events.FrameError
			if !errors.As(err, &fe) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			return
		}
	})
}
