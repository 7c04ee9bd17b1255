package gardenrunc_test

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"code.cloudfoundry.org/garden"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
)

var _ = Describe("containers on runc, through garden's client and server", func() {
	BeforeEach(requireIntegration)

	Describe("Create and Run", func() {
		var c garden.Container
		BeforeEach(func() {
			c = createContainer(garden.ContainerSpec{RootFSPath: "preloaded:busybox", Env: []string{"FROM_CONTAINER=yes"}})
		})

		It("runs a process with args, env, dir and user, and reports its exit status and output", func() {
			r := runIn(c, garden.ProcessSpec{
				Path: "/bin/sh", Args: []string{"-c", `echo "out $FROM_CONTAINER $FROM_PROCESS $(pwd) $(id -u)"; echo err >&2; exit 7`},
				Env: []string{"FROM_PROCESS=also"}, Dir: "/tmp", User: "vcap",
			}, nil)
			Expect(r.code).To(Equal(7))
			Expect(r.stdout).To(Equal("out yes also /tmp 2000\n"))
			Expect(r.stderr).To(Equal("err\n"))
		})

		It("feeds stdin to the process", func() {
			r := runIn(c, garden.ProcessSpec{Path: "/bin/cat"}, strings.NewReader("piped in\n"))
			Expect(r.code).To(Equal(0))
			Expect(r.stdout).To(Equal("piped in\n"))
		})

		It("reports 128+N when a process is killed by signal N", func() {
			for sig, want := range map[garden.Signal]int{garden.SignalKill: 137, garden.SignalTerminate: 143} {
				p, err := c.Run(garden.ProcessSpec{Path: "/bin/sleep", Args: []string{"100"}}, garden.ProcessIO{})
				Expect(err).NotTo(HaveOccurred())
				Expect(p.Signal(sig)).To(Succeed())
				Expect(p.Wait()).To(Equal(want))
			}
		})

		It("lets a client re-attach to a running process and get its output", func() {
			p, err := c.Run(garden.ProcessSpec{ID: "reattach-me", Path: "/bin/sh", Args: []string{"-c", "echo first; read x; echo second $x"}},
				garden.ProcessIO{Stdin: strings.NewReader("")})
			Expect(err).NotTo(HaveOccurred())
			Expect(p.ID()).To(Equal("reattach-me"))
			out := gbytes.NewBuffer()
			p2, err := c.Attach("reattach-me", garden.ProcessIO{Stdout: out})
			Expect(err).NotTo(HaveOccurred())
			Eventually(out).Should(gbytes.Say("first"))
			Expect(p2.Wait()).To(Equal(0))
			Expect(string(out.Contents())).To(Equal("first\nsecond\n"))
			_, err = c.Attach("no-such-process", garden.ProcessIO{})
			Expect(err).To(HaveOccurred())
		})

		It("isolates pid, mount, network, uts and ipc namespaces: no host process is visible", func() {
			for _, ns := range []string{"pid", "mnt", "net", "uts", "ipc"} {
				host, err := os.Readlink("/proc/self/ns/" + ns)
				Expect(err).NotTo(HaveOccurred())
				r := sh(c, "readlink /proc/self/ns/"+ns)
				Expect(r.code).To(Equal(0))
				Expect(strings.TrimSpace(r.stdout)).NotTo(Equal(host), ns)
			}
			r := sh(c, "ls /proc | grep -E '^[0-9]+$' | sort -n | tr '\\n' ' '")
			pids := strings.Fields(r.stdout)
			Expect(pids).To(ContainElement("1"))
			Expect(len(pids)).To(BeNumerically("<", 10), r.stdout)
			Expect(pids).NotTo(ContainElement(strconv.Itoa(os.Getpid())))
			Expect(sh(c, "hostname").stdout).To(Equal(c.Handle() + "\n"))
			Expect(sh(c, "touch /proc/sysrq-trigger 2>&1; echo x > /sys/kernel/uevent_helper 2>&1 || echo denied").stdout).To(ContainSubstring("denied"))
		})

		It("gives every container its own copy-on-write root", func() {
			Expect(sh(c, "echo mine > /bin/new-file && cat /bin/new-file").stdout).To(Equal("mine\n"))
			Expect(filepath.Join(rootfsDir, "bin", "new-file")).NotTo(BeAnExistingFile())
			other := createContainer(garden.ContainerSpec{RootFSPath: "preloaded:busybox"})
			Expect(sh(other, "cat /bin/new-file").code).NotTo(Equal(0))
		})

		It("streams a tar in and the same bytes out", func() {
			content := strings.Repeat("some bytes\x00\xff", 1000)
			Expect(c.StreamIn(garden.StreamInSpec{Path: "/tmp/in", TarStream: tarOf(map[string]string{"a.txt": content, "b/c.txt": "c"})})).To(Succeed())
			Expect(sh(c, "cat /tmp/in/b/c.txt").stdout).To(Equal("c"))
			out, err := c.StreamOut(garden.StreamOutSpec{Path: "/tmp/in/a.txt"})
			Expect(err).NotTo(HaveOccurred())
			files, err := readTar(out)
			out.Close()
			Expect(err).NotTo(HaveOccurred())
			Expect(files).To(HaveKeyWithValue("a.txt", content))

			out, err = c.StreamOut(garden.StreamOutSpec{Path: "/tmp/in/"})
			Expect(err).NotTo(HaveOccurred())
			files, err = readTar(out)
			out.Close()
			Expect(err).NotTo(HaveOccurred())
			Expect(files).To(Equal(map[string]string{"a.txt": content, "b/c.txt": "c"}))

			Expect(c.StreamIn(garden.StreamInSpec{Path: "/home/vcap/app", User: "vcap", TarStream: tarOf(map[string]string{"owned": "by vcap"})})).To(Succeed())
			Expect(sh(c, "stat -c %u /home/vcap/app/owned").stdout).To(Equal("2000\n"))
			Expect(c.StreamIn(garden.StreamInSpec{Path: "/root/denied", User: "vcap", TarStream: tarOf(map[string]string{"x": "y"})})).NotTo(Succeed())
			_, err = c.StreamOut(garden.StreamOutSpec{Path: "/nonexistent"})
			if err == nil {
				// the error surfaces while reading
				r, _ := c.StreamOut(garden.StreamOutSpec{Path: "/nonexistent"})
				_, err = readTar(r)
			}
			Expect(err).To(HaveOccurred())
		})

		It("keeps properties, filters containers by them and reports Info", func() {
			Expect(c.SetProperty("owner", "spec")).To(Succeed())
			Expect(c.Property("owner")).To(Equal("spec"))
			list, err := srv.client.Containers(garden.Properties{"owner": "spec"})
			Expect(err).NotTo(HaveOccurred())
			Expect(list).To(HaveLen(1))
			Expect(list[0].Handle()).To(Equal(c.Handle()))
			Expect(c.RemoveProperty("owner")).To(Succeed())
			_, err = c.Property("owner")
			Expect(err).To(HaveOccurred())
			info, err := c.Info()
			Expect(err).NotTo(HaveOccurred())
			Expect(info.State).To(Equal("active"))
			Expect(info.ContainerIP).To(HavePrefix("10.253."))
			Expect(info.HostIP).To(HaveSuffix(".1"))
			Expect(info.ExternalIP).To(Equal(srv.externalIP))
			bulk, err := srv.client.BulkInfo([]string{c.Handle(), "nope"})
			Expect(err).NotTo(HaveOccurred())
			Expect(bulk[c.Handle()].Info.ContainerIP).To(Equal(info.ContainerIP))
			Expect(bulk["nope"].Err).NotTo(BeNil())
		})
	})

	Describe("Destroy", func() {
		It("leaves nothing of the container on the host, and a second Destroy says not found", func() {
			c, err := srv.client.Create(garden.ContainerSpec{
				RootFSPath: "preloaded:busybox",
				Limits:     garden.Limits{Disk: garden.DiskLimits{ByteHard: 32 << 20}},
			})
			Expect(err).NotTo(HaveOccurred())
			h := c.Handle()
			_, err = c.Run(garden.ProcessSpec{Path: "/bin/sleep", Args: []string{"1000"}}, garden.ProcessIO{})
			Expect(err).NotTo(HaveOccurred())
			_, _, err = c.NetIn(0, 8080)
			Expect(err).NotTo(HaveOccurred())
			info, err := c.Info()
			Expect(err).NotTo(HaveOccurred())
			Expect(srv.client.Destroy(h)).To(Succeed())
			expectNothingLeft(h, info.ContainerIP)
			Expect(srv.client.Destroy(h)).To(BeAssignableToTypeOf(garden.ContainerNotFoundError{}))
		})

		It("leaves nothing behind after creating and destroying 50 containers", func() {
			type made struct{ handle, ip string }
			var all []made
			DeferCleanup(func() {
				for _, m := range all {
					srv.client.Destroy(m.handle)
				}
			})
			for i := 0; i < 50; i++ {
				c, err := srv.client.Create(garden.ContainerSpec{RootFSPath: "preloaded:busybox"})
				Expect(err).NotTo(HaveOccurred())
				info, _ := c.Info()
				all = append(all, made{c.Handle(), info.ContainerIP})
				Expect(srv.client.Destroy(c.Handle())).To(Succeed())
			}
			for _, m := range all {
				expectNothingLeft(m.handle, m.ip)
			}
		})
	})
})

