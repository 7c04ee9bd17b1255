package daemonconfig_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/internal/daemonconfig"
)

// sample is a daemon's config: the shared groups embedded, one field of its own.
type sample struct {
	daemonconfig.Listeners
	daemonconfig.ServerTLS
	daemonconfig.Consul
	daemonconfig.Lock
	daemonconfig.Logging
	Timeout daemonconfig.Duration `json:"timeout"`
}

func (s sample) validate() error {
	var p daemonconfig.Problems
	s.Listeners.Check(&p)
	s.ServerTLS.Check(&p)
	s.Consul.Check(&p)
	s.Lock.Check(&p)
	s.Logging.Check(&p)
	return p.Err()
}

var _ = Describe("daemonconfig", func() {
	write := func(text string) string {
		GinkgoHelper()
		p := filepath.Join(GinkgoT().TempDir(), "daemon.json")
		Expect(os.WriteFile(p, []byte(text), 0o644)).To(Succeed())
		return p
	}

	It("decodes a flat file over the defaults, durations as strings or nanoseconds", func() {
		s := sample{Lock: daemonconfig.DefaultLock(), Logging: daemonconfig.DefaultLogging()}
		Expect(daemonconfig.DecodeFile(write(`{"listen_address": "0.0.0.0:1", "lock_ttl": "2s", "timeout": 250000000}`), &s)).To(Succeed())
		Expect(s.ListenAddress).To(Equal("0.0.0.0:1"))
		Expect(s.LockTTL.D()).To(Equal(2 * time.Second))
		Expect(s.LockRetryInterval.D()).To(Equal(5 * time.Second))
		Expect(s.Timeout.D()).To(Equal(250 * time.Millisecond))
		Expect(s.LogLevel).To(Equal("info"))

		s.DefaultAdvertiseURL()
		Expect(s.AdvertiseURL).To(Equal("https://0.0.0.0:1"))

		b, err := json.Marshal(s)
		Expect(err).NotTo(HaveOccurred())
		var flat map[string]any
		Expect(json.Unmarshal(b, &flat)).To(Succeed())
		Expect(flat).To(HaveKeyWithValue("lock_ttl", "2s"))
		Expect(flat).To(HaveKeyWithValue("consul_address", ""))
	})

	It("refuses unknown fields and bad durations, naming the file", func() {
		var s sample
		p := write(`{"listen_adress": "x"}`)
		Expect(daemonconfig.DecodeFile(p, &s)).To(MatchError(And(ContainSubstring(p), ContainSubstring("listen_adress"))))
		Expect(daemonconfig.DecodeFile(write(`{"lock_ttl": "fifteen"}`), &s)).To(HaveOccurred())
		Expect(daemonconfig.DecodeFile(write(`{"lock_ttl": true}`), &s)).To(MatchError(ContainSubstring(`must be a string like "15s"`)))
	})

	It("lists every problem of the shared groups", func() {
		err := sample{
			Listeners: daemonconfig.Listeners{HealthAddress: "0.0.0.0:1", MetricsAddress: "nope"},
			Logging:   daemonconfig.Logging{LogLevel: "loud"},
		}.validate()
		for _, want := range []string{
			"listen_address is required", "ca_file is required", "cert_file is required", "key_file is required",
			"consul_address is required", `health_address "0.0.0.0:1" must be a loopback address`, `metrics_address "nope"`,
			"lock_ttl and lock_retry_interval must be positive", `log_level "loud"`,
		} {
			Expect(err).To(MatchError(ContainSubstring(want)))
		}
	})

	It("takes loopback health addresses in every spelling, and nothing else", func() {
		ok := sample{
			ServerTLS: daemonconfig.ServerTLS{CAFile: "ca", CertFile: "c", KeyFile: "k"},
			Consul:    daemonconfig.Consul{ConsulAddress: "127.0.0.1:8500"},
			Lock:      daemonconfig.DefaultLock(), Logging: daemonconfig.DefaultLogging(),
		}
		for _, h := range []string{"127.0.0.1:1", "127.1.2.3:1", "localhost:1", "[::1]:1"} {
			ok.Listeners = daemonconfig.Listeners{ListenAddress: "0.0.0.0:2", HealthAddress: h}
			Expect(ok.validate()).To(Succeed(), h)
		}
		for _, h := range []string{"10.0.0.1:1", "127.example.com:1", "127.0.0.1", "[::]:1"} {
			ok.Listeners = daemonconfig.Listeners{ListenAddress: "0.0.0.0:2", HealthAddress: h}
			Expect(ok.validate()).To(MatchError(ContainSubstring("health_address")), h)
		}
	})

	It("wants optional TLS files all together or not at all", func() {
		for _, files := range [][3]string{{"", "", ""}, {"a", "b", "c"}} {
			var p daemonconfig.Problems
			p.TLSFiles("rep", files[0], files[1], files[2])
			Expect(p.Err()).To(Succeed())
		}
		var p daemonconfig.Problems
		p.TLSFiles("rep", "ca", "", "key")
		Expect(p.Err()).To(MatchError("rep_ca_file, rep_cert_file and rep_key_file go together"))
	})

	It("wants a BBS URL unless a service name finds the BBS, http(s) only, TLS files together", func() {
		check := func(b daemonconfig.BBS) error {
			var p daemonconfig.Problems
			b.Check(&p)
			return p.Err()
		}
		Expect(check(daemonconfig.BBS{BBSURL: "https://bbs:8889"})).To(Succeed())
		Expect(check(daemonconfig.BBS{BBSServiceName: "bbs"})).To(Succeed())
		err := check(daemonconfig.BBS{BBSCAFile: "ca"})
		Expect(err).To(MatchError(ContainSubstring("bbs_url is required")))
		Expect(err).To(MatchError(ContainSubstring("bbs_ca_file, bbs_cert_file and bbs_key_file go together")))
		Expect(check(daemonconfig.BBS{BBSURL: "bbs:8889"})).To(MatchError(`bbs_url "bbs:8889" must start with http:// or https://`))
	})
})
