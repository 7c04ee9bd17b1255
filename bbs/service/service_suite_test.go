package service_test

import (
	"bufio"
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-go/diego/auctioneer/auctioneertest"
	"github.com/diego-go/diego/bbs/db"
	"github.com/diego-go/diego/bbs/db/dbtest"
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
	auctioneer *auctioneertest.Auctioneer
	logger     *slog.Logger
	ctx        context.Context
)

var _ = BeforeSuite(func() {
	etcd, etcdCli = dbtest.StartEtcd()
})

var _ = BeforeEach(func() {
	ctx = context.Background()
	dbtest.Wipe(ctx, etcdCli)
	keyring, err := db.NewKeyring(map[string]string{"k": "pass"}, "k")
	Expect(err).NotTo(HaveOccurred())
	// no record cache: every read goes to etcd, where the specs can count it
	store = db.New(etcdCli, keyring)
	DeferCleanup(store.Close)
	auctioneer = auctioneertest.New()
	DeferCleanup(auctioneer.Close)
	logger = slog.New(slog.NewTextHandler(GinkgoWriter, nil))
})

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
