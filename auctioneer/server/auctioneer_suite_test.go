package server_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/internal/testservers"
	"github.com/diego-go/diego/locket"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/rep/reptest"
)

func TestAuctioneer(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Auctioneer Suite")
}

const rootFS = "preloaded:cflinuxfs4"

var (
	consul       *testservers.Consul
	consulClient *locket.Client
	logger       *slog.Logger
)

var _ = BeforeSuite(func() {
	dir, err := os.MkdirTemp("", "auctioneer-consul-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, dir)
	consul, err = testservers.StartConsul(dir)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(consul.Stop)
	consulClient, err = locket.NewClient(consul.HTTPAddr())
	Expect(err).NotTo(HaveOccurred())
	logger = slog.New(slog.NewJSONHandler(GinkgoWriter, &slog.HandlerOptions{Level: slog.LevelDebug}))
})

var _ = AfterEach(func() {
	if CurrentSpecReport().Failed() && consul != nil {
		logs := consul.Logs()
		if len(logs) > 4000 {
			logs = logs[len(logs)-4000:]
		}
		GinkgoWriter.Printf("--- consul log tail:\n%s\n", logs)
	}
})

// startRep starts a test rep and writes its presence in Consul (a real session-bound key, as the
// rep does); both go away when the spec ends.
func startRep(id string, opts reptest.Options) *reptest.Rep {
	GinkgoHelper()
	rep := reptest.New(id, opts)
	DeferCleanup(rep.Close)
	registerPresence(id, rep.URL())
	return rep
}

func registerPresence(id, url string) {
	GinkgoHelper()
	reptest.RegisterPresence(logger, consulClient, id, url, 2*time.Second, 200*time.Millisecond)
}

// fakeBBS decodes the real protobuf requests of the two routes the auctioneer calls and answers
// like the BBS (HTTP 200, a lifecycle response without error).
type fakeBBS struct {
	server *httptest.Server
	mu     sync.Mutex
	failed []*models.FailActualLRPRequest
	reject []*models.RejectTaskRequest
}

func startFakeBBS() *fakeBBS {
	f := &fakeBBS{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/actual_lrps/fail", func(w http.ResponseWriter, r *http.Request) {
		req := &models.FailActualLRPRequest{}
		f.decode(r, req)
		f.mu.Lock()
		f.failed = append(f.failed, req)
		f.mu.Unlock()
		f.answer(w, &models.ActualLRPLifecycleResponse{})
	})
	mux.HandleFunc("POST /v1/tasks/reject", func(w http.ResponseWriter, r *http.Request) {
		req := &models.RejectTaskRequest{}
		f.decode(r, req)
		f.mu.Lock()
		f.reject = append(f.reject, req)
		f.mu.Unlock()
		f.answer(w, &models.TaskLifecycleResponse{})
	})
	f.server = httptest.NewServer(mux)
	DeferCleanup(f.server.Close)
	return f
}

func (f *fakeBBS) decode(r *http.Request, m proto.Message) {
	defer GinkgoRecover()
	Expect(r.Header.Get("Content-Type")).To(Equal("application/x-protobuf"))
	b, err := io.ReadAll(r.Body)
	Expect(err).NotTo(HaveOccurred())
	Expect(proto.Unmarshal(b, m)).To(Succeed())
}

func (f *fakeBBS) answer(w http.ResponseWriter, m proto.Message) {
	b, _ := proto.Marshal(m)
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(b)
}

func (f *fakeBBS) FailedLRPs() []*models.FailActualLRPRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*models.FailActualLRPRequest(nil), f.failed...)
}

func (f *fakeBBS) RejectedTasks() []*models.RejectTaskRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*models.RejectTaskRequest(nil), f.reject...)
}

func lrpRequest(guid string, memory int32, indices ...int32) models.LRPStartRequest {
	return models.LRPStartRequest{
		ProcessGUID: guid, Domain: "domain", Indices: indices,
		PlacementConstraint: models.PlacementConstraint{RootFs: rootFS},
		Resource:            models.Resource{MemoryMB: memory, DiskMB: 10},
	}
}

func taskRequest(guid string, memory int32) models.TaskStartRequest {
	return models.TaskStartRequest{RepTask: models.RepTask{
		TaskGuid: guid, Domain: "domain",
		PlacementConstraint: models.PlacementConstraint{RootFs: rootFS},
		Resource:            models.Resource{MemoryMB: memory, DiskMB: 10},
	}}
}
