package convert_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/executor"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/rep/convert"
)

func run(path string) *models.Action {
	return &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{Path: path, User: "vcap"}}}
}

func desired() *models.DesiredLRP {
	return &models.DesiredLRP{
		ProcessGuid: "pg", Domain: "d", LogGuid: "lg", RootFs: "preloaded:cflinuxfs4", Instances: 2,
		MemoryMb: 128, DiskMb: 256, Ports: []uint32{8080, 2222},
		EnvironmentVariables: []*models.EnvironmentVariable{{Name: "PORT", Value: "8080"}},
		Action:               run("/app"),
		MetricTags: map[string]*models.MetricTagValue{
			"source_id": {Static: "app-guid"}, "instance_id": {Dynamic: models.MetricTagValue_INDEX},
			"guid": {Dynamic: models.MetricTagValue_INSTANCE_GUID},
		},
		CertificateProperties:         &models.CertificateProperties{OrganizationalUnit: []string{"app:app-guid", "space:s"}},
		TrustedSystemCertificatesPath: "/etc/cf-system-certificates",
		StartTimeoutMs:                60000,
	}
}

var key = &models.ActualLRPKey{ProcessGuid: "pg", Index: 1, Domain: "d"}
var ik = &models.ActualLRPInstanceKey{InstanceGuid: "ig", CellId: "cell"}

var layers = []*models.ImageLayer{
	{Name: "shared", Url: "http://x/shared.tgz", DestinationPath: "/shared", LayerType: models.ImageLayer_SHARED, MediaType: models.ImageLayer_TGZ, DigestAlgorithm: models.ImageLayer_SHA256, DigestValue: "aaa"},
	{Name: "droplet", Url: "http://x/droplet.tgz", DestinationPath: "/home/vcap", LayerType: models.ImageLayer_EXCLUSIVE, MediaType: models.ImageLayer_TGZ, DigestAlgorithm: models.ImageLayer_SHA256, DigestValue: "bbb"},
}

