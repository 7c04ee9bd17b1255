package db

import (
	"context"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// UpsertDomain marks a domain fresh for ttlSeconds (0: for ever).
func (db *DB) UpsertDomain(ctx context.Context, domain string, ttlSeconds uint32) error {
	var opts []clientv3.OpOption
	if ttlSeconds > 0 {
		lease, err := db.cli.Grant(ctx, int64(ttlSeconds))
		if err != nil {
			return etcdErr(err)
		}
		opts = append(opts, clientv3.WithLease(lease.ID))
	}
	resp, err := db.cli.Put(ctx, DomainPrefix+domain, "", opts...)
	if err != nil {
		return etcdErr(err)
	}
	db.wrote(resp.Header.Revision)
	return nil
}

// Domains lists the fresh domains.
func (db *DB) Domains(ctx context.Context) ([]string, error) {
	resp, err := db.cli.Get(ctx, DomainPrefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, etcdErr(err)
	}
	out := make([]string, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out = append(out, strings.TrimPrefix(string(kv.Key), DomainPrefix))
	}
	return out, nil
}
