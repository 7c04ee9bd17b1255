package config_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/cmd/rep/config"
	"github.com/diego-go/diego/models"
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
		p := filepath.Join(GinkgoT().TempDir(), "rep.json")
		Expect(os.WriteFile(p, b, 0o644)).To(Succeed())
		return p
	}
	minimal := func() map[string]any {
		return map[string]any{
			"cell_id": "cell-z1-0", "advertise_url": "https://10.0.16.4:1801",
			"ca_file": "ca.crt", "cert_file": "rep.crt", "key_file": "rep.key",
			"consul_address": "127.0.0.1:8500", "bbs_url": "https://bbs:8889",
			"nats_urls": []string{"nats://127.0.0.1:4222"}, "preloaded_rootfs": []string{"cflinuxfs4"},
		}
	}

	It("fills upstream's defaults", func() {
		c, err := config.Load(write(minimal()))
		Expect(err).NotTo(HaveOccurred())
		Expect(c.ListenAddress).To(Equal("0.0.0.0:1801"))
		Expect(c.HealthAddress).To(Equal("127.0.0.1:1800"))
		Expect(c.LockTTL.D()).To(Equal(15 * time.Second))
		Expect(c.LockRetryInterval.D()).To(Equal(5 * time.Second))
		Expect(c.PollingInterval.D()).To(Equal(30 * time.Second))
		Expect(c.EvacuationTimeout.D()).To(Equal(10 * time.Minute))
		Expect(c.EvacuationPollingInterval.D()).To(Equal(10 * time.Second))
		Expect(c.RouteDrainDelay.D()).To(Equal(2 * time.Second))
		Expect(c.SupportedProviders).To(Equal([]string{"docker"}))
		Expect(c.GardenNetwork).To(Equal("unix"))
		Expect(c.GardenAddress).To(Equal("/var/run/diego-garden/garden.sock"))
		Expect(c.LogLevel).To(Equal("info"))
		Expect(c.Executor.MemoryMB).To(BeEquivalentTo("auto"))
		Expect(c.Executor.UnhealthyMonitoringInterval.D()).To(Equal(2 * time.Second))
		Expect(c.CellIndex).To(Equal(0))
		Expect(c.LayeringMode).To(Equal("single-layer"))
		Expect(c.Convert().TwoLayer).To(BeFalse())
	})

	It("finds the BBS by bbs_service_name, bbs_url then optional, as the other BBS clients", func() {
		m := minimal()
		delete(m, "bbs_url")
		_, err := config.Load(write(m))
		Expect(err).To(MatchError(ContainSubstring("bbs_url is required")))
		m["bbs_service_name"] = "bbs"
		c, err := config.Load(write(m))
		Expect(err).NotTo(HaveOccurred())
		Expect(c.BBSServiceName).To(Equal("bbs"))
	})

	It("reads the cell index and the two-layer mode", func() {
		m := minimal()
		m["cell_index"] = 3
		m["layering_mode"] = "two-layer"
		c, err := config.Load(write(m))
		Expect(err).NotTo(HaveOccurred())
		Expect(c.CellIndex).To(Equal(3))
		Expect(c.Convert().TwoLayer).To(BeTrue())
	})

	It("takes a route drain delay of 0s to disable the drain", func() {
		m := minimal()
		m["route_drain_delay"] = "0s"
		c, err := config.Load(write(m))
		Expect(err).NotTo(HaveOccurred())
		Expect(c.RouteDrainDelay.D()).To(BeZero())
	})

	It("gives the executor the rep's cell id and stacks, and names its problems under executor", func() {
		m := minimal()
		m["executor"] = map[string]any{"memory_mb": 4096, "unhealthy_monitoring_interval": "500ms"}
		c, err := config.Load(write(m))
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Executor.CellID).To(Equal("cell-z1-0"))
		Expect(c.Executor.PreloadedRootFS).To(Equal([]string{"cflinuxfs4"}))
		Expect(c.Executor.MemoryMB).To(BeEquivalentTo("4096"))
		Expect(c.Executor.UnhealthyMonitoringInterval.D()).To(Equal(500 * time.Millisecond))
		Expect(c.Executor.HealthyMonitoringInterval.D()).To(Equal(30*time.Second), "the executor's defaults stay under the file's keys")

		m["executor"] = map[string]any{"memory_mb": "lots", "cache_path": "relative", "no_such_key": 1}
		_, err = config.Load(write(m))
		Expect(err).To(MatchError(ContainSubstring("no_such_key")))
		delete(m["executor"].(map[string]any), "no_such_key")
		_, err = config.Load(write(m))
		Expect(err).To(MatchError(And(ContainSubstring(`executor: memory_mb must be "auto" or a positive number of MB, not "lots"`),
			ContainSubstring(`executor: cache_path "relative" must be an absolute path`))))
	})

	It("advertises https://<listen_address> when the file names no URL and the address can be dialled", func() {
		m := minimal()
		delete(m, "advertise_url")
		m["listen_address"] = "10.0.16.4:1801"
		c, err := config.Load(write(m))
		Expect(err).NotTo(HaveOccurred())
		Expect(c.AdvertiseURL).To(Equal("https://10.0.16.4:1801"))

		delete(m, "listen_address")
		_, err = config.Load(write(m))
		Expect(err).To(MatchError(ContainSubstring(`advertise_url "https://0.0.0.0:1801": 0.0.0.0 cannot be dialled`)))
	})

	It("rejects unknown fields and bad JSON, naming the file", func() {
		m := minimal()
		m["cell_idd"] = "x"
		p := write(m)
		_, err := config.Load(p)
		Expect(err).To(MatchError(And(ContainSubstring(p), ContainSubstring("cell_idd"))))
		_, err = config.Load(write(`{"polling_interval": "thirty"}`))
		Expect(err).To(HaveOccurred())
	})

	It("lists every problem", func() {
		_, err := config.Load(write(map[string]any{
			"health_address": "0.0.0.0:1800", "advertise_url": "http://cell:1801", "bbs_url": "bbs:8889",
			"bbs_ca_file": "ca.crt", "log_level": "loud", "polling_interval": "0s", "evacuation_timeout": "-1s",
			"placement_tags": []string{"gpu", ""}, "optional_placement_tags": []string{"gpu"},
			"preloaded_rootfs": []string{"cflinuxfs4:/var/rootfs"}, "supported_providers": []string{"preloaded"},
			"nats_urls": []string{"127.0.0.1:4222"}, "garden_network": "udp",
			"cell_index": -1, "layering_mode": "three-layer", "route_drain_delay": "-1s",
		}))
		Expect(err).To(HaveOccurred())
		for _, want := range []string{
			"ca_file is required", "cert_file is required", "key_file is required", "consul_address is required",
			"cell_id is required", `health_address "0.0.0.0:1800" must be a loopback address`,
			`advertise_url "http://cell:1801" must be a URL like https://host:port`,
			`bbs_url "bbs:8889" must start with http:// or https://`,
			"bbs_ca_file, bbs_cert_file and bbs_key_file go together", `log_level "loud"`,
			"polling_interval 0s: must be positive", "evacuation_timeout -1s: must be positive",
			`placement_tags: "" is not a name`, `placement tag "gpu" is both required`,
			`preloaded_rootfs: "cflinuxfs4:/var/rootfs" is not a name`,
			`supported_providers "preloaded": the preloaded providers come from preloaded_rootfs`,
			`nats_urls: "127.0.0.1:4222" is not a URL like nats://host:port`, `garden_network "udp"`,
			"cell_index -1: must not be negative", "route_drain_delay -1s: must not be negative", `layering_mode "three-layer": want "single-layer" or "two-layer"`,
		} {
			Expect(err.Error()).To(ContainSubstring(want))
		}
		Expect(err.Error()).NotTo(ContainSubstring("evacuation_polling_interval"), "names only the broken fields")
		Expect(err.Error()).NotTo(ContainSubstring("volume_drivers"), "names only the broken fields")
	})

	It("needs a NATS server for the logs, a garden address and a preloaded stack", func() {
		m := minimal()
		delete(m, "nats_urls")
		delete(m, "preloaded_rootfs")
		m["garden_network"] = "tcp"
		m["garden_address"] = "garden"
		_, err := config.Load(write(m))
		Expect(err).To(MatchError(And(ContainSubstring("nats_urls is required"), ContainSubstring(`garden_address "garden"`),
			ContainSubstring("preloaded_rootfs is required"))))
	})
})

