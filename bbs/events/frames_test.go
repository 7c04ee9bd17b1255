package events_test

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/bbs/events"
	"github.com/diego-go/diego/models"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("frames", func() {
	It("decodes what it encodes, in order, whatever the event type", func() {
		sent := []models.Event{
			models.NewDesiredLRPCreatedEvent(&models.DesiredLRP{ProcessGuid: "pg", Domain: "d", Instances: 2}, "trace-1"),
			models.NewActualLRPCrashedEvent(&models.ActualLRP{CrashCount: 1}, &models.ActualLRP{CrashCount: 2}),
			models.NewTaskRemovedEvent(task("tg", "cell-b")),
		}
		var stream strings.Builder
		for i, e := range sent {
			frame, err := events.EncodeFrame(uint64(i), e)
			Expect(err).NotTo(HaveOccurred())
			stream.Write(frame)
		}
		s := events.NewEventSource(io.NopCloser(strings.NewReader(stream.String())))
		for i, want := range sent {
			got, err := s.Next()
			Expect(err).NotTo(HaveOccurred())
			Expect(proto.Equal(got, want)).To(BeTrue(), "event %d: %v", i, got)
			Expect(s.LastEventID()).To(Equal(fmt.Sprint(i)))
		}
		_, err := s.Next()
		Expect(err).To(MatchError(io.EOF))
	})

	Describe("EventSource on garbage", func() {
		source := func(stream string) *events.EventSource {
			return events.NewEventSource(io.NopCloser(strings.NewReader(stream)))
		}
		frameErr := func(s *events.EventSource) *events.FrameError {
			GinkgoHelper()
			_, err := s.Next()
			var fe *events.FrameError
			Expect(errors.As(err, &fe)).To(BeTrue(), "got %v", err)
			return fe
		}

		It("names an unknown event type", func() {
			fe := frameErr(source("id: 7\nevent: actual_lrp_teleported\ndata: AAAA\n\n"))
			Expect(fe.ID).To(Equal("7"))
			Expect(fe.Error()).To(ContainSubstring(`unknown event type "actual_lrp_teleported"`))
		})

		It("says when data is not base64", func() {
			fe := frameErr(source("id: 1\nevent: task_created\ndata: !!!not base64!!!\n\n"))
			Expect(fe.Error()).To(SatisfyAll(ContainSubstring(`event "task_created"`), ContainSubstring("data is not base64")))
		})

		It("says when data is not the event's protobuf", func() {
			fe := frameErr(source("id: 1\nevent: task_created\ndata: " + "/////w==" + "\n\n"))
			Expect(fe.Error()).To(ContainSubstring("data is not a protobuf task_created event"))
		})

		It("says when a frame has no event name or no data", func() {
			Expect(frameErr(source("id: 1\ndata: AAAA\n\n")).Reason).To(Equal("no event field"))
			Expect(frameErr(source("id: 1\nevent: task_created\n\n")).Reason).To(Equal("no data field"))
		})

		It("says when a line is not an SSE field", func() {
			Expect(frameErr(source("HTTP/1.1 500 Internal Server Error\n\n")).Error()).To(ContainSubstring(`is not a field`))
			Expect(frameErr(source("colour: blue\n\n")).Error()).To(ContainSubstring(`unknown field "colour"`))
		})

		It("tells a clean end from a cut-off frame", func() {
			frame, err := events.EncodeFrame(0, numbered(0))
			Expect(err).NotTo(HaveOccurred())
			s := source(string(frame))
			_, err = s.Next()
			Expect(err).NotTo(HaveOccurred())
			_, err = s.Next()
			Expect(err).To(MatchError(io.EOF))

			_, err = source(string(frame[:len(frame)-5])).Next()
			Expect(err).To(MatchError(io.ErrUnexpectedEOF))
		})

		It("accepts CRLF line ends, comments and a retry field", func() {
			frame, _ := events.EncodeFrame(3, numbered(3))
			crlf := ": hi\r\nretry: 1000\r\n\r\n" + strings.ReplaceAll(string(frame), "\n", "\r\n")
			e, err := source(crlf).Next()
			Expect(err).NotTo(HaveOccurred())
			Expect(e.Key()).To(Equal(numbered(3).Key()))
		})
	})

	It("encodes frames as id, event and base64 data lines", func() {
		frame, err := events.EncodeFrame(42, models.NewTaskRemovedEvent(&models.Task{TaskGuid: "t"}))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(frame)).To(MatchRegexp(`^id: 42\nevent: task_removed\ndata: [A-Za-z0-9+/=]+\n\n$`))
	})
})
