// Package dbtest is the one way the BBS's store suites (bbs/db, bbs/service, bbs/handlers) get
// their etcd: one real etcd per suite, and an empty store for every spec.
package dbtest

import (
	"context"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/diego-go/diego/bbs/db"
	"github.com/diego-go/diego/internal/testservers"
)

// StartEtcd starts an etcd for the running suite and opens a client of it; both end with the
// suite. Call it from BeforeSuite.
func StartEtcd() (*testservers.Etcd, *clientv3.Client) {
	etcd, err := testservers.StartEtcd(ginkgo.GinkgoT().TempDir())
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
	ginkgo.DeferCleanup(func() { _ = etcd.Stop() })
	cli := NewClient(etcd)
	ginkgo.DeferCleanup(cli.Close)
	return etcd, cli
}

// NewClient opens another client of etcd, as the BBS opens its own; the caller closes it.
func NewClient(etcd *testservers.Etcd) *clientv3.Client {
	cli, err := db.NewEtcdClient([]string{etcd.ClientURL()}, 5*time.Second, nil)
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
	return cli
}

// Wipe deletes every record of the store, so a spec starts from an empty one.
func Wipe(ctx context.Context, cli *clientv3.Client) {
	_, err := cli.Delete(ctx, "/v1/", clientv3.WithPrefix())
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
}
