package handlers_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-go/diego/auctioneer/auctioneertest"
	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/bbs/convergence"
	"github.com/diego-go/diego/bbs/db"
	"github.com/diego-go/diego/bbs/db/dbtest"
	"github.com/diego-go/diego/bbs/eventhub"
	"github.com/diego-go/diego/bbs/handlers"
	"github.com/diego-go/diego/bbs/service"
	"github.com/diego-go/diego/internal/testservers"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/rep"
)

func TestHandlers(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "BBS Handlers Suite")
}

var (
	etcd       *testservers.Etcd
	etcdCli    *clientv3.Client
	store      *db.DB
	svc        *service.Service
	handler    *handlers.Handler
	server     *httptest.Server
	client     *bbs.Client
	auctioneer *auctioneertest.Auctioneer
	cells      []*models.CellPresence
	cellsMu    sync.Mutex
	ctx        context.Context
	lrpHub     *eventhub.Hub
	groupHub   *eventhub.Hub
	taskHub    *eventhub.Hub
	repCalls   chan string
	keyring    *db.Keyring
)

var _ = BeforeSuite(func() {
	etcd, etcdCli = dbtest.StartEtcd()
})

var _ = BeforeEach(func() {
	ctx = context.Background()
	dbtest.Wipe(ctx, etcdCli)
	var err error
	keyring, err = db.NewKeyring(map[string]string{"k": "pass"}, "k")
	Expect(err).NotTo(HaveOccurred())
	store = db.New(etcdCli, keyring, db.WithGroupCommit())
	DeferCleanup(store.Close)
	cctx, cancel := context.WithCancel(ctx)
	DeferCleanup(cancel)
	Expect(store.StartCache(cctx)).To(Succeed())
	auctioneer = auctioneertest.New()
	DeferCleanup(auctioneer.Close)

	repCalls = make(chan string, 100)
	repServer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		repCalls <- r.Method + " " + r.URL.Path
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted) // the rep's answer to stop and cancel
	}))
	DeferCleanup(repServer.Close)
	cellsMu.Lock()
	cells = []*models.CellPresence{{CellId: "cell-1", RepUrl: repServer.URL, Zone: "z1"}}
	cellsMu.Unlock()

	logger := slog.New(slog.NewTextHandler(GinkgoWriter, nil))
	lrpHub = eventhub.NewHub(logger, 0)
	groupHub = eventhub.NewHub(logger, 0)
	taskHub = eventhub.NewHub(logger, 0)
	conv := convergence.DefaultConfig()
	conv.StaleUnclaimedLRP, conv.KickTask, conv.ExpireCompletedTask, conv.ExpirePendingTask = time.Second, time.Second, time.Minute, time.Hour
	svc = service.New(service.Config{
		DB:         store,
		Logger:     logger,
		Auctioneer: auctioneer.Client(),
		CellClient: rep.NewClient(rep.Options{}),
		Cells: func(context.Context) ([]*models.CellPresence, error) {
			cellsMu.Lock()
			defer cellsMu.Unlock()
			return append([]*models.CellPresence(nil), cells...), nil
		},
		LRPHub:            lrpHub,
		LRPGroupHub:       groupHub,
		TaskHub:           taskHub,
		CallbackRetryWait: 10 * time.Millisecond,
		Convergence:       conv,
	})
	handler = handlers.New(handlers.Config{
		DB:      store,
		Service: svc,
		Logger:  logger,
		Streams: eventhub.Streams(logger, eventhub.HandlerOptions{}, lrpHub, groupHub, taskHub),
	})
	server = httptest.NewServer(handler)
	DeferCleanup(func() {
		server.Close()
		lrpHub.Close()
		groupHub.Close()
		taskHub.Close()
		svc.Close()
	})
	client = bbs.NewClient(server.URL, nil)
})

var _ = ReportAfterEach(func(r SpecReport) {
	if r.Failed() && etcd != nil {
		AddReportEntry("etcd log", etcd.Logs())
	}
})
