package logstream_test

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/executor"
	"github.com/diego-go/diego/executor/logstream"
)

var _ = Describe("a container's log stream on NATS", func() {
	It("publishes each line of stdout and stderr on logs.<log guid> as a JSON message with the guid, source, index and tags", func() {
		sub := subscribe("logs.>")
		pub := publisher()
		before := time.Now().UnixNano()
		s := logstream.New(pub, executor.LogConfig{Guid: "log-guid-1", Index: 3, SourceName: "APP/PROC/WEB",
			Tags: map[string]string{"app_name": "dora"}}, logstream.Limits{})
		fmt.Fprint(s.Stdout(), "hello\nworld\n")
		fmt.Fprint(s.Stderr(), "oops\n")

		Expect(pub.Flush()).To(Succeed())
		m := <-sub.ch
		Expect(m.Subject).To(Equal("logs.log-guid-1"))
		var raw map[string]any
		Expect(json.Unmarshal(m.Data, &raw)).To(Succeed())
		Expect(raw).To(HaveKeyWithValue("app_id", "log-guid-1"))
		Expect(raw).To(HaveKeyWithValue("source_type", "APP/PROC/WEB"))
		Expect(raw).To(HaveKeyWithValue("source_instance", "3"))
		Expect(raw).To(HaveKeyWithValue("message_type", "OUT"))
		Expect(raw).To(HaveKeyWithValue("message", "hello"))
		Expect(raw).To(HaveKeyWithValue("tags", map[string]any{"app_name": "dora", "source_id": "log-guid-1", "instance_id": "3"}))
		Expect(raw["timestamp"]).To(BeNumerically(">=", before))
		Expect(raw["timestamp"]).To(BeNumerically("<=", time.Now().UnixNano()))
		Expect(texts(sub.messages(pub))).To(Equal([]string{"OUT world", "ERR oops"}))
	})

	It("defaults the source to LOG and keeps source_id and instance_id tags given", func() {
		sub := subscribe("logs.>")
		pub := publisher()
		s := logstream.New(pub, executor.LogConfig{Guid: "g", Index: 1, Tags: map[string]string{"source_id": "other", "instance_id": "x"}}, logstream.Limits{})
		fmt.Fprintln(s.Stdout(), "line")
		ms := sub.messages(pub)
		Expect(ms).To(HaveLen(1))
		Expect(ms[0].SourceType).To(Equal("LOG"))
		Expect(ms[0].Tags).To(Equal(map[string]string{"source_id": "other", "instance_id": "x"}))
	})

	It("publishes nothing for a container without a log guid", func() {
		sub := subscribe(">")
		pub := publisher()
		s := logstream.New(pub, executor.LogConfig{SourceName: "APP"}, logstream.Limits{})
		fmt.Fprintln(s.Stdout(), "line")
		fmt.Fprintln(s.WithSource("HEALTH").Stderr(), "line")
		s.Flush()
		Expect(sub.messages(pub)).To(BeEmpty())
	})

	It("replaces characters NATS reads in subjects", func() {
		Expect(logstream.Subject("a.b*c>d e")).To(Equal("logs.a_b_c_d_e"))
		sub := subscribe("logs.a_b")
		pub := publisher()
		fmt.Fprintln(logstream.New(pub, executor.LogConfig{Guid: "a.b"}, logstream.Limits{}).Stdout(), "x")
		ms := sub.messages(pub)
		Expect(ms).To(HaveLen(1))
		Expect(ms[0].AppID).To(Equal("a.b"))
	})

	It("ends lines at \\n or \\r, drops empty ones, and keeps a partial line until it ends or Flush", func() {
		sub := subscribe("logs.>")
		pub := publisher()
		s := logstream.New(pub, executor.LogConfig{Guid: "g"}, logstream.Limits{})
		fmt.Fprint(s.Stdout(), "one\r\ntwo\rthr")
		Expect(texts(sub.messages(pub))).To(Equal([]string{"OUT one", "OUT two"}))
		fmt.Fprint(s.Stdout(), "ee\nfo")
		fmt.Fprint(s.Stderr(), "half")
		Expect(texts(sub.messages(pub))).To(Equal([]string{"OUT three"}))
		s.Flush()
		Expect(texts(sub.messages(pub))).To(ConsistOf("OUT fo", "ERR half"))
		s.Flush()
		Expect(sub.messages(pub)).To(BeEmpty())
	})

	It("splits a line longer than 61440 bytes into messages of at most that, never inside a UTF-8 character", func() {
		Expect(logstream.MaxMessageSize).To(Equal(61440))
		sub := subscribe("logs.>")
		pub := publisher()
		s := logstream.New(pub, executor.LogConfig{Guid: "g"}, logstream.Limits{})
		fmt.Fprint(s.Stdout(), strings.Repeat("a", 61440)+"b\n")
		fmt.Fprint(s.Stdout(), strings.Repeat("a", 61439)+"é"+"c\n") // é is 2 bytes and would straddle the limit
		fmt.Fprint(s.Stdout(), strings.Repeat("a", 61440)+"\n")      // exactly the limit: one message
		// written in pieces: the limit is on the line, not the write
		for i := 0; i < 4; i++ {
			fmt.Fprint(s.Stdout(), strings.Repeat("z", 20000))
		}
		fmt.Fprint(s.Stdout(), "\n")
		var lens []int
		var tails []string
		for _, m := range sub.messages(pub) {
			lens = append(lens, len(m.Message))
			tails = append(tails, m.Message[len(m.Message)-1:])
		}
		Expect(lens).To(Equal([]int{61440, 1, 61439, 3, 61440, 61440, 80000 - 61440}))
		Expect(tails).To(Equal([]string{"a", "b", "a", "c", "a", "z", "z"}))
	})

	It("gives WithSource the same guid, index and tags under another source, with buffers of its own", func() {
		sub := subscribe("logs.>")
		pub := publisher()
		s := logstream.New(pub, executor.LogConfig{Guid: "g", Index: 2, SourceName: "APP/PROC/WEB"}, logstream.Limits{})
		h := s.WithSource("HEALTH")
		fmt.Fprint(s.Stdout(), "app ")
		fmt.Fprintln(h.Stdout(), "health")
		fmt.Fprintln(s.WithSource("").Stderr(), "same source")
		ms := sub.messages(pub)
		Expect(ms).To(HaveLen(2))
		Expect([]string{ms[0].SourceType, ms[0].SourceInstance, ms[0].Message}).To(Equal([]string{"HEALTH", "2", "health"}))
		Expect([]string{ms[1].SourceType, ms[1].Message}).To(Equal([]string{"APP/PROC/WEB", "same source"}))
	})

	Describe("limits", func() {
		It("lets a container log the cell's lines per second, then says so once in its log and drops its lines for a second", func() {
			sub := subscribe("logs.>")
			pub := publisher()
			s := logstream.New(pub, executor.LogConfig{Guid: "g", SourceName: "APP/PROC/WEB"}, logstream.Limits{LinesPerSecond: 5})
			other := logstream.New(pub, executor.LogConfig{Guid: "other"}, logstream.Limits{LinesPerSecond: 5})
			for i := 1; i <= 10; i++ {
				fmt.Fprintf(s.Stdout(), "line %d\n", i)
			}
			fmt.Fprintln(s.WithSource("HEALTH").Stderr(), "shares the limit")
			fmt.Fprintln(other.Stdout(), "another container has its own")
			ms := sub.messages(pub)
			Expect(texts(ms)).To(Equal([]string{"OUT line 1", "OUT line 2", "OUT line 3", "OUT line 4", "OUT line 5",
				"OUT app instance exceeded log rate limit (5 log-lines/sec) set by platform operator",
				"OUT another container has its own"}))
			Expect(ms[5].SourceType).To(Equal("APP/PROC/WEB"))
			Expect(ms[5].AppID).To(Equal("g"))

			time.Sleep(1100 * time.Millisecond)
			for i := 1; i <= 6; i++ {
				fmt.Fprintf(s.Stderr(), "again %d\n", i)
			}
			Expect(texts(sub.messages(pub))).To(Equal([]string{"ERR again 1", "ERR again 2", "ERR again 3", "ERR again 4", "ERR again 5",
				"OUT app instance exceeded log rate limit (5 log-lines/sec) set by platform operator"}))
		})

		It("lets a container log its LogConfig's bytes per second, then says so once in its log", func() {
			sub := subscribe("logs.>")
			pub := publisher()
			s := logstream.New(pub, executor.LogConfig{Guid: "g", SourceName: "APP/PROC/WEB", BytesPerSecond: 100}, logstream.Limits{})
			fmt.Fprintln(s.Stdout(), strings.Repeat("a", 60))
			fmt.Fprintln(s.Stdout(), strings.Repeat("b", 60))
			fmt.Fprintln(s.Stdout(), "c")
			Expect(texts(sub.messages(pub))).To(Equal([]string{"OUT " + strings.Repeat("a", 60),
				"OUT app instance exceeded log rate limit (100 bytes/sec)"}))
			time.Sleep(1100 * time.Millisecond)
			fmt.Fprintln(s.Stdout(), "d")
			Expect(texts(sub.messages(pub))).To(Equal([]string{"OUT d"}))
		})
	})
})

var _ = Describe("docs/logs.md", func() {
	It("shows a message with exactly the fields the cell sends", func() {
		doc, err := os.ReadFile("../../docs/logs.md")
		Expect(err).NotTo(HaveOccurred())
		example := regexp.MustCompile("(?s)```json\n(.*?)```").FindSubmatch(doc)
		Expect(example).NotTo(BeNil())
		var shown map[string]any
		Expect(json.Unmarshal(example[1], &shown)).To(Succeed())
		sent, _ := json.Marshal(logstream.Message{})
		var fields map[string]any
		Expect(json.Unmarshal(sent, &fields)).To(Succeed())
		Expect(shown).To(HaveLen(len(fields)))
		for k := range fields {
			Expect(shown).To(HaveKey(k))
		}
	})
})