// expectNothingLeft checks every kind of host state a container creates.
func expectNothingLeft(handle, ip string) {
	GinkgoHelper()
	Expect(filepath.Join(srv.depot, handle)).NotTo(BeAnExistingFile())
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	Expect(string(mounts)).NotTo(ContainSubstring(handle))
	Expect(hostCgroups().Left(srv.cgParent, handle)).To(BeEmpty())
	Expect(hostOutput("runc", "--root", filepath.Join(workDir, "runc"), "list")).NotTo(ContainSubstring(handle))
	hex := ipHex(ip)
	// the kernel removes the veth pair with the network namespace, in the background
	Eventually(func() string { return hostOutput("ip", "link") }, 2*time.Second, 10*time.Millisecond).ShouldNot(ContainSubstring("dg" + hex))
	Expect(hostOutput("iptables", "-w", "-t", "nat", "-S")).NotTo(ContainSubstring(hex))
	Expect(hostOutput("iptables", "-w", "-S")).NotTo(ContainSubstring(hex))
	Expect(hostOutput("losetup", "-a")).NotTo(ContainSubstring(handle))
	var procs []string
	for _, l := range strings.Split(hostOutput("ps", "-eo", "pid,ppid,stat,args"), "\n") {
		if strings.Contains(l, handle) {
			procs = append(procs, l)
		}
	}
	Expect(procs).To(BeEmpty())
}

