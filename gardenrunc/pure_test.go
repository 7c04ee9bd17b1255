package gardenrunc_test

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"

	"code.cloudfoundry.org/garden"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/gardenrunc"
)

// Specs of the parts that decide without I/O; they run everywhere, also without root.
var _ = Describe("pure parts", func() {
	Describe("BuildSpec", func() {
		params := func() gardenrunc.BundleParams {
			return gardenrunc.BundleParams{Handle: "h1", RootFS: "/depot/h1/rootfs", InitBin: "/usr/bin/garden", CgroupsPath: "/diego-garden/h1"}
		}

		It("gives unprivileged containers their own namespaces, the default caps and the init binary", func() {
			s, err := gardenrunc.BuildSpec(params())
			Expect(err).NotTo(HaveOccurred())
			var ns []string
			for _, n := range s.Linux.Namespaces {
				ns = append(ns, string(n.Type))
			}
			Expect(ns).To(ConsistOf("pid", "network", "ipc", "uts", "mount"))
			Expect(s.Process.Args).To(Equal([]string{gardenrunc.InitPathInContainer, "init"}))
			Expect(s.Process.Capabilities.Bounding).To(ContainElement("CAP_CHOWN"))
			Expect(s.Process.Capabilities.Bounding).NotTo(ContainElement("CAP_SYS_ADMIN"))
			Expect(s.Process.NoNewPrivileges).To(BeTrue())
			Expect(s.Linux.MaskedPaths).To(ContainElement("/proc/kcore"))
			Expect(s.Linux.CgroupsPath).To(Equal("/diego-garden/h1"))
			Expect(s.Hostname).To(Equal("h1"))
			Expect(s.Mounts).To(ContainElement(HaveField("Destination", gardenrunc.InitPathInContainer)))
		})

		It("never grants CAP_SYS_RESOURCE, even to privileged containers", func() {
			Expect(gardenrunc.PrivilegedCaps(^uint64(0) >> 23)).NotTo(ContainElement("CAP_SYS_RESOURCE"))
			Expect(gardenrunc.PrivilegedCaps(^uint64(0) >> 23)).To(ContainElement("CAP_SYS_ADMIN"))
			p := params()
			p.Privileged = true
			p.HostCaps = []string{"CAP_SYS_ADMIN", "CAP_SYS_RESOURCE"}
			_, err := gardenrunc.BuildSpec(p)
			Expect(err).To(MatchError(ContainSubstring("CAP_SYS_RESOURCE")))
		})

		It("maps bind mounts, and refuses container-origin sources not resolved to host paths", func() {
			p := params()
			p.BindMounts = []garden.BindMount{
				{SrcPath: "/host/dir", DstPath: "/in/ro"},
				{SrcPath: "/depot/h1/rootfs/etc", DstPath: "/in/rw", Mode: garden.BindMountModeRW},
			}
			s, err := gardenrunc.BuildSpec(p)
			Expect(err).NotTo(HaveOccurred())
			Expect(s.Mounts).To(ContainElement(And(HaveField("Source", "/host/dir"), HaveField("Options", []string{"bind", "ro"}))))
			Expect(s.Mounts).To(ContainElement(And(HaveField("Source", "/depot/h1/rootfs/etc"), HaveField("Options", []string{"bind", "rw"}))))
			p.BindMounts = []garden.BindMount{{SrcPath: "relative", DstPath: "/x"}}
			_, err = gardenrunc.BuildSpec(p)
			Expect(err).To(HaveOccurred())
			p.BindMounts = []garden.BindMount{{SrcPath: "/etc", DstPath: "/x", Origin: garden.BindMountOriginContainer}}
			_, err = gardenrunc.BuildSpec(p)
			Expect(err).To(MatchError(ContainSubstring("not resolved to a host path")))
		})
	})

	Describe("BuildProcess", func() {
		It("merges container and process env, defaults PATH, HOME and dir, and drops caps for non-root users", func() {
			p, err := gardenrunc.BuildProcess(gardenrunc.ProcessParams{
				Spec:         garden.ProcessSpec{Path: "ls", Args: []string{"-l"}, Env: []string{"A=process", "B=2"}, User: "vcap"},
				ContainerEnv: []string{"A=container", "C=3"}, UID: 2000, GID: 2000, Home: "/home/vcap",
			})
			Expect(err).NotTo(HaveOccurred())
			Expect(p.Args).To(Equal([]string{"ls", "-l"}))
			Expect(p.Env).To(Equal([]string{"A=process", "C=3", "B=2", gardenrunc.DefaultPath, "HOME=/home/vcap", "USER=vcap"}))
			Expect(p.Cwd).To(Equal("/home/vcap"))
			Expect(p.User.UID).To(BeEquivalentTo(2000))
			Expect(p.Capabilities.Effective).To(BeEmpty())
			Expect(p.Capabilities.Bounding).NotTo(BeEmpty())
		})

		It("passes rlimits and TTY size, and refuses an empty path", func() {
			n := uint64(1024)
			p, err := gardenrunc.BuildProcess(gardenrunc.ProcessParams{Spec: garden.ProcessSpec{Path: "/bin/sh",
				Limits: garden.ResourceLimits{Nofile: &n}, TTY: &garden.TTYSpec{WindowSize: &garden.WindowSize{Columns: 80, Rows: 24}}}})
			Expect(err).NotTo(HaveOccurred())
			Expect(p.Rlimits).To(HaveLen(1))
			Expect(p.Rlimits[0].Type).To(Equal("RLIMIT_NOFILE"))
			Expect(p.Terminal).To(BeTrue())
			Expect(p.ConsoleSize.Width).To(BeEquivalentTo(80))
			Expect(p.Capabilities.Effective).To(ContainElement("CAP_CHOWN"), "root keeps the container's caps")
			_, err = gardenrunc.BuildProcess(gardenrunc.ProcessParams{})
			Expect(err).To(HaveOccurred())
		})
	})

	Describe("users", func() {
		passwd := "root:x:0:0:root:/root:/bin/sh\nvcap:x:2000:3000::/home/vcap:/bin/sh\nbroken\n"
		It("resolves names and uids from /etc/passwd", func() {
			Expect(gardenrunc.ParsePasswd(strings.NewReader(passwd), "vcap")).To(Equal(gardenrunc.UserInfo{UID: 2000, GID: 3000, Home: "/home/vcap"}))
			Expect(gardenrunc.ParsePasswd(strings.NewReader(passwd), "2000")).To(Equal(gardenrunc.UserInfo{UID: 2000, GID: 3000, Home: "/home/vcap"}))
			Expect(gardenrunc.ParsePasswd(strings.NewReader(passwd), "")).To(Equal(gardenrunc.UserInfo{UID: 0, GID: 0, Home: "/root"}))
			Expect(gardenrunc.ParsePasswd(strings.NewReader(passwd), "4242")).To(Equal(gardenrunc.UserInfo{UID: 4242, GID: 4242, Home: "/"}))
			Expect(gardenrunc.ParsePasswd(nil, "root")).To(Equal(gardenrunc.UserInfo{Home: "/root"}))
			_, err := gardenrunc.ParsePasswd(strings.NewReader(passwd), "nobody-here")
			Expect(err).To(HaveOccurred())
		})
	})

	Describe("address and port pools", func() {
		It("hands out the lowest free container address after the gateway and reuses released ones", func() {
			p, err := gardenrunc.NewIPPool("10.9.0.0/29")
			Expect(err).NotTo(HaveOccurred())
			Expect(p.Gateway().String()).To(Equal("10.9.0.1"))
			Expect(p.Capacity()).To(Equal(5))
			var got []string
			for i := 0; i < 5; i++ {
				ip, err := p.Acquire()
				Expect(err).NotTo(HaveOccurred())
				got = append(got, ip.String())
			}
			Expect(got).To(Equal([]string{"10.9.0.2", "10.9.0.3", "10.9.0.4", "10.9.0.5", "10.9.0.6"}))
			_, err = p.Acquire()
			Expect(err).To(HaveOccurred())
			p.Release(net.ParseIP("10.9.0.4"))
			ip, err := p.Acquire()
			Expect(err).NotTo(HaveOccurred())
			Expect(ip.String()).To(Equal("10.9.0.4"))
			Expect(p.Reserve(net.ParseIP("10.9.0.4"))).NotTo(Succeed())
			Expect(p.Reserve(net.ParseIP("10.10.0.4"))).NotTo(Succeed())
			_, err = gardenrunc.NewIPPool("fd00::/64")
			Expect(err).To(HaveOccurred())
		})

		It("cycles host ports through the range and refuses duplicates", func() {
			p, err := gardenrunc.NewPortPool(100, 103)
			Expect(err).NotTo(HaveOccurred())
			a, _ := p.Acquire()
			b, _ := p.Acquire()
			Expect([]uint32{a, b}).To(Equal([]uint32{100, 101}))
			p.Release(100)
			c, _ := p.Acquire()
			Expect(c).To(BeEquivalentTo(102), "recently freed ports are reused last")
			d, _ := p.Acquire()
			Expect(d).To(BeEquivalentTo(100))
			_, err = p.Acquire()
			Expect(err).To(HaveOccurred())
			Expect(p.Reserve(5000)).To(Succeed())
			Expect(p.Reserve(5000)).NotTo(Succeed())
		})
	})

	Describe("NetOutRuleArgs", func() {
		It("translates protocol, networks, ports, ICMP and logging into iptables rules", func() {
			code := garden.ICMPCode(0)
			Expect(gardenrunc.NetOutRuleArgs(garden.NetOutRule{})).To(Equal([][]string{{"-p", "all", "-j", "ACCEPT"}}))
			Expect(gardenrunc.NetOutRuleArgs(garden.NetOutRule{
				Protocol: garden.ProtocolTCP,
				Networks: []garden.IPRange{{Start: net.ParseIP("10.0.0.1"), End: net.ParseIP("10.0.0.9")}, garden.IPRangeFromIP(net.ParseIP("8.8.8.8"))},
				Ports:    []garden.PortRange{{Start: 80, End: 80}, {Start: 8000, End: 8080}},
			})).To(Equal([][]string{
				{"-p", "tcp", "-m", "iprange", "--dst-range", "10.0.0.1-10.0.0.9", "--dport", "80", "-j", "ACCEPT"},
				{"-p", "tcp", "-m", "iprange", "--dst-range", "10.0.0.1-10.0.0.9", "--dport", "8000:8080", "-j", "ACCEPT"},
				{"-p", "tcp", "-d", "8.8.8.8/32", "--dport", "80", "-j", "ACCEPT"},
				{"-p", "tcp", "-d", "8.8.8.8/32", "--dport", "8000:8080", "-j", "ACCEPT"},
			}))
			Expect(gardenrunc.NetOutRuleArgs(garden.NetOutRule{Protocol: garden.ProtocolICMP, ICMPs: &garden.ICMPControl{Type: 8, Code: &code}, Log: true})).To(Equal([][]string{
				{"-p", "icmp", "--icmp-type", "8/0", "-j", "LOG", "--log-prefix", "diego-garden "},
				{"-p", "icmp", "--icmp-type", "8/0", "-j", "ACCEPT"},
			}))
		})
	})

	Describe("rootfs and image helpers", func() {
		It("builds overlay options top layer first and refuses unsafe paths", func() {
			Expect(gardenrunc.OverlayOptions([]string{"/l/top", "/l/base"}, "/c/upper", "/c/work")).
				To(Equal("lowerdir=/l/top:/l/base,upperdir=/c/upper,workdir=/c/work,volatile"))
			_, err := gardenrunc.OverlayOptions([]string{"/l/a:b"}, "/u", "/w")
			Expect(err).To(HaveOccurred())
			_, err = gardenrunc.OverlayOptions(nil, "/u", "/w")
			Expect(err).To(HaveOccurred())
		})

		It("parses docker:// URIs", func() {
			for uri, want := range map[string][2]string{
				"docker:///busybox":                    {"busybox:latest", ""},
				"docker:///cloudfoundry/grace#v1":      {"cloudfoundry/grace:v1", ""},
				"docker://127.0.0.1:5000/diego/app#v2": {"127.0.0.1:5000/diego/app:v2", "127.0.0.1:5000"},
				"docker:///app#sha256:abc":             {"app@sha256:abc", ""},
			} {
				ref, host, err := gardenrunc.ParseDockerURI(uri)
				Expect(err).NotTo(HaveOccurred(), uri)
				Expect([2]string{ref, host}).To(Equal(want), uri)
			}
			_, _, err := gardenrunc.ParseDockerURI("docker://")
			Expect(err).To(HaveOccurred())
			_, _, err = gardenrunc.ParseDockerURI("preloaded:x")
			Expect(err).To(HaveOccurred())
		})

		It("refuses layer entries that would escape through a planted symlink", func() {
			if os.Geteuid() != 0 {
				Skip("unpacking keeps ownership, which needs root")
			}
			buf := new(bytes.Buffer)
			tw := newTarWriter(buf)
			tw.tw.WriteHeader(tarSymlink("evil", "/"))
			tw.add("evil/etc/owned", "x")
			tw.close()
			dir := GinkgoT().TempDir()
			Expect(gardenrunc.UnpackLayer(buf, dir)).To(MatchError(ContainSubstring("symlink")))
			Expect(filepath.Join("/etc", "owned")).NotTo(BeAnExistingFile())
		})
	})

	Describe("MemoryStatFrom", func() {
		It("reports usage toward the limit without inactive file cache", func() {
			m := gardenrunc.MemoryStatFrom(map[string]uint64{"total_inactive_file": 100, "rss": 7}, 1000)
			Expect(m.TotalUsageTowardLimit).To(BeEquivalentTo(900))
			Expect(m.Rss).To(BeEquivalentTo(7))
		})
	})
})
