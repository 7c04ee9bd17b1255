package config_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/cmd/auctioneer/config"
)

var _ = Describe("Config", func() {
	write := func(v any) string {
		GinkgoHelper()
		var b []byte
		if s, ok := v.(string); ok {
			b = []byte(s)
		} else {
			var err error
			b, err = json.Marshal(v)
			Expect(err).NotTo(HaveOccurred())
		}
		p := filepath.Join(GinkgoT().TempDir(), "auctioneer.json")
		Expect(os.WriteFile(p, b, 0o644)).To(Succeed())
		return p
	}
	minimal := func() map[string]any {
		return map[string]any{
			"ca_file": "ca.crt", "cert_file": "s.crt", "key_file": "s.key",
			"consul_address": "127.0.0.1:8500", "bbs_url": "https://bbs:8889",
		}
	}

	It("fills upstream's defaults", func() {
		c, err := config.Load(write(minimal()))
		Expect(err).NotTo(HaveOccurred())
		Expect(c.ListenAddress).To(Equal("0.0.0.0:9016"))
		Expect(c.AdvertiseURL).To(Equal("https://0.0.0.0:9016"))
		Expect(c.HealthAddress).To(Equal("127.0.0.1:9017"))
		Expect(c.LockTTL.D()).To(Equal(15 * time.Second))
		Expect(c.LockRetryInterval.D()).To(Equal(5 * time.Second))
		Expect(c.CellStateTimeout.D()).To(Equal(time.Second))
		Expect(c.RepWorkTimeout.D()).To(Equal(10 * time.Second))
		Expect(c.StartingContainerWeight).To(Equal(0.25))
		Expect(c.MaxRounds).To(Equal(3))
		Expect(c.ServiceName).To(Equal("auctioneer"))
		Expect(c.LogLevel).To(Equal("info"))
	})

	It("reads durations as strings", func() {
		m := minimal()
		m["lock_ttl"] = "2s"
		m["cell_state_timeout"] = "250ms"
		c, err := config.Load(write(m))
		Expect(err).NotTo(HaveOccurred())
		Expect(c.LockTTL.D()).To(Equal(2 * time.Second))
		Expect(c.CellStateTimeout.D()).To(Equal(250 * time.Millisecond))
		b, err := json.Marshal(c.LockTTL)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(b)).To(Equal(`"2s"`))
	})

	It("rejects unknown fields and bad JSON, naming the file", func() {
		m := minimal()
		m["listen_adress"] = "x"
		p := write(m)
		_, err := config.Load(p)
		Expect(err).To(MatchError(And(ContainSubstring(p), ContainSubstring("listen_adress"))))
		_, err = config.Load(write(`{"lock_ttl": "fifteen"}`))
		Expect(err).To(HaveOccurred())
	})

	It("needs bbs_url unless the BBS is found through bbs_service_name", func() {
		m := minimal()
		delete(m, "bbs_url")
		_, err := config.Load(write(m))
		Expect(err).To(MatchError(ContainSubstring("bbs_url is required")))
		m["bbs_service_name"] = "bbs"
		c, err := config.Load(write(m))
		Expect(err).NotTo(HaveOccurred())
		Expect(c.BBSServiceName).To(Equal("bbs"))
	})

	It("lists every problem", func() {
		_, err := config.Load(write(map[string]any{
			"health_address": "0.0.0.0:9017", "bbs_url": "bbs:8889", "max_rounds": 0,
			"rep_ca_file": "ca.crt", "log_level": "loud", "cell_state_timeout": "0s", "requeue_delay": "-1s",
			"bin_pack_first_fit_weight": -0.5,
		}))
		Expect(err).To(HaveOccurred())
		for _, want := range []string{
			"ca_file is required", "cert_file is required", "key_file is required", "consul_address is required",
			`health_address "0.0.0.0:9017" must be a loopback address`, `bbs_url "bbs:8889" must start with http:// or https://`,
			"max_rounds 0", "rep_ca_file, rep_cert_file and rep_key_file go together", `log_level "loud"`,
			"cell_state_timeout 0s: must be positive", "requeue_delay -1s: must be positive",
			"bin_pack_first_fit_weight -0.5: must not be negative",
		} {
			Expect(err.Error()).To(ContainSubstring(want))
		}
		Expect(err.Error()).NotTo(ContainSubstring("rep_work_timeout"), "names only the broken fields")
		Expect(err.Error()).NotTo(ContainSubstring("starting_container_weight"), "names only the broken fields")
	})
})
