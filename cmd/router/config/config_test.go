package config_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/cmd/router/config"
	"github.com/diego-go/diego/internal/daemonconfig"
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
		p := filepath.Join(GinkgoT().TempDir(), "router.json")
		Expect(os.WriteFile(p, b, 0o644)).To(Succeed())
		return p
	}
	minimal := func() map[string]any {
		return map[string]any{"nats_urls": []string{"nats://127.0.0.1:4222"}}
	}

	It("fills the defaults", func() {
		c, err := config.Load(write(minimal()))
		Expect(err).NotTo(HaveOccurred())
		Expect(c).To(Equal(config.Config{
			ListenAddress:              "0.0.0.0:8081",
			HealthAddress:              "127.0.0.1:8082",
			Logging:                    c.Logging,
			NATS:                       c.NATS,
			RegisterInterval:           daemonconfig.Duration(20 * time.Second),
			PruneThreshold:             daemonconfig.Duration(120 * time.Second),
			PruneInterval:              daemonconfig.Duration(30 * time.Second),
			StartResponseDelayInterval: daemonconfig.Duration(5 * time.Second),
			EndpointDialTimeout:        daemonconfig.Duration(5 * time.Second),
			EndpointTimeout:            daemonconfig.Duration(900 * time.Second),
			FailedEndpointBackoff:      daemonconfig.Duration(30 * time.Second),
			MaxAttempts:                3,
			RouteServices:              "refuse",
			RouteServicesTimeout:       daemonconfig.Duration(60 * time.Second),
		}))
		Expect(c.LogLevel).To(Equal("info"))
		Expect(c.NATSURLs).To(Equal([]string{"nats://127.0.0.1:4222"}))
		Expect(c.AccessLogPath).To(BeEmpty())
		Expect(c.MetricsAddress).To(BeEmpty())
	})

	It("reads every key", func() {
		c, err := config.Load(write(map[string]any{
			"listen_address": "127.0.0.1:80", "health_address": "localhost:81", "metrics_address": "127.0.0.1:82",
			"log_level": "debug", "nats_urls": []string{"nats://a:4222", "nats://b:4222"}, "access_log_path": "-",
			"register_interval": "5s", "prune_threshold": "15s", "prune_interval": "1s",
			"endpoint_dial_timeout": "250ms", "endpoint_timeout": "1m", "failed_endpoint_backoff": "0s", "max_attempts": 5,
			"route_services": "forward", "route_services_secret": "s3cret", "route_services_timeout": "5s",
			"start_response_delay_interval": "2s", "announce_host": "10.0.0.5",
		}))
		Expect(err).NotTo(HaveOccurred())
		Expect(c.ListenAddress).To(Equal("127.0.0.1:80"))
		Expect(c.HealthAddress).To(Equal("localhost:81"))
		Expect(c.MetricsAddress).To(Equal("127.0.0.1:82"))
		Expect(c.LogLevel).To(Equal("debug"))
		Expect(c.NATSURLs).To(Equal([]string{"nats://a:4222", "nats://b:4222"}))
		Expect(c.AccessLogPath).To(Equal("-"))
		Expect(c.RegisterInterval.D()).To(Equal(5 * time.Second))
		Expect(c.PruneThreshold.D()).To(Equal(15 * time.Second))
		Expect(c.PruneInterval.D()).To(Equal(time.Second))
		Expect(c.EndpointDialTimeout.D()).To(Equal(250 * time.Millisecond))
		Expect(c.EndpointTimeout.D()).To(Equal(time.Minute))
		Expect(c.FailedEndpointBackoff.D()).To(BeZero())
		Expect(c.MaxAttempts).To(Equal(5))
		Expect(c.RouteServices).To(Equal("forward"))
		Expect(c.RouteServicesSecret).To(Equal("s3cret"))
		Expect(c.RouteServicesTimeout.D()).To(Equal(5 * time.Second))
		Expect(c.StartResponseDelayInterval.D()).To(Equal(2 * time.Second))
		Expect(c.AnnounceHost).To(Equal("10.0.0.5"))
	})

	It("rejects unknown fields and bad JSON, naming the file", func() {
		m := minimal()
		m["prune_treshold"] = "1s"
		p := write(m)
		_, err := config.Load(p)
		Expect(err).To(MatchError(And(ContainSubstring(p), ContainSubstring("prune_treshold"))))
		_, err = config.Load(write(`{"prune_interval": "often"}`))
		Expect(err).To(HaveOccurred())
	})

	It("needs nats_urls", func() {
		_, err := config.Load(write(map[string]any{}))
		Expect(err).To(MatchError(ContainSubstring("nats_urls is required")))
	})

	It("refuses a register interval not shorter than the prune threshold", func() {
		m := minimal()
		m["register_interval"] = "30s"
		m["prune_threshold"] = "30s"
		_, err := config.Load(write(m))
		Expect(err).To(MatchError(ContainSubstring("register_interval 30s must be shorter than prune_threshold 30s")))
	})

	It("refuses a start response delay longer than the prune threshold", func() {
		m := minimal()
		m["start_response_delay_interval"] = "31s"
		m["prune_threshold"] = "30s"
		_, err := config.Load(write(m))
		Expect(err).To(MatchError(ContainSubstring("start_response_delay_interval 31s must not exceed prune_threshold 30s")))
	})

	It("lists every problem", func() {
		_, err := config.Load(write(map[string]any{
			"listen_address": "", "health_address": "0.0.0.0:8082", "metrics_address": "nowhere",
			"log_level": "loud", "nats_urls": []string{"http://127.0.0.1:4222"},
			"register_interval": "1500ms", "prune_interval": "0s", "endpoint_dial_timeout": "-1s",
			"endpoint_timeout": "0s", "failed_endpoint_backoff": "-1s", "max_attempts": 0, "route_services": "ignore", "route_services_timeout": "0s",
			"start_response_delay_interval": "-1s", "announce_host": "0.0.0.0",
		}))
		Expect(err).To(HaveOccurred())
		for _, want := range []string{
			"listen_address is required", `health_address "0.0.0.0:8082" must be a loopback address`,
			`metrics_address "nowhere"`, `log_level "loud"`, `nats_urls: "http://127.0.0.1:4222" is not a URL like nats://host:port`,
			"register_interval 1.5s: must be whole seconds", "prune_interval 0s: must be positive",
			"endpoint_dial_timeout -1s: must be positive", "endpoint_timeout 0s: must be positive",
			"failed_endpoint_backoff -1s: must not be negative", "max_attempts 0: must be at least 1", `route_services "ignore": want forward or refuse`, "route_services_timeout 0s: must be positive",
			"start_response_delay_interval -1s: must not be negative", `announce_host "0.0.0.0": want a specific IP address`,
		} {
			Expect(err.Error()).To(ContainSubstring(want))
		}
		Expect(err.Error()).NotTo(ContainSubstring("prune_threshold"), "names only the broken fields")
	})
})