func ipHex(ip string) string {
	var a, b, c, d int
	fmt.Sscanf(ip, "%d.%d.%d.%d", &a, &b, &c, &d)
	return fmt.Sprintf("%02x%02x%02x%02x", a, b, c, d)
}

var _ = Describe("terminals", func() {
	BeforeEach(requireIntegration)

	It("runs a process on a TTY of the asked size and resizes it", func() {
		c := createContainer(garden.ContainerSpec{})
		stdinR, stdinW := io.Pipe()
		out := gbytes.NewBuffer()
		p, err := c.Run(garden.ProcessSpec{Path: "/bin/sh", Args: []string{"-c", "test -t 0 && test -t 1 && echo on-a-tty; stty size; read x; stty size; echo err >&2"},
			TTY: &garden.TTYSpec{WindowSize: &garden.WindowSize{Columns: 80, Rows: 24}}}, garden.ProcessIO{Stdin: stdinR, Stdout: out})
		Expect(err).NotTo(HaveOccurred())
		Eventually(out, 10*time.Second).Should(gbytes.Say("on-a-tty"))
		Eventually(out).Should(gbytes.Say("24 80"))
		Expect(p.SetTTY(garden.TTYSpec{WindowSize: &garden.WindowSize{Columns: 120, Rows: 40}})).To(Succeed())
		stdinW.Write([]byte("go\n"))
		Eventually(out).Should(gbytes.Say("40 120"))
		Eventually(out).Should(gbytes.Say("err"), "stderr goes to the terminal too")
		Expect(p.Wait()).To(Equal(0))
		stdinW.Close()
	})

	It("ends a terminal process's input even when the last line has no newline", func() {
		c := createContainer(garden.ContainerSpec{})
		out := gbytes.NewBuffer()
		p, err := c.Run(garden.ProcessSpec{Path: "/bin/cat", TTY: &garden.TTYSpec{}},
			garden.ProcessIO{Stdin: strings.NewReader("no newline"), Stdout: out})
		Expect(err).NotTo(HaveOccurred())
		code := make(chan int, 1)
		go func() { c, _ := p.Wait(); code <- c }()
		Eventually(code, 10*time.Second).Should(Receive(Equal(0)))
		Expect(string(out.Contents())).To(ContainSubstring("no newline"))
	})
})

