// Command bbs-benchmark loads desired LRPs with their actual LRPs into a real etcd (started with
// internal/testservers, or given with -etcd) through the BBS store and reports: desire, claim and
// start throughput beside raw etcd put throughput measured in the same run, fetch of all actual
// LRPs, the record cache's load and a standby's catch-up (what taking the lock costs without and
// with a cache kept before it), per-cell fetch, and one convergence
// pass. Usage:
//
//	go run ./cmd/bbs-benchmark -sizes 10000,50000
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/bbs/db"
	"github.com/diego-go/diego/bbs/service"
	"github.com/diego-go/diego/internal/testservers"
	"github.com/diego-go/diego/models"
)

func main() {
	sizesFlag := flag.String("sizes", "10000,50000", "numbers of desired LRPs (one instance each)")
	workers := flag.Int("workers", 64, "concurrent writers")
	cells := flag.Int("cells", 100, "cells the instances are spread over")
	etcdURL := flag.String("etcd", "", "etcd client URL (default: start one with internal/testservers)")
	flag.BoolVar(&groupCommit, "group-commit", true, "combine concurrent transactions (as cmd/bbs does)")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the benchmark process from the first desire on (of the last size)")
	flag.StringVar(&convProfile, "convergence-cpuprofile", "", "write a CPU profile of 10 more convergence passes (of the last size)")
	flag.Parse()
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400) // as cmd/bbs does
	}

	url := *etcdURL
	if url == "" {
		dir, err := os.MkdirTemp("", "bbs-benchmark-")
		check(err)
		defer os.RemoveAll(dir)
		e, err := testservers.StartEtcd(filepath.Join(dir, "etcd"))
		check(err)
		defer e.Stop()
		url = e.ClientURL()
	}
	cli, err := db.NewEtcdClient([]string{url}, 5*time.Second, nil)
	check(err)
	defer cli.Close()

	fmt.Printf("# bbs-benchmark: GOMAXPROCS=%d workers=%d cells=%d group-commit=%v etcd=%s\n\n", runtime.GOMAXPROCS(0), *workers, *cells, groupCommit, url)
	fmt.Println("| desired LRPs | raw put/s | raw 3-key txn/s | desire/s | claim/s | start/s | write path vs raw (slowest) | fetch all actual (served) | fetch all actual (one ranged Get + decode) | cache load | standby take-over (catch-up after 1,000 desires) | per-cell fetch | per-cell / fetch all (served) | convergence pass |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, s := range strings.Split(*sizesFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		check(err)
		run(cli, n, *workers, *cells)
	}
}

var (
	cpuProfile  string
	convProfile string
	groupCommit bool
)

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bbs-benchmark:", err)
		os.Exit(1)
	}
}

// processGuid is the i-th process guid, shaped like Cloud Controller's (a UUID), so guids spread
// over the key space as they do in a real deployment.
func processGuid(i int) string {
	return fmt.Sprintf("%08x-0000-4000-8000-%012d", uint32(i)*2654435761, i)
}

func desired(i int) *models.DesiredLRP {
	return &models.DesiredLRP{
		ProcessGuid: processGuid(i),
		Domain:      "cf-apps",
		RootFs:      "preloaded:cflinuxfs4",
		Instances:   1,
		MemoryMb:    256,
		DiskMb:      1024,
		LogGuid:     fmt.Sprintf("log-%08d", i),
		EnvironmentVariables: []*models.EnvironmentVariable{
			{Name: "PORT", Value: "8080"}, {Name: "VCAP_APPLICATION", Value: `{"application_name":"app","space":"dev"}`},
		},
		Action:  &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{Path: "/tmp/lifecycle/launcher", Args: []string{"app", "bundle exec rackup", "{}"}, User: "vcap"}}},
		Monitor: &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{Path: "/tmp/lifecycle/healthcheck", Args: []string{"-port=8080"}, User: "vcap"}}},
		Ports:   []uint32{8080},
		Routes:  &models.Routes{Routes: map[string][]byte{"cf-router": []byte(fmt.Sprintf(`[{"hostnames":["app-%d.example.com"],"port":8080}]`, i))}},
	}
}

