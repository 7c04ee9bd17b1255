package gardenrunc_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"code.cloudfoundry.org/garden"
	"code.cloudfoundry.org/garden/client"
	"code.cloudfoundry.org/garden/client/connection"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/diego-go/diego/gardenrunc"
)

// BenchmarkCreateRunDestroy compares, in one run and interleaved, create + run(/bin/true) +
// destroy through garden's client and server against a bare `runc run` of the same rootfs with
// the same namespaces (a user namespace included). It reports both latencies and their ratio
// (garden/bare). BENCH_PRIVILEGED=1 creates privileged containers (no user namespace) and runs
// the bare bundle without one, to see what user namespaces cost.
//
//	go test ./gardenrunc -run '^$' -bench CreateRunDestroy -benchtime 30x
func BenchmarkCreateRunDestroy(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		b.Skip("runc is not installed")
	}
	privileged := os.Getenv("BENCH_PRIVILEGED") != ""
	dir := b.TempDir()
	// the depot is in it: containers' roots (user namespaces) must be able to search it and the
	// directory testing made it in
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0711); err != nil {
			b.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "garden")
	build := exec.Command("go", "build", "-o", bin, "github.com/diego-go/diego/cmd/garden")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build: %v: %s", err, out)
	}
	build = exec.Command("go", "build", "-o", filepath.Join(dir, "garden-init"), "github.com/diego-go/diego/cmd/garden/garden-init")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build: %v: %s", err, out)
	}
	rootfs := filepath.Join(dir, "rootfs")
	if err := makeBusyboxRootFS(rootfs); err != nil {
		b.Fatal(err)
	}
	socket := filepath.Join(dir, "garden.sock")
	bridge := fmt.Sprintf("dgbench%d", os.Getpid()%10000)
	pool := fmt.Sprintf("10.252.%d.0/24", os.Getpid()%250)
	cfg := map[string]any{
		"listen_network": "unix", "listen_address": socket, "log_level": os.Getenv("BENCH_LOG_LEVEL"),
		"depot_dir": filepath.Join(dir, "depot"), "runc_root": filepath.Join(dir, "runc"),
		"image_cache_dir": filepath.Join(dir, "images"), "preloaded_rootfs": map[string]string{"busybox": rootfs},
		"cgroup_parent": fmt.Sprintf("diego-garden-bench-%d", os.Getpid()), "bridge_name": bridge,
		"network_pool": pool, "ip_forward": false, "chain_prefix": fmt.Sprintf("dgb%d", os.Getpid()%100000),
	}
	if cfg["log_level"] == "" {
		cfg["log_level"] = "error"
	}
	data, _ := json.Marshal(cfg)
	os.WriteFile(filepath.Join(dir, "garden.json"), data, 0600)
	server := exec.Command(bin, "-config", filepath.Join(dir, "garden.json"))
	if f := os.Getenv("BENCH_SERVER_LOG"); f != "" {
		logf, _ := os.Create(f)
		server.Stderr = logf
	}
	if err := server.Start(); err != nil {
		b.Fatal(err)
	}
	gc := client.New(connection.New("unix", socket))
	defer func() {
		server.Process.Signal(os.Interrupt)
		server.Wait()
		exec.Command("ip", "link", "del", bridge).Run()
		prefix := cfg["chain_prefix"].(string)
		exec.Command("iptables", "-w", "-t", "nat", "-D", prefix+"-postrouting", "-s", pool, "!", "-d", pool, "-j", "MASQUERADE").Run()
		gardenrunc.RemoveSharedChainsIfUnused(prefix)
		if cgroups, err := gardenrunc.HostCgroups(); err == nil {
			cgroups.RemoveParent(cfg["cgroup_parent"].(string))
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for gc.Ping() != nil {
		if time.Now().After(deadline) {
			b.Fatal("garden server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// the bare runc bundle: same rootfs (read-only, as it is shared), same namespaces, /bin/true
	bundle := filepath.Join(dir, "bare")
	os.MkdirAll(bundle, 0700)
	userns := uint32(gardenrunc.DefaultUserNSHostID)
	if privileged {
		userns = 0
	}
	spec, err := gardenrunc.BuildSpec(gardenrunc.BundleParams{Handle: "bare", RootFS: rootfs, InitBin: bin,
		CgroupsPath: fmt.Sprintf("/diego-garden-bench-%d/bare", os.Getpid()), UserNSHostID: userns})
	if err != nil {
		b.Fatal(err)
	}
	spec.Process.Args = []string{"/bin/true"}
	spec.Root.Readonly = true
	spec.Mounts = spec.Mounts[:len(spec.Mounts)-1] // no init bind mount
	writeBundle(b, bundle, spec)
	bareRoot := filepath.Join(dir, "bare-runc")

	var createTotal, runTotal, destroyTotal time.Duration
	gardenOnce := func() {
		t := time.Now()
		c, err := gc.Create(garden.ContainerSpec{RootFSPath: "preloaded:busybox", Privileged: privileged})
		if err != nil {
			b.Fatal(err)
		}
		created := time.Now()
		p, err := c.Run(garden.ProcessSpec{Path: "/bin/true"}, garden.ProcessIO{})
		if err != nil {
			b.Fatal(err)
		}
		if code, err := p.Wait(); err != nil || code != 0 {
			b.Fatalf("exit %d %v", code, err)
		}
		exited := time.Now()
		if err := gc.Destroy(c.Handle()); err != nil {
			b.Fatal(err)
		}
		createTotal += created.Sub(t)
		runTotal += exited.Sub(created)
		destroyTotal += time.Since(exited)
	}
	bareOnce := func(i int) {
		cmd := exec.Command("runc", "--root", bareRoot, "run", "--bundle", bundle, fmt.Sprintf("bare-%d", i))
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("runc run: %v: %s", err, out)
		}
	}
	gardenOnce() // warm up both paths
	bareOnce(-1)
	createTotal, runTotal, destroyTotal = 0, 0, 0
	var gardenTotal, bareTotal time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t := time.Now()
		gardenOnce()
		gardenTotal += time.Since(t)
		t = time.Now()
		bareOnce(i)
		bareTotal += time.Since(t)
	}
	b.StopTimer()
	g := float64(gardenTotal.Milliseconds()) / float64(b.N)
	r := float64(bareTotal.Milliseconds()) / float64(b.N)
	b.ReportMetric(g, "garden-ms/op")
	b.ReportMetric(r, "bare-runc-ms/op")
	b.ReportMetric(g/r, "ratio")
	perOp := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
	b.ReportMetric(perOp(createTotal), "create-ms/op")
	b.ReportMetric(perOp(runTotal), "run-wait-ms/op")
	b.ReportMetric(perOp(destroyTotal), "destroy-ms/op")
}

func writeBundle(b *testing.B, dir string, s *specs.Spec) {
	data, err := json.Marshal(s)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0600); err != nil {
		b.Fatal(err)
	}
}
