package config_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/cmd/route-emitter/config"
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
		p := filepath.Join(GinkgoT().TempDir(), "route-emitter.json")
		Expect(os.WriteFile(p, b, 0o644)).To(Succeed())
		return p
	}
	minimal := func() map[string]any {
		return map[string]any{
			"consul_address": "127.0.0.1:8500", "bbs_url": "https://bbs:8889",
			"nats_urls": []string{"nats://127.0.0.1:4222"},
		}
	}

	It("fills upstream's defaults", func() {
		c, err := config.Load(write(minimal()))
		Expect(err).NotTo(HaveOccurred())
		Expect(c.HealthAddress).To(Equal("127.0.0.1:17011"))
		Expect(c.MetricsAddress).To(BeEmpty())
		Expect(c.LockTTL.D()).To(Equal(15 * time.Second))
		Expect(c.LockRetryInterval.D()).To(Equal(5 * time.Second))
		Expect(c.SyncInterval.D()).To(Equal(60 * time.Second))
		Expect(c.RegisterInterval.D()).To(Equal(20 * time.Second))
		Expect(c.LogLevel).To(Equal("info"))
	})

	It("reads every key", func() {
		m := minimal()
		m["health_address"] = "127.0.0.1:1"
		m["metrics_address"] = "127.0.0.1:2"
		m["nats_urls"] = []string{"nats://a:4222", "nats://b:4222"}
		m["sync_interval"] = "5s"
		m["register_interval"] = "1s"
		m["bbs_service_name"] = "bbs"
		c, err := config.Load(write(m))
		Expect(err).NotTo(HaveOccurred())
		Expect(c.NATSURLs).To(Equal([]string{"nats://a:4222", "nats://b:4222"}))
		Expect(c.SyncInterval.D()).To(Equal(5 * time.Second))
		Expect(c.RegisterInterval.D()).To(Equal(time.Second))
		Expect(c.BBSServiceName).To(Equal("bbs"))
		Expect(c.MetricsAddress).To(Equal("127.0.0.1:2"))
	})

	It("names every problem at once", func() {
		_, err := config.Load(write(map[string]any{
			"health_address": "0.0.0.0:1", "nats_urls": []string{"http://x"},
			"sync_interval": "0s", "register_interval": "-1s", "bbs_ca_file": "ca.crt",
		}))
		Expect(err).To(MatchError(And(
			ContainSubstring("health_address \"0.0.0.0:1\" must be a loopback address"),
			ContainSubstring("consul_address is required"),
			ContainSubstring("bbs_url is required"),
			ContainSubstring("bbs_ca_file, bbs_cert_file and bbs_key_file go together"),
			ContainSubstring(`nats_urls: "http://x" is not a URL like nats://host:port`),
			ContainSubstring("sync_interval 0s: must be positive"),
			ContainSubstring("register_interval -1s: must be positive"),
		)))
	})

	It("requires NATS, saying why", func() {
		m := minimal()
		delete(m, "nats_urls")
		_, err := config.Load(write(m))
		Expect(err).To(MatchError(ContainSubstring("nats_urls is required (the routers' register and unregister messages go there)")))
	})

	It("refuses unknown keys, naming the file", func() {
		m := minimal()
		m["listen_address"] = "0.0.0.0:1"
		p := write(m)
		_, err := config.Load(p)
		Expect(err).To(MatchError(And(ContainSubstring(p), ContainSubstring(`unknown field "listen_address"`))))
	})
})
