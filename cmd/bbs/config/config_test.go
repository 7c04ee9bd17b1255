package config_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/cmd/bbs/config"
	"github.com/diego-go/diego/models"
)

var _ = Describe("Config's crash_restart_policy", func() {
	load := func(policy any) (config.Config, error) {
		GinkgoHelper()
		m := map[string]any{
			"ca_file": "ca.crt", "cert_file": "s.crt", "key_file": "s.key",
			"etcd_endpoints": []string{"http://127.0.0.1:2379"}, "consul_address": "127.0.0.1:8500",
			"encryption_keys": map[string]string{"k1": "p"}, "active_key_label": "k1",
		}
		if policy != nil {
			m["crash_restart_policy"] = policy
		}
		b, err := json.Marshal(m)
		Expect(err).NotTo(HaveOccurred())
		p := filepath.Join(GinkgoT().TempDir(), "bbs.json")
		Expect(os.WriteFile(p, b, 0o644)).To(Succeed())
		return config.Load(p)
	}

	It("is upstream's hard-coded policy by default", func() {
		c, err := load(nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(c.CrashRestartPolicy.Policy()).To(Equal(models.DefaultRestartPolicy()))
	})

	It("takes the keys a file sets over the defaults", func() {
		c, err := load(map[string]any{"immediate_restarts": 1, "min_backoff": "500ms", "max_backoff": "2s"})
		Expect(err).NotTo(HaveOccurred())
		Expect(c.CrashRestartPolicy.Policy()).To(Equal(models.RestartPolicy{
			ImmediateRestarts: 1, MinBackoff: 500 * time.Millisecond, MaxBackoff: 2 * time.Second,
			MaxRestarts: 200, CrashResetAfter: 5 * time.Minute,
		}))
	})

	It("refuses a policy that cannot be followed, naming each problem, and unknown keys", func() {
		_, err := load(map[string]any{"immediate_restarts": 5, "max_restarts": 4, "min_backoff": "0s", "crash_reset_after": "-1s"})
		Expect(err).To(MatchError(And(
			ContainSubstring("immediate_restarts (5) <= max_restarts (4)"),
			ContainSubstring("0 < min_backoff (0s) <= max_backoff (16m0s)"),
			ContainSubstring("crash_reset_after must be positive, not -1s"),
		)))
		_, err = load(map[string]any{"max_backof": "1s"})
		Expect(err).To(MatchError(ContainSubstring(`unknown field "max_backof"`)))
	})
})
