package db

import (
	"crypto/tls"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// NewEtcdClient opens the etcd client a DB runs on: the endpoints, the dial timeout, etcd's own
// logging off (the DB logs what matters), and answers up to 1 GiB (listing every record of a
// large deployment exceeds gRPC's 4 MiB default). tlsConfig (nil: plain http endpoints) is the
// mutual TLS to etcd's https endpoints, built with tlsconfig.Client. cmd/bbs, the benchmark and
// the suites all open it here so they run on the same settings.
func NewEtcdClient(endpoints []string, dialTimeout time.Duration, tlsConfig *tls.Config) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{
		Endpoints:          endpoints,
		DialTimeout:        dialTimeout,
		TLS:                tlsConfig,
		Logger:             zap.NewNop(),
		MaxCallRecvMsgSize: 1 << 30,
	})
}