var _ = Describe("grace time", func() {
	BeforeEach(requireIntegration)

	It("destroys a container nobody uses for its grace time", func() {
		c, err := srv.client.Create(garden.ContainerSpec{GraceTime: time.Second})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { srv.client.Destroy(c.Handle()) })
		info, _ := c.Info()
		Eventually(func() error { _, err := srv.client.Lookup(c.Handle()); return err }, 10*time.Second, 200*time.Millisecond).Should(HaveOccurred())
		expectNothingLeft(c.Handle(), info.ContainerIP)
	})
})

var _ = Describe("processes started by the container's init", func() {
	BeforeEach(requireIntegration)

	It("are children of the init and get rlimits (through the exec helper)", func() {
		c := createContainer(garden.ContainerSpec{})
		Expect(sh(c, "echo ppid=$PPID").stdout).To(ContainSubstring("ppid=1\n"))
		n := uint64(123)
		r := runIn(c, garden.ProcessSpec{Path: "/bin/sh", Args: []string{"-c", "ulimit -n; echo ppid=$PPID"},
			Limits: garden.ResourceLimits{Nofile: &n}}, nil)
		Expect(r.code).To(Equal(0), r.stderr)
		Expect(r.stdout).To(Equal("123\nppid=1\n"))
		// the socket is outside the container's root, and host root's alone
		Expect(sh(c, "ls -a /").stdout).NotTo(ContainSubstring("init.sock"))
		fi, err := os.Stat(filepath.Join(containerPath(c), "init.sock"))
		Expect(err).NotTo(HaveOccurred())
		Expect(fi.Mode().Perm()).To(Equal(os.FileMode(0600)))
	})

	It("survive the container's root signalling the init: it drops every signal", func() {
		c := createContainer(garden.ContainerSpec{})
		for _, sig := range []string{"USR1", "ABRT", "TERM", "HUP", "SEGV", "ALRM"} {
			Expect(sh(c, "kill -"+sig+" 1; sleep 0.1; echo alive").stdout).To(Equal("alive\n"), sig)
		}
		info, err := c.Info()
		Expect(err).NotTo(HaveOccurred())
		Expect(info.State).To(Equal("active"))
	})
})

