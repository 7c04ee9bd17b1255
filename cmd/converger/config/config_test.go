package config_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/cmd/converger/config"
)

var _ = Describe("Config", func() {
	write := func(v any) string {
		GinkgoHelper()
		b, err := json.Marshal(v)
		Expect(err).NotTo(HaveOccurred())
		p := filepath.Join(GinkgoT().TempDir(), "converger.json")
		Expect(os.WriteFile(p, b, 0o644)).To(Succeed())
		return p
	}
	minimal := func() map[string]any {
		return map[string]any{"health_address": "127.0.0.1:8891", "consul_address": "127.0.0.1:8500", "bbs_url": "https://bbs:8889"}
	}

	It("fills the defaults: a pass every 30 s, upstream's lock timing", func() {
		c, err := config.Load(write(minimal()))
		Expect(err).NotTo(HaveOccurred())
		Expect(c.ConvergenceInterval.D()).To(Equal(30 * time.Second))
		Expect(c.LockTTL.D()).To(Equal(15 * time.Second))
		Expect(c.LockRetryInterval.D()).To(Equal(5 * time.Second))
		Expect(c.LogLevel).To(Equal("info"))
		Expect(c.MetricsAddress).To(BeEmpty())
	})

	It("reads every key", func() {
		m := minimal()
		for k, v := range map[string]any{
			"metrics_address": "127.0.0.1:8892", "lock_ttl": "2s", "lock_retry_interval": "500ms", "log_level": "debug",
			"bbs_ca_file": "ca.crt", "bbs_cert_file": "c.crt", "bbs_key_file": "c.key", "bbs_service_name": "bbs",
			"convergence_interval": "10m",
		} {
			m[k] = v
		}
		c, err := config.Load(write(m))
		Expect(err).NotTo(HaveOccurred())
		Expect(c.ConvergenceInterval.D()).To(Equal(10 * time.Minute))
		Expect(c.BBSServiceName).To(Equal("bbs"))
		Expect(c.BBSCertFile).To(Equal("c.crt"))
		Expect(c.MetricsAddress).To(Equal("127.0.0.1:8892"))
		Expect(c.LockTTL.D()).To(Equal(2 * time.Second))
	})

	It("rejects unknown fields, naming the file and the field", func() {
		m := minimal()
		m["listen_address"] = "0.0.0.0:1"
		p := write(m)
		_, err := config.Load(p)
		Expect(err).To(MatchError(And(ContainSubstring(p), ContainSubstring("listen_address"))))
	})

	It("lists every problem", func() {
		_, err := config.Load(write(map[string]any{
			"health_address": "0.0.0.0:8891", "metrics_address": "nope", "bbs_url": "bbs:8889", "bbs_ca_file": "ca.crt",
			"convergence_interval": "0s", "log_level": "loud", "lock_ttl": "0s",
		}))
		Expect(err).To(HaveOccurred())
		for _, want := range []string{
			`health_address "0.0.0.0:8891" must be a loopback address`, `metrics_address "nope"`, "consul_address is required",
			`bbs_url "bbs:8889" must start with http:// or https://`, "bbs_ca_file, bbs_cert_file and bbs_key_file go together",
			"convergence_interval 0s: must be positive", `log_level "loud"`, "lock_ttl and lock_retry_interval must be positive",
		} {
			Expect(err.Error()).To(ContainSubstring(want))
		}
		_, err = config.Load(write(map[string]any{"consul_address": "127.0.0.1:8500", "bbs_service_name": "bbs"}))
		Expect(err).To(MatchError(ContainSubstring("health_address is required")))
	})
})