var _ = Describe("LRPRunInfo", func() {
	It("gives the instance its identity first, then the LRP's own env (PORT comes from it)", func() {
		info, err := convert.LRPRunInfo(desired(), key, ik, convert.Options{})
		Expect(err).NotTo(HaveOccurred())
		Expect(info.Env).To(Equal([]executor.EnvironmentVariable{
			{Name: "INSTANCE_GUID", Value: "ig"}, {Name: "INSTANCE_INDEX", Value: "1"},
			{Name: "CF_INSTANCE_GUID", Value: "ig"}, {Name: "CF_INSTANCE_INDEX", Value: "1"},
			{Name: "PORT", Value: "8080"},
		}))
	})

	It("carries rootfs, ports, logs, metrics, timeouts and the certificate's OUs as upstream's rep does", func() {
		info, err := convert.LRPRunInfo(desired(), key, ik, convert.Options{})
		Expect(err).NotTo(HaveOccurred())
		Expect(info.RootFSPath).To(Equal("preloaded:cflinuxfs4"))
		Expect(info.Ports).To(Equal([]executor.PortMapping{{ContainerPort: 8080}, {ContainerPort: 2222}}))
		Expect(info.CPUWeight).To(Equal(uint32(1)))
		Expect(info.LogConfig).To(Equal(executor.LogConfig{Guid: "lg", Index: 1, SourceName: "APP/PROC/WEB",
			Tags: map[string]string{"source_id": "app-guid", "instance_id": "1", "guid": "ig"}}))
		Expect(info.MetricsConfig).To(Equal(executor.MetricsConfig{Guid: "app-guid", Index: 1,
			Tags: map[string]string{"source_id": "app-guid", "instance_id": "1", "guid": "ig"}}))
		Expect(info.StartTimeoutMs).To(Equal(uint32(60000)))
		Expect(info.CertificateOrganizationalUnits).To(Equal([]string{"app:app-guid", "space:s"}))
		Expect(info.TrustedSystemCertificatesPath).To(Equal("/etc/cf-system-certificates"))
		Expect(proto.Equal(info.Action, run("/app"))).To(BeTrue())
	})

	It("runs the LRP's sidecars and stops it with its own grace period (0: the cell's)", func() {
		info, err := convert.LRPRunInfo(desired(), key, ik, convert.Options{})
		Expect(err).NotTo(HaveOccurred())
		Expect(info.GracePeriod).To(BeZero())
		Expect(info.Sidecars).To(BeEmpty())

		d := desired()
		d.StopGracePeriodMs = 30000
		d.Sidecars = []*models.Sidecar{{Action: run("/sidecar"), MemoryMb: 32, DiskMb: 16}}
		info, err = convert.LRPRunInfo(d, key, ik, convert.Options{})
		Expect(err).NotTo(HaveOccurred())
		Expect(info.GracePeriod).To(Equal(30 * time.Second))
		Expect(info.Sidecars).To(HaveLen(1))
		Expect(proto.Equal(info.Sidecars[0].Action, run("/sidecar"))).To(BeTrue())
		Expect([]int{info.Sidecars[0].MemoryMB, info.Sidecars[0].DiskMB}).To(Equal([]int{32, 16}))
	})

	It("keeps the LRP's own log source and log rate limit", func() {
		d := desired()
		d.LogSource = "APP/PROC/WORKER"
		d.LogRateLimit = &models.LogRateLimit{BytesPerSecond: 1024}
		info, err := convert.LRPRunInfo(d, key, ik, convert.Options{})
		Expect(err).NotTo(HaveOccurred())
		Expect(info.LogConfig.SourceName).To(Equal("APP/PROC/WORKER"))
		Expect(info.LogConfig.BytesPerSecond).To(Equal(int64(1024)))
	})

	It("turns shared image layers into cached dependencies and exclusive ones into downloads before the setup", func() {
		d := desired()
		d.ImageLayers = layers
		d.Setup = run("/setup")
		before := proto.CloneOf(d)
		info, err := convert.LRPRunInfo(d, key, ik, convert.Options{})
		Expect(err).NotTo(HaveOccurred())
		Expect(info.CachedDependencies).To(Equal([]executor.CachedDependency{{Name: "shared", From: "http://x/shared.tgz", To: "/shared",
			CacheKey: "sha256:aaa", ChecksumAlgorithm: "sha256", ChecksumValue: "aaa"}}))
		serial := info.Setup.GetSerialAction().GetActions()
		Expect(serial).To(HaveLen(2))
		Expect(serial[0].GetParallelAction().GetActions()[0].GetDownloadAction().GetFrom()).To(Equal("http://x/droplet.tgz"))
		Expect(proto.Equal(serial[1], run("/setup"))).To(BeTrue())
		Expect(proto.Equal(d, before)).To(BeTrue(), "the BBS's record is not changed")
	})

	It("in two-layer mode moves the exclusive tgz sha256 layer into a preloaded+layer rootfs", func() {
		d := desired()
		d.ImageLayers = layers
		before := proto.CloneOf(d)
		info, err := convert.LRPRunInfo(d, key, ik, convert.Options{TwoLayer: true})
		Expect(err).NotTo(HaveOccurred())
		Expect(info.RootFSPath).To(Equal("preloaded+layer:cflinuxfs4?layer=http%3A%2F%2Fx%2Fdroplet.tgz&layer_path=%2Fhome%2Fvcap&layer_digest=bbb"))
		Expect(info.Setup).To(BeNil())
		Expect(info.CachedDependencies).To(HaveLen(1))
		Expect(proto.Equal(d, before)).To(BeTrue(), "the BBS's record is not changed")
	})
})

