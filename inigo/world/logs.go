package world

import (
	"encoding/json"
	"sync"

	"github.com/nats-io/nats.go"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/executor/logstream"
)

// Logs collects, until the spec ends, the app log lines the cells publish on NATS for logGuid
// (an AppLRP's is its process guid); it returns the lines' texts that have arrived so far.
// Only lines published after it returns arrive: NATS keeps nothing for a later subscriber.
func (w *World) Logs(logGuid string) func() []string {
	GinkgoHelper()
	conn, err := nats.Connect(w.NATS.URL())
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(conn.Close)
	var mu sync.Mutex
	var got []string
	_, err = conn.Subscribe(logstream.Subject(logGuid), func(m *nats.Msg) {
		var msg logstream.Message
		if json.Unmarshal(m.Data, &msg) == nil {
			mu.Lock()
			got = append(got, msg.Message)
			mu.Unlock()
		}
	})
	Expect(err).NotTo(HaveOccurred())
	Expect(conn.Flush()).To(Succeed())
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}
