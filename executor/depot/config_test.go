package depot_test

import (
	"encoding/json"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/executor/depot"
)

var _ = Describe("Config", func() {
	It("has upstream's defaults, which are valid", func() {
		c := depot.DefaultConfig()
		Expect(c.Validate()).To(Succeed())
		Expect(c.GracefulShutdownInterval.D()).To(Equal(10 * time.Second))
		Expect(c.HealthyMonitoringInterval.D()).To(Equal(30 * time.Second))
		Expect(c.UnhealthyMonitoringInterval.D()).To(Equal(2 * time.Second))
		Expect(c.ContainerMetricsReportInterval.D()).To(Equal(15 * time.Second))
		Expect(c.MemoryMB).To(Equal(depot.Capacity("auto")))
	})

	It("reads capacities as auto, strings or numbers, and durations as strings", func() {
		c := depot.DefaultConfig()
		Expect(json.Unmarshal([]byte(`{"memory_mb": 2048, "disk_mb": "4096", "reserved_expiration_time": "5s"}`), &c)).To(Succeed())
		Expect(c.MemoryMB).To(Equal(depot.Capacity("2048")))
		Expect(c.DiskMB).To(Equal(depot.Capacity("4096")))
		Expect(c.ReservedExpirationTime.D()).To(Equal(5 * time.Second))
		Expect(c.Validate()).To(Succeed())
		Expect(json.Unmarshal([]byte(`{"memory_mb": true}`), &c)).To(MatchError(ContainSubstring(`want "auto" or a number of MB`)))
	})

	It("rotates identity credentials as upstream does", func() {
		Expect(depot.RotationPeriod(24 * time.Hour)).To(Equal(23*time.Hour + 30*time.Minute))
		Expect(depot.RotationPeriod(4 * time.Hour)).To(Equal(3*time.Hour + 30*time.Minute))
		Expect(depot.RotationPeriod(8 * time.Minute)).To(Equal(7 * time.Minute))
	})

	It("names every problem", func() {
		c := depot.DefaultConfig()
		c.MemoryMB = "lots"
		c.DiskMB = "-1"
		c.GracefulShutdownInterval = 0
		c.CachePath = "relative"
		c.InstanceIdentityCAPath = "/ca.crt"
		c.MaxLogLinesPerSecond = -1
		c.GardenHealthcheckProcessPath = ""
		err := c.Validate()
		Expect(err).To(MatchError(ContainSubstring(`memory_mb must be "auto" or a positive number of MB, not "lots"`)))
		Expect(err).To(MatchError(ContainSubstring(`disk_mb must be "auto" or a positive number of MB, not "-1"`)))
		Expect(err).To(MatchError(ContainSubstring("graceful_shutdown_interval 0s: must be positive")))
		Expect(err).To(MatchError(ContainSubstring(`cache_path "relative" must be an absolute path`)))
		Expect(err).To(MatchError(ContainSubstring("instance_identity_ca_path, instance_identity_private_key_path and instance_identity_cred_dir go together")))
		Expect(err).To(MatchError(ContainSubstring("max_log_lines_per_second must not be negative")))
		Expect(err).To(MatchError(ContainSubstring("garden_healthcheck_process_path is required")))
	})
})
