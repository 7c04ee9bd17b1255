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

// sample is a daemon's config: the shared groups embedded, one field of its own. Its Validate
// wants the advertise_url that Load's finish derives from listen_address.
type sample struct {
	daemonconfig.Listeners
	daemonconfig.ServerTLS
	daemonconfig.Consul
	daemonconfig.Lock
	daemonconfig.Logging
	Timeout daemonconfig.Duration `json:"timeout"`
}

func (s sample) Validate() error {
	var p daemonconfig.Problems
	s.Listeners.Check(&p)
	s.ServerTLS.Check(&p)
	s.Consul.Check(&p)
	s.Lock.Check(&p)
	s.Logging.Check(&p)
	p.Require("advertise_url", s.AdvertiseURL)
	return p.Err()
}

var _ = Describe("daemonconfig", func() {
	write := func(text string) string {
		GinkgoHelper()
		p := filepath.Join(GinkgoT().TempDir(), "daemon.json")
		Expect(os.WriteFile(p, []byte(text), 0o644)).To(Succeed())
		return p
	}

	defaults := sample{Lock: daemonconfig.DefaultLock(), Logging: daemonconfig.DefaultLogging()}
	const valid = `"health_address": "127.0.0.1:2", "ca_file": "ca", "cert_file": "c", "key_file": "k", "consul_address": "127.0.0.1:8500"`

	It("decodes a flat file over the defaults, durations as strings or nanoseconds, finishes it, then validates it", func() {
		l, err := daemonconfig.Load(write(`{"listen_address": "0.0.0.0:1", "lock_ttl": "2s", "timeout": 250000000, `+valid+`}`),
			defaults, (*sample).DefaultAdvertiseURL)
		Expect(err).NotTo(HaveOccurred())
		Expect(l.ListenAddress).To(Equal("0.0.0.0:1"))
		Expect(l.LockTTL.D()).To(Equal(2 * time.Second))
		Expect(l.LockRetryInterval.D()).To(Equal(5 * time.Second))
		Expect(l.Timeout.D()).To(Equal(250 * time.Millisecond))
		Expect(l.LogLevel).To(Equal("info"))
		Expect(l.AdvertiseURL).To(Equal("https://0.0.0.0:1"))

		b, err := json.Marshal(l)
		Expect(err).NotTo(HaveOccurred())
		var flat map[string]any
		Expect(json.Unmarshal(b, &flat)).To(Succeed())
		Expect(flat).To(HaveKeyWithValue("lock_ttl", "2s"))
		Expect(flat).To(HaveKeyWithValue("consul_address", "127.0.0.1:8500"))
	})

	It("refuses unknown fields, bad durations and invalid values, naming the file and returning no config", func() {
		p := write(`{"listen_adress": "x"}`)
		l, err := daemonconfig.Load(p, defaults)
		Expect(err).To(MatchError(And(ContainSubstring("config "+p+": "), ContainSubstring("listen_adress"))))
		Expect(l).To(BeZero())
		_, err = daemonconfig.Load(write(`{"lock_ttl": "fifteen"}`), defaults)
		Expect(err).To(HaveOccurred())
		_, err = daemonconfig.Load(write(`{"lock_ttl": true}`), defaults)
		Expect(err).To(MatchError(ContainSubstring(`must be a string like "15s"`)))

		// Without the finish, advertise_url stays empty and Validate says so.
		p = write(`{"listen_address": "0.0.0.0:1", "log_level": "loud", ` + valid + `}`)
		l, err = daemonconfig.Load(p, defaults)
		Expect(err).To(MatchError(And(ContainSubstring("config "+p+": "), ContainSubstring("advertise_url"), ContainSubstring("log_level"))))
		Expect(l).To(BeZero())

		missing := filepath.Join(GinkgoT().TempDir(), "none.json")
		_, err = daemonconfig.Load(missing, defaults)
		Expect(err).To(MatchError(ContainSubstring(missing)))
	})

	It("lists every problem of the shared groups", func() {
		err := sample{
			Listeners: daemonconfig.Listeners{HealthAddress: "0.0.0.0:1", MetricsAddress: "nope"},
			Logging:   daemonconfig.Logging{LogLevel: "loud"},
		}.Validate()
		for _, want := range []string{
			"listen_address is required", "ca_file is required", "cert_file is required", "key_file is required",
			"consul_address is required", `health_address "0.0.0.0:1" must be a loopback address`, `metrics_address "nope"`,
			"lock_ttl and lock_retry_interval must be positive", `log_level "loud"`, "advertise_url is required",
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
			ok.Listeners = daemonconfig.Listeners{ListenAddress: "0.0.0.0:2", AdvertiseURL: "https://0.0.0.0:2", HealthAddress: h}
			Expect(ok.Validate()).To(Succeed(), h)
		}
		for _, h := range []string{"10.0.0.1:1", "127.example.com:1", "127.0.0.1", "[::]:1"} {
			ok.Listeners = daemonconfig.Listeners{ListenAddress: "0.0.0.0:2", AdvertiseURL: "https://0.0.0.0:2", HealthAddress: h}
			Expect(ok.Validate()).To(MatchError(ContainSubstring("health_address")), h)
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