var _ = Describe("TaskRunInfo", func() {
	task := func() *models.Task {
		return &models.Task{TaskGuid: "tg", Domain: "d", TaskDefinition: &models.TaskDefinition{
			RootFs: "docker:///busybox", LogGuid: "lg", Action: run("/task"), ResultFile: "/tmp/result",
			EnvironmentVariables: []*models.EnvironmentVariable{{Name: "A", Value: "b"}}, CpuWeight: 7,
		}}
	}

	It("runs the action with the task's env, log source TASK and result file", func() {
		info, err := convert.TaskRunInfo(task(), convert.Options{})
		Expect(err).NotTo(HaveOccurred())
		Expect(info.RootFSPath).To(Equal("docker:///busybox"))
		Expect(info.Env).To(Equal([]executor.EnvironmentVariable{{Name: "A", Value: "b"}}))
		Expect(info.LogConfig).To(Equal(executor.LogConfig{Guid: "lg", SourceName: "TASK"}))
		Expect(info.ResultFile).To(Equal("/tmp/result"))
		Expect(info.CPUWeight).To(Equal(uint32(7)))
		Expect(info.Setup).To(BeNil())
	})

	It("downloads exclusive image layers in the setup, before the action's process runs", func() {
		t := task()
		t.TaskDefinition.ImageLayers = layers
		info, err := convert.TaskRunInfo(t, convert.Options{})
		Expect(err).NotTo(HaveOccurred())
		Expect(info.Setup.GetParallelAction().GetActions()[0].GetDownloadAction().GetFrom()).To(Equal("http://x/droplet.tgz"))
		Expect(proto.Equal(info.Action, run("/task"))).To(BeTrue())
		Expect(info.CachedDependencies).To(HaveLen(1))
	})

	It("refuses a per-instance metric tag, which a task cannot have", func() {
		t := task()
		t.TaskDefinition.MetricTags = map[string]*models.MetricTagValue{"i": {Dynamic: models.MetricTagValue_INDEX}}
		_, err := convert.TaskRunInfo(t, convert.Options{})
		Expect(err).To(MatchError(ContainSubstring(`metric tag "i"`)))
	})
})

var _ = Describe("tags", func() {
	It("an instance's tags give back its keys and what it asked of the cell", func() {
		lrp := models.RepLRP{LRPKey: models.LRPKey{ProcessGUID: "pg", Index: 3, Domain: "d"},
			PlacementConstraint: models.PlacementConstraint{PlacementTags: []string{"gpu"}, VolumeDrivers: []string{"nfs"}}}
		tags := convert.LRPTags(lrp, "ig")
		Expect(tags).To(HaveKeyWithValue("lifecycle", "lrp"))
		k, err := convert.ActualLRPKeyFromTags(tags)
		Expect(err).NotTo(HaveOccurred())
		Expect(proto.Equal(k, &models.ActualLRPKey{ProcessGuid: "pg", Index: 3, Domain: "d"})).To(BeTrue())
		i, err := convert.InstanceKey(executor.Container{Tags: tags}, "cell")
		Expect(err).NotTo(HaveOccurred())
		Expect(proto.Equal(i, &models.ActualLRPInstanceKey{InstanceGuid: "ig", CellId: "cell"})).To(BeTrue())
		pt, vd, err := convert.PlacementFromTags(tags)
		Expect(err).NotTo(HaveOccurred())
		Expect(pt).To(Equal([]string{"gpu"}))
		Expect(vd).To(Equal([]string{"nfs"}))
	})

	It("names a placement tag that does not decode, and reads an absent one as none", func() {
		pt, vd, err := convert.PlacementFromTags(executor.Tags{"placement-tags": `["gpu"]`, "volume-drivers": "nfs"})
		Expect(err).To(MatchError(ContainSubstring(`volume-drivers "nfs" is not a JSON array of strings`)))
		Expect(pt).To(Equal([]string{"gpu"}))
		Expect(vd).To(BeNil())
		pt, vd, err = convert.PlacementFromTags(executor.Tags{})
		Expect(err).NotTo(HaveOccurred())
		Expect(pt).To(BeNil())
		Expect(vd).To(BeNil())
	})

	It("names what is wrong with tags that are not an instance's", func() {
		_, err := convert.ActualLRPKeyFromTags(executor.Tags{"process-guid": "pg", "domain": "d", "process-index": "x"})
		Expect(err).To(MatchError(ContainSubstring(`process-index "x"`)))
		_, err = convert.ActualLRPKeyFromTags(nil)
		Expect(err).To(MatchError(convert.ErrMissingTags))
	})

	It("a running container's net info prefers the host address", func() {
		n := convert.NetInfo(executor.Container{ExternalIP: "10.0.0.1", InternalIP: "172.16.0.2", Ports: []executor.PortMapping{{ContainerPort: 8080, HostPort: 61000}}})
		Expect(proto.Equal(n, &models.ActualLRPNetInfo{Address: "10.0.0.1", InstanceAddress: "172.16.0.2", PreferredAddress: models.ActualLRPNetInfo_HOST,
			Ports: []*models.PortMapping{{ContainerPort: 8080, HostPort: 61000}}})).To(BeTrue())
	})
})
