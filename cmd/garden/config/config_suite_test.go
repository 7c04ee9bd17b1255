package config_test

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/cmd/garden/config"
)

func TestConfig(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Garden Config Suite")
}

var _ = Describe("Config", func() {
	write := func(content string) string {
		p := filepath.Join(GinkgoT().TempDir(), "garden.json")
		Expect(os.WriteFile(p, []byte(content), 0600)).To(Succeed())
		return p
	}

	It("has valid defaults", func() {
		Expect(config.Default().Validate()).To(Succeed())
		Expect(config.Default().BridgeName).To(Equal("diego-garden0"))
	})

	It("reads a file over the defaults, with durations as strings", func() {
		c, err := config.Load(write(`{"listen_network":"tcp","listen_address":"127.0.0.1:7777","default_grace_time":"5m",
			"preloaded_rootfs":{"cflinuxfs4":"/var/vcap/rootfs"},"max_containers":250,"health_address":"127.0.0.1:7778"}`))
		Expect(err).NotTo(HaveOccurred())
		Expect(c.ListenNetwork).To(Equal("tcp"))
		Expect(time.Duration(c.DefaultGraceTime)).To(Equal(5 * time.Minute))
		Expect(c.PreloadedRootFS).To(HaveKeyWithValue("cflinuxfs4", "/var/vcap/rootfs"))
		Expect(c.MaxContainers).To(BeEquivalentTo(250))
		Expect(c.DepotDir).To(Equal(config.Default().DepotDir))
		Expect(c.LogLevel).To(Equal("info"))
		Expect(c.HealthAddress).To(Equal("127.0.0.1:7778"))
		Expect(c.MetricsAddress).To(BeEmpty())

		c, err = config.Load(write(`{"default_grace_time":300000000000}`))
		Expect(err).NotTo(HaveOccurred())
		Expect(c.DefaultGraceTime.D()).To(Equal(5 * time.Minute))
	})

	It("refuses unknown fields and reports every invalid value", func() {
		_, err := config.Load(write(`{"listen_adress":"/x"}`))
		Expect(err).To(MatchError(ContainSubstring("unknown field")))
		Expect(err.Error()).To(ContainSubstring("garden.json"))
		_, err = config.Load(write(`{"listen_network":"udp","log_level":"loud","depot_dir":"rel","network_pool":"10.0.0.0/31",
			"bridge_name":"a-very-long-bridge-name","port_range_start":9,"port_range_end":5,
			"preloaded_rootfs":{"bad name":"rel"},"external_ip":"nope","cgroup_parent":"a/b","mtu":100,"chain_prefix":"far-too-long-a-prefix",
			"health_address":"0.0.0.0:1","metrics_address":"nope"}`))
		Expect(err).To(HaveOccurred())
		for _, msg := range []string{"listen_network", "log_level", "depot_dir", "network_pool", "bridge_name",
			"port range", "preloaded_rootfs name", "must be an absolute path", "external_ip", "cgroup_parent", "mtu", "chain_prefix",
			"health_address \"0.0.0.0:1\" must be a loopback address", "metrics_address"} {
			Expect(err.Error()).To(ContainSubstring(msg))
		}
	})

	It("maps unprivileged containers' ids to host ids from userns_host_id, a high range by default", func() {
		Expect(config.Default().UserNSHostID).To(BeEquivalentTo(1879048192))
		c, err := config.Load(write(`{"userns_host_id":2000000000}`))
		Expect(err).NotTo(HaveOccurred())
		Expect(c.UserNSHostID).To(BeEquivalentTo(2000000000))
		for _, bad := range []string{"0", "1000", "4294901759"} {
			_, err = config.Load(write(`{"userns_host_id":` + bad + `}`))
			Expect(err).To(MatchError(ContainSubstring("userns_host_id " + bad + " must be between 65536 and 4294901758")))
		}
	})

	It("listens on TCP beyond loopback only with mutual TLS, and on a unix socket of root and socket_group", func() {
		for _, addr := range []string{"0.0.0.0:7777", ":7777", "10.0.0.5:7777"} {
			_, err := config.Load(write(`{"listen_network":"tcp","listen_address":"` + addr + `"}`))
			Expect(err).To(MatchError(ContainSubstring(`listen_address "` + addr + `" is not a loopback address: TCP beyond loopback needs ca_file, cert_file and key_file`)))
		}
		for _, addr := range []string{"127.0.0.1:7777", "localhost:7777", "[::1]:7777"} {
			_, err := config.Load(write(`{"listen_network":"tcp","listen_address":"` + addr + `"}`))
			Expect(err).NotTo(HaveOccurred())
		}
		c, err := config.Load(write(`{"listen_network":"tcp","listen_address":"0.0.0.0:7777","ca_file":"/ca","cert_file":"/c","key_file":"/k"}`))
		Expect(err).NotTo(HaveOccurred())
		Expect(c.TLS()).To(BeTrue())
		_, err = config.Load(write(`{"listen_network":"tcp","listen_address":"127.0.0.1:7777","ca_file":"/ca"}`))
		Expect(err).To(MatchError(ContainSubstring("ca_file, cert_file and key_file go together")))
		_, err = config.Load(write(`{"ca_file":"/ca","cert_file":"/c","key_file":"/k"}`))
		Expect(err).To(MatchError(ContainSubstring("ca_file, cert_file and key_file are for listen_network tcp")))

		Expect(config.Default().SocketGroup).To(Equal("root"))
		Expect(config.Default().SocketGID()).To(Equal(0))
		c, err = config.Load(write(`{"socket_group":"daemon"}`))
		Expect(err).NotTo(HaveOccurred())
		daemon, err := user.LookupGroup("daemon")
		Expect(err).NotTo(HaveOccurred())
		Expect(c.SocketGID()).To(Equal(must(strconv.Atoi(daemon.Gid))))
		c, err = config.Load(write(`{"socket_group":"4242"}`))
		Expect(err).NotTo(HaveOccurred())
		Expect(c.SocketGID()).To(Equal(4242))
		_, err = config.Load(write(`{"socket_group":"no-such-group-here"}`))
		Expect(err).To(MatchError(ContainSubstring(`socket_group "no-such-group-here" is not a group of this host`)))
	})

	It("denies containers the host's own services by default", func() {
		Expect(config.Default().AllowHostAccess).To(BeFalse())
		c, err := config.Load(write(`{"allow_host_access":true}`))
		Expect(err).NotTo(HaveOccurred())
		Expect(c.AllowHostAccess).To(BeTrue())
	})

	It("serves metrics only beside health", func() {
		_, err := config.Load(write(`{"metrics_address":"127.0.0.1:7779"}`))
		Expect(err).To(MatchError(ContainSubstring("metrics_address needs health_address")))
	})

	It("takes external_ip as IPv4 only, as NetIn matches it as a /32", func() {
		c, err := config.Load(write(`{"external_ip":"10.0.0.5"}`))
		Expect(err).NotTo(HaveOccurred())
		Expect(c.ExternalIP).To(Equal("10.0.0.5"))
		for _, ip := range []string{"2001:db8::1", "::ffff:10.0.0.5", "nope"} {
			_, err := config.Load(write(`{"external_ip":"` + ip + `"}`))
			Expect(err).To(MatchError(ContainSubstring(`external_ip must be an IPv4 address, not "` + ip + `"`)))
		}
	})

	It("fails on a missing file", func() {
		_, err := config.Load("/nonexistent/garden.json")
		Expect(err).To(HaveOccurred())
	})
})

func must(n int, err error) int {
	Expect(err).NotTo(HaveOccurred())
	return n
}