var _ = Describe("the rootfs providers", func() {
	c := config.Config{PreloadedRootFS: []string{"cflinuxfs4", "busybox"}, SupportedProviders: []string{"docker"}}

	It("offers the preloaded stacks with and without a layer, and any image of a supported provider, to auctions", func() {
		b, err := json.Marshal(c.RootFSProviders())
		Expect(err).NotTo(HaveOccurred())
		Expect(b).To(MatchJSON(`{
			"preloaded": {"set": {"cflinuxfs4": {}, "busybox": {}}, "type": "fixed_set"},
			"preloaded+layer": {"set": {"cflinuxfs4": {}, "busybox": {}}, "type": "fixed_set"},
			"docker": {"type": "arbitrary"}
		}`))
	})

	It("lists the same in the cell's presence", func() {
		p, err := models.EncodeCellPresence(&models.CellPresence{CellId: "c", RootfsProviders: c.PresenceProviders()})
		Expect(err).NotTo(HaveOccurred())
		var j struct {
			Providers json.RawMessage `json:"rootfs_provider_list"`
		}
		Expect(json.Unmarshal(p, &j)).To(Succeed())
		Expect(j.Providers).To(MatchJSON(`[
			{"name": "preloaded", "properties": ["cflinuxfs4", "busybox"]},
			{"name": "preloaded+layer", "properties": ["cflinuxfs4", "busybox"]},
			{"name": "docker"}
		]`))
	})
})