var _ = Describe("a process whose executable is missing", func() {
	BeforeEach(requireIntegration)

	It("is refused by Run naming it, looked up as exec does: in the process's $PATH, from its dir, through links and mounts", func() {
		assets := GinkgoT().TempDir()
		Expect(os.WriteFile(filepath.Join(assets, "hello"), []byte("#!/bin/sh\necho hello from the mount\n"), 0755)).To(Succeed())
		Expect(os.Chmod(assets, 0755)).To(Succeed())
		c := createContainer(garden.ContainerSpec{BindMounts: []garden.BindMount{{SrcPath: assets, DstPath: "/tmp/assets"}}})
		run := func(spec garden.ProcessSpec) error {
			_, err := c.Run(spec, garden.ProcessIO{})
			return err
		}
		Expect(run(garden.ProcessSpec{Path: "/no/such/command"})).To(MatchError(
			`exec "/no/such/command" in the container: file does not exist`))
		Expect(run(garden.ProcessSpec{Path: "nosuchcommand", Env: []string{"PATH=/bin:/usr/bin"}})).To(MatchError(
			`exec "nosuchcommand" in the container: executable file not found in $PATH`))
		Expect(run(garden.ProcessSpec{Path: "./sh", Dir: "/etc"})).To(MatchError(
			`exec "./sh" in the container: file does not exist`))
		Expect(run(garden.ProcessSpec{Path: "/etc/passwd"})).To(MatchError(`exec "/etc/passwd" in the container: not an executable file`))
		Expect(run(garden.ProcessSpec{Path: "/tmp/assets/nope"})).To(MatchError(`exec "/tmp/assets/nope" in the container: file does not exist`))

		Expect(sh(c, "ln -s /tmp/assets/hello /bin/linked").code).To(Equal(0))
		for _, spec := range []garden.ProcessSpec{
			{Path: "/tmp/assets/hello"},
			{Path: "hello", Env: []string{"PATH=/nowhere:/tmp/assets"}},
			{Path: "./hello", Dir: "/tmp/assets"},
			{Path: "linked"},
		} {
			r := runIn(c, spec, nil)
			Expect(r.code).To(Equal(0), r.stderr)
			Expect(r.stdout).To(Equal("hello from the mount\n"), spec.Path)
		}
		r := runIn(c, garden.ProcessSpec{Path: "sh", Args: []string{"-c", "echo found"}}, nil)
		Expect(r.stdout).To(Equal("found\n"), "the default $PATH")
	})
})

var _ = Describe("capabilities", func() {
	BeforeEach(requireIntegration)

	capEff := func(c garden.Container, user string) uint64 {
		r := runIn(c, garden.ProcessSpec{Path: "/bin/sh", Args: []string{"-c", "grep CapEff /proc/self/status | cut -f2"}, User: user}, nil)
		Expect(r.code).To(Equal(0), r.stderr)
		var v uint64
		fmt.Sscanf(strings.TrimSpace(r.stdout), "%x", &v)
		return v
	}
	const sysAdmin, sysResource, chown = 1 << 21, 1 << 24, 1 << 0

	It("gives unprivileged root the default set, non-root users none, and privileged containers more but never CAP_SYS_RESOURCE", func() {
		c := createContainer(garden.ContainerSpec{})
		Expect(capEff(c, "root") & chown).NotTo(BeZero())
		Expect(capEff(c, "root") & sysAdmin).To(BeZero())
		Expect(capEff(c, "vcap")).To(BeZero())
		Expect(sh(c, "mount -t tmpfs none /mnt 2>&1 || echo refused").stdout).To(ContainSubstring("refused"))

		p := createContainer(garden.ContainerSpec{Privileged: true})
		Expect(capEff(p, "root") & sysAdmin).NotTo(BeZero())
		Expect(capEff(p, "root") & sysResource).To(BeZero())
	})
})