// parallel runs fn(i) for i in [0,n) on w workers and returns ops per second.
func parallel(n, w int, fn func(i int) error) float64 {
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	start := time.Now()
	for k := 0; k < w; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		check(e.(error))
	}
	return float64(n) / time.Since(start).Seconds()
}

func median(runs int, fn func()) time.Duration {
	var ds []time.Duration
	for r := 0; r < runs; r++ {
		t := time.Now()
		fn()
		ds = append(ds, time.Since(t))
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

func run(cli *clientv3.Client, n, workers, cells int) {
	ctx := context.Background()
	_, err := cli.Delete(ctx, "/v1/", clientv3.WithPrefix())
	check(err)
	_, err = cli.Delete(ctx, "/bench/", clientv3.WithPrefix())
	check(err)
	keys, err := db.NewKeyring(map[string]string{"bench": "benchmark passphrase"}, "bench")
	check(err)
	opts := []db.Option{db.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}
	if groupCommit {
		opts = append(opts, db.WithGroupCommit())
	}
	store := db.New(cli, keys, opts...)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	check(store.StartCache(cctx))

	// a running instance's envelope: the size raw puts write
	sample := &models.ActualLRP{
		ActualLrpKey:         &models.ActualLRPKey{ProcessGuid: processGuid(0), Index: 0, Domain: "cf-apps"},
		ActualLrpInstanceKey: &models.ActualLRPInstanceKey{InstanceGuid: "11111111-2222-3333-4444-555555555555", CellId: "cell-000"},
		ActualLrpNetInfo:     &models.ActualLRPNetInfo{Address: "10.0.0.1", Ports: []*models.PortMapping{{ContainerPort: 8080, HostPort: 61000}}, InstanceAddress: "10.255.0.1"},
		State:                models.ActualLRPStateRunning, Since: time.Now().UnixNano(),
		ModificationTag: &models.ModificationTag{Epoch: "11111111-2222-3333-4444-555555555555", Index: 2},
	}
	b, _ := proto.Marshal(sample)
	value := string(keys.Seal("/bench/raw/00000000", b))

	rawN := min(n, 20000)
	rawPuts := func() float64 {
		r := parallel(rawN, workers, func(i int) error {
			_, err := cli.Put(ctx, fmt.Sprintf("/bench/raw/%08d", i), value)
			return err
		})
		_, err := cli.Delete(ctx, "/bench/", clientv3.WithPrefix())
		check(err)
		return r
	}
	rawBefore := rawPuts()
	// reference: one transaction writing what a desire writes (schedule, run info, one instance)
	ld, _ := proto.Marshal(desired(0))
	bigValue := string(keys.Seal("/bench/txn/00000000/s", ld))
	rawTxn3 := parallel(rawN, workers, func(i int) error {
		k := fmt.Sprintf("/bench/txn/%08d", i)
		_, err := cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(k+"/s"), "=", 0)).Then(
			clientv3.OpPut(k+"/s", bigValue), clientv3.OpPut(k+"/r", bigValue), clientv3.OpPut(k+"/a", value)).Commit()
		return err
	})
	_, err = cli.Delete(ctx, "/bench/", clientv3.WithPrefix())
	check(err)
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}

	desireRate := parallel(n, workers, func(i int) error {
		_, err := store.DesireLRP(ctx, desired(i))
		return err
	})
	ik := func(i int) *models.ActualLRPInstanceKey {
		return &models.ActualLRPInstanceKey{InstanceGuid: fmt.Sprintf("instance-%08d", i), CellId: fmt.Sprintf("cell-%03d", i%cells)}
	}
	claimRate := parallel(n, workers, func(i int) error {
		_, _, err := store.ClaimActualLRP(ctx, processGuid(i), 0, ik(i))
		return err
	})
	startRate := parallel(n, workers, func(i int) error {
		_, _, _, err := store.StartActualLRP(ctx, db.StartRequest{
			Key:         &models.ActualLRPKey{ProcessGuid: processGuid(i), Index: 0, Domain: "cf-apps"},
			InstanceKey: ik(i),
			NetInfo:     &models.ActualLRPNetInfo{Address: "10.0.0.1", Ports: []*models.PortMapping{{ContainerPort: 8080, HostPort: uint32(61000 + i%1000)}}},
		})
		return err
	})

	rawAfter := rawPuts()
	rawRate := (rawBefore + rawAfter) / 2
	var got int
	fetchAll := median(5, func() {
		as, err := store.ActualLRPs(ctx, db.ActualFilter{})
		check(err)
		got = len(as)
	})
	if got != n {
		check(fmt.Errorf("fetched %d actual LRPs, want %d", got, n))
	}
	direct := db.New(cli, keys, db.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	fetchEtcd := median(5, func() {
		as, err := direct.ActualLRPs(ctx, db.ActualFilter{})
		check(err)
		got = len(as)
	})
	if got != n {
		check(fmt.Errorf("fetched %d actual LRPs from etcd, want %d", got, n))
	}
	// what a BBS does when it takes the lock: load the record cache (every instance and schedule
	// record, decoded and indexed) from etcd
	loadCache := median(3, func() {
		lctx, lcancel := context.WithCancel(ctx)
		defer lcancel()
		check(db.New(cli, keys, db.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))).StartCache(lctx))
	})
	perCell := median(21, func() {
		as, err := store.ActualLRPs(ctx, db.ActualFilter{CellID: "cell-007"})
		check(err)
		got = len(as)
	})
	if got != n/cells {
		check(fmt.Errorf("fetched %d actual LRPs of one cell, want %d", got, n/cells))
	}

	present := make([]*models.CellPresence, cells)
	for c := range present {
		present[c] = &models.CellPresence{CellId: fmt.Sprintf("cell-%03d", c)}
	}
	check(store.UpsertDomain(ctx, "cf-apps", 0))
	svc := service.New(service.Config{
		DB:     store,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Cells:  func(context.Context) ([]*models.CellPresence, error) { return present, nil },
	})
	defer svc.Close()
	conv := median(3, func() {
		check(svc.Converge(ctx))
	})
	if convProfile != "" {
		f, err := os.Create(convProfile)
		check(err)
		check(pprof.StartCPUProfile(f))
		for range 10 {
			check(svc.Converge(ctx))
		}
		pprof.StopCPUProfile()
		check(f.Close())
	}

	// a standby's cache, loaded before it takes the lock (cmd/bbs keeps it so): taking the lock
	// costs its catch-up with the last leader's last writes, here 1,000 more desires
	standby := db.New(cli, keys, db.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	sctx, scancel := context.WithCancel(ctx)
	defer scancel()
	check(standby.StartCache(sctx))
	parallel(1000, workers, func(i int) error {
		_, err := store.DesireLRP(ctx, desired(n+i))
		return err
	})
	t := time.Now()
	check(standby.CatchUpCache(ctx))
	catchUp := time.Since(t)

	writeRatio := min(desireRate, claimRate, startRate) / rawRate
	fmt.Printf("| %d | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f%% | %s | %s | %s | %s | %s (%d instances) | %.3f | %s |\n",
		n, rawRate, rawTxn3, desireRate, claimRate, startRate, 100*writeRatio,
		fetchAll.Round(10*time.Microsecond), fetchEtcd.Round(time.Millisecond), loadCache.Round(time.Millisecond),
		catchUp.Round(time.Millisecond), perCell.Round(time.Microsecond), n/cells, perCell.Seconds()/fetchAll.Seconds(), conv.Round(time.Millisecond))
}
