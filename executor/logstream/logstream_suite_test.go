package logstream_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/executor/logstream"
	"github.com/diego-go/diego/internal/testservers"
)

func TestLogstream(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Logstream Suite")
}

var natsURL string

var _ = BeforeSuite(func() {
	server, err := testservers.StartNATS(GinkgoT().TempDir())
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(server.Stop)
	natsURL = server.URL()
})

// received is a subscription to every log subject, on its own connection.
type received struct {
	subject string
	ch      chan *nats.Msg
}

func subscribe(subject string) *received {
	GinkgoHelper()
	nc, err := nats.Connect(natsURL)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(nc.Close)
	r := &received{subject: subject, ch: make(chan *nats.Msg, 10000)}
	_, err = nc.ChanSubscribe(subject, r.ch)
	Expect(err).NotTo(HaveOccurred())
	Expect(nc.Flush()).To(Succeed())
	return r
}

// publisher is a connection for a streamer; sync waits until the server has what it published.
func publisher() *nats.Conn {
	GinkgoHelper()
	nc, err := nats.Connect(natsURL)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(nc.Close)
	return nc
}

// messages are those that arrived once the publisher's are through the server.
func (r *received) messages(pub *nats.Conn) []logstream.Message {
	GinkgoHelper()
	Expect(pub.Flush()).To(Succeed())
	var out []logstream.Message
	for {
		select {
		case m := <-r.ch:
			var msg logstream.Message
			Expect(json.Unmarshal(m.Data, &msg)).To(Succeed(), string(m.Data))
			out = append(out, msg)
		case <-time.After(200 * time.Millisecond):
			return out
		}
	}
}

func texts(ms []logstream.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.MessageType+" "+m.Message)
	}
	return out
}
