package reptest

import (
	"log/slog"
	"os"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"

	"github.com/diego-go/diego/locket"
	"github.com/diego-go/diego/models"
)

// RegisterPresence keeps a presence for cell id with rep URL url (as rep_url and rep_address) in
// zone z1 in Consul until the spec ends: a real session-bound key with the given TTL and retry
// interval, kept by locket.NewCellPresence as a rep keeps its own. It is for ginkgo specs and
// returns once the presence is written.
func RegisterPresence(logger *slog.Logger, client *locket.Client, id, url string, ttl, retry time.Duration) {
	GinkgoHelper()
	p := &models.CellPresence{CellId: id, RepAddress: url, RepUrl: url, Zone: "z1"}
	runner, err := locket.NewCellPresence(logger, client, p, ttl, retry)
	Expect(err).NotTo(HaveOccurred())
	process := ifrit.Background(runner)
	Eventually(process.Ready(), 10*time.Second).Should(BeClosed())
	DeferCleanup(func() {
		process.Signal(os.Interrupt)
		Eventually(process.Wait(), 10*time.Second).Should(Receive())
	})
}
