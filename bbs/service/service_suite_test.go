package service_test

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	clientv3 "go.etcd.io/etcd/client/v3"

	auctioneerapi "github.com/diego-go/diego/auctioneer"
	"github.com/diego-go/diego/bbs/db"
	"github.com/diego-go/diego/internal/testservers"
	"github.com/diego-go/diego/models"
)

func TestService(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "BBS Service Suite")
}

var (
	etcd       *testservers.Etcd
	etcdCli    *clientv3.Client
	store      *db.DB
	auctioneer *fakeAuctioneer
	logger     *slog.Logger
	ctx        context.Context
)

var _ = BeforeSuite(func() {
	var err error
	etcd, err = testservers.StartEtcd(GinkgoT().TempDir())
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = etcd.Stop() })
	etcdCli, err = db.NewEtcdClient([]string{etcd.ClientURL()}, 5*time.Second, nil)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(etcdCli.Close)
})

var _ = BeforeEach(func() {
	ctx = context.Background()
	_, err := etcdCli.Delete(ctx, "/v1/", clientv3.WithPrefix())
	Expect(err).NotTo(HaveOccurred())
	keyring, err := db.NewKeyring(map[string]string{"k": "pass"}, "k")
	Expect(err).NotTo(HaveOccurred())
	// no record cache: every read goes to etcd, where the specs can count it
	store = db.New(etcdCli, keyring)
	DeferCleanup(store.Close)
	auctioneer = newFakeAuctioneer()
	DeferCleanup(auctioneer.server.Close)
	logger = slog.New(slog.NewTextHandler(GinkgoWriter, nil))
})

// fakeAuctioneer is a real HTTP server speaking the auctioneer's API; it answers failWith (when
// not 0) to the first failures requests.
type fakeAuctioneer struct {
	server   *httptest.Server
	mu       sync.Mutex
	lrps     []models.LRPStartRequest
	tasks    []models.TaskStartRequest
	failWith int
	failures int
	refused  int
}

func newFakeAuctioneer() *fakeAuctioneer {
	f := &fakeAuctioneer{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/lrps", func(w http.ResponseWriter, r *http.Request) {
		var reqs []models.LRPStartRequest
		Expect(json.NewDecoder(r.Body).Decode(&reqs)).To(Succeed())
		if f.refuse(w) {
			return
		}
		f.mu.Lock()
		f.lrps = append(f.lrps, reqs...)
		f.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("POST /v1/tasks", func(w http.ResponseWriter, r *http.Request) {
		var reqs []models.TaskStartRequest
		Expect(json.NewDecoder(r.Body).Decode(&reqs)).To(Succeed())
		if f.refuse(w) {
			return
		}
		f.mu.Lock()
		f.tasks = append(f.tasks, reqs...)
		f.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	})
	f.server = httptest.NewServer(mux)
	return f
}

func (f *fakeAuctioneer) refuse(w http.ResponseWriter) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWith == 0 || f.refused >= f.failures {
		return false
	}
	f.refused++
	w.WriteHeader(f.failWith)
	return true
}

// failNext makes the next n requests answer status.
func (f *fakeAuctioneer) failNext(n, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failWith, f.failures, f.refused = status, n, 0
}

func (f *fakeAuctioneer) Refused() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refused
}

func (f *fakeAuctioneer) LRPs() []models.LRPStartRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]models.LRPStartRequest(nil), f.lrps...)
}

func (f *fakeAuctioneer) Tasks() []models.TaskStartRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]models.TaskStartRequest(nil), f.tasks...)
}

func (f *fakeAuctioneer) client() *auctioneerapi.Client {
	return auctioneerapi.NewClient(f.server.URL, nil)
}

// etcdRanges is how many ranges etcd has read, alone or in transactions.
func etcdRanges() int {
	GinkgoHelper()
	resp, err := http.Get(etcd.ClientURL() + "/metrics")
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "etcd_mvcc_range_total ") {
			n, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			Expect(err).NotTo(HaveOccurred())
			return int(n)
		}
	}
	Fail("etcd's metrics have no etcd_mvcc_range_total")
	return 0
}

func desired(guid string, instances int32) *models.DesiredLRP {
	return &models.DesiredLRP{
		ProcessGuid:   guid,
		Domain:        "cf-apps",
		RootFs:        "preloaded:cflinuxfs4",
		Instances:     instances,
		MemoryMb:      128,
		DiskMb:        256,
		PlacementTags: []string{"blue"},
		Action:        &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{Path: "/bin/app", User: "vcap"}}},
	}
}
