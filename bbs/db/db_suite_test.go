package db_test

import (
	"context"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-go/diego/bbs/db"
	"github.com/diego-go/diego/bbs/db/dbtest"
	"github.com/diego-go/diego/internal/testservers"
	"github.com/diego-go/diego/models"
)

func TestDB(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "BBS DB Suite")
}

var (
	etcd    *testservers.Etcd
	etcdCli *clientv3.Client
	keys    *db.Keyring
	store   *db.DB
	ctx     context.Context
)

var _ = BeforeSuite(func() {
	etcd, etcdCli = dbtest.StartEtcd()
})

func newEtcdClient() *clientv3.Client { return dbtest.NewClient(etcd) }

var _ = BeforeEach(func() {
	ctx = context.Background()
	dbtest.Wipe(ctx, etcdCli)
	var err error
	keys, err = db.NewKeyring(map[string]string{"k1": "first passphrase"}, "k1")
	Expect(err).NotTo(HaveOccurred())
	store = db.New(etcdCli, keys)
})

var _ = ReportAfterEach(func(r SpecReport) {
	if r.Failed() && etcd != nil {
		AddReportEntry("etcd log", etcd.Logs())
	}
})

func newDesired(guid string, instances int32) *models.DesiredLRP {
	return &models.DesiredLRP{
		ProcessGuid: guid,
		Domain:      "cf-apps",
		RootFs:      "preloaded:cflinuxfs4",
		Instances:   instances,
		MemoryMb:    256,
		DiskMb:      512,
		LogGuid:     "log-" + guid,
		EnvironmentVariables: []*models.EnvironmentVariable{
			{Name: "SECRET_ENV", Value: "super-secret-env-value"},
		},
		Action: &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{Path: "/bin/secret-command", User: "vcap"}}},
		Routes: &models.Routes{Routes: map[string][]byte{"cf-router": []byte(`[{"hostnames":["a.example.com"],"port":8080}]`)}},
	}
}