var _ = Describe("concurrency and recovery", func() {
	BeforeEach(requireIntegration)

	It("creates, runs in and destroys 8 containers concurrently with distinct addresses", func() {
		type made struct{ handle, ip string }
		results := make(chan made, 8)
		errs := make(chan error, 8)
		for i := 0; i < 8; i++ {
			go func() {
				defer GinkgoRecover()
				c, err := srv.client.Create(garden.ContainerSpec{})
				if err != nil {
					errs <- err
					return
				}
				info, _ := c.Info()
				r := sh(c, "hostname")
				if r.stdout != c.Handle()+"\n" {
					errs <- fmt.Errorf("hostname %q", r.stdout)
				}
				results <- made{c.Handle(), info.ContainerIP}
				errs <- srv.client.Destroy(c.Handle())
			}()
		}
		ips := map[string]bool{}
		for i := 0; i < 8; i++ {
			Expect(<-errs).NotTo(HaveOccurred())
		}
		close(results)
		for m := range results {
			Expect(ips).NotTo(HaveKey(m.ip))
			ips[m.ip] = true
			expectNothingLeft(m.handle, m.ip)
		}
	})

	It("destroys, on restart, a container whose init died while the server was down", func() {
		c, err := srv.client.Create(garden.ContainerSpec{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { srv.client.Destroy(c.Handle()) })
		info, err := c.Info()
		Expect(err).NotTo(HaveOccurred())
		state, err := os.ReadFile(filepath.Join(srv.depot, c.Handle(), "state.json"))
		Expect(err).NotTo(HaveOccurred())
		var st struct {
			InitPid int `json:"init_pid"`
		}
		Expect(json.Unmarshal(state, &st)).To(Succeed())

		srv.kill9()
		Expect(syscall.Kill(st.InitPid, syscall.SIGKILL)).To(Succeed())
		time.Sleep(500 * time.Millisecond)
		srv.start(gardenBin)

		_, err = srv.client.Lookup(c.Handle())
		Expect(err).To(HaveOccurred())
		expectNothingLeft(c.Handle(), info.ContainerIP)
	})
})

var _ = Describe("bind mounts", func() {
	BeforeEach(requireIntegration)

	It("mounts host directories read-only or read-write", func() {
		ro, rw := GinkgoT().TempDir(), GinkgoT().TempDir()
		Expect(os.WriteFile(filepath.Join(ro, "lifecycle"), []byte("from the host"), 0644)).To(Succeed())
		// the container's root is a host id of the user namespace's range, not host root: it reads
		// what others may read and writes what it owns
		Expect(os.Chmod(ro, 0755)).To(Succeed())
		Expect(os.Chown(rw, usernsHostID, usernsHostID)).To(Succeed())
		c := createContainer(garden.ContainerSpec{BindMounts: []garden.BindMount{
			{SrcPath: ro, DstPath: "/tmp/lifecycle"},
			{SrcPath: rw, DstPath: "/tmp/shared", Mode: garden.BindMountModeRW},
		}})
		Expect(sh(c, "cat /tmp/lifecycle/lifecycle").stdout).To(Equal("from the host"))
		Expect(sh(c, "touch /tmp/lifecycle/x 2>&1 || echo read-only").stdout).To(ContainSubstring("read-only"))
		Expect(sh(c, "echo written > /tmp/shared/out").code).To(Equal(0))
		Expect(os.ReadFile(filepath.Join(rw, "out"))).To(Equal([]byte("written\n")))
	})
})

var _ = Describe("output of long-running processes", func() {
	BeforeEach(requireIntegration)

	It("forwards all of it but keeps only the recent part on disk", func() {
		c := createContainer(garden.ContainerSpec{})
		out := new(countingWriter)
		p, err := c.Run(garden.ProcessSpec{ID: "chatty", Path: "/bin/sh", Args: []string{"-c", "head -c 8000000 /dev/zero | tr '\\0' x; sleep 1"}},
			garden.ProcessIO{Stdout: out})
		Expect(err).NotTo(HaveOccurred())
		Eventually(out.count, 20*time.Second).Should(BeNumerically("==", 8000000))
		var st syscall.Stat_t
		Expect(syscall.Stat(filepath.Join(srv.depot, c.Handle(), "processes", "chatty", "stdout"), &st)).To(Succeed())
		Expect(st.Size).To(BeEquivalentTo(8000000))
		Expect(st.Blocks*512).To(BeNumerically("<", 3<<20), "forwarded output is trimmed from the file")
		Expect(p.Wait()).To(Equal(0))
		// a later attach gets what is left, starting at the first byte still on disk
		again := new(countingWriter)
		p2, err := c.Attach("chatty", garden.ProcessIO{Stdout: again})
		Expect(err).NotTo(HaveOccurred())
		Expect(p2.Wait()).To(Equal(0))
		Expect(again.count()).To(BeNumerically(">", 0))
		Expect(again.count()).To(BeNumerically("<", 3<<20))
	})
})

type countingWriter struct {
	mu sync.Mutex
	n  int
	nz bool
}

func (w *countingWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n += len(b)
	for _, c := range b {
		if c != 'x' {
			w.nz = true
		}
	}
	return len(b), nil
}

func (w *countingWriter) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.nz {
		return -1 // something other than the process's output (a punched hole) was forwarded
	}
	return w.n
}
