package models_test

import (
	"strings"

	"github.com/diego-go/diego/models"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

const guidRule = "must match ^[a-zA-Z0-9_-]+$"

var _ = Describe("Validation", func() {
	expectValid := func(v models.Validator) {
		ExpectWithOffset(1, v.Validate()).To(Succeed())
	}
	expectInvalid := func(v models.Validator, want string) {
		err := v.Validate()
		ExpectWithOffset(1, err).To(HaveOccurred())
		ExpectWithOffset(1, err.Error()).To(ContainSubstring(want))
	}

	Describe("DesiredLRP", func() {
		It("accepts a complete record", func() {
			expectValid(validDesiredLRP())
		})

		DescribeTable("refuses a broken field, naming it and the rule",
			func(mutate func(*models.DesiredLRP), want string) {
				d := validDesiredLRP()
				mutate(d)
				expectInvalid(d, want)
			},
			Entry("missing process_guid", func(d *models.DesiredLRP) { d.ProcessGuid = "" }, "process_guid: is required"),
			Entry("process_guid with a slash", func(d *models.DesiredLRP) { d.ProcessGuid = "a/b" }, "process_guid: "+guidRule),
			Entry("process_guid with a dot", func(d *models.DesiredLRP) { d.ProcessGuid = "a.b" }, "process_guid: "+guidRule),
			Entry("missing domain", func(d *models.DesiredLRP) { d.Domain = "" }, "domain: is required"),
			Entry("missing rootfs", func(d *models.DesiredLRP) { d.RootFs = "" }, "root_fs: is required"),
			Entry("rootfs without a scheme", func(d *models.DesiredLRP) { d.RootFs = "cflinuxfs4" }, "root_fs: must be a URL with a scheme"),
			Entry("negative instances", func(d *models.DesiredLRP) { d.Instances = -1 }, "instances: must not be negative"),
			Entry("missing action", func(d *models.DesiredLRP) { d.Action = nil }, "action: is required"),
			Entry("empty action", func(d *models.DesiredLRP) { d.Action = &models.Action{} }, "action: must hold exactly one action"),
			Entry("invalid setup", func(d *models.DesiredLRP) { d.Setup = &models.Action{} }, "setup: must hold exactly one action"),
			Entry("invalid monitor", func(d *models.DesiredLRP) {
				d.Monitor = &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{User: "vcap"}}}
			}, "monitor.run.path: is required"),
			Entry("negative memory", func(d *models.DesiredLRP) { d.MemoryMb = -1 }, "memory_mb: must not be negative"),
			Entry("negative disk", func(d *models.DesiredLRP) { d.DiskMb = -1 }, "disk_mb: must not be negative"),
			Entry("negative max_pids", func(d *models.DesiredLRP) { d.MaxPids = -1 }, "max_pids: must not be negative"),
			Entry("negative start timeout", func(d *models.DesiredLRP) { d.StartTimeoutMs = -1 }, "start_timeout_ms: must not be negative"),
			Entry("cpu weight over 100", func(d *models.DesiredLRP) { d.CpuWeight = 101 }, "cpu_weight: must be at most 100"),
			Entry("port 0", func(d *models.DesiredLRP) { d.Ports = []uint32{0} }, "ports[0]: must be a port"),
			Entry("port over 65535", func(d *models.DesiredLRP) { d.Ports = []uint32{8080, 70000} }, "ports[1]: must be a port"),
			Entry("annotation over 10 KiB", func(d *models.DesiredLRP) { d.Annotation = strings.Repeat("a", 10*1024+1) }, "annotation: must be at most 10240 bytes"),
			Entry("routes over 128 KiB", func(d *models.DesiredLRP) {
				d.Routes.Routes["big"] = []byte(strings.Repeat("r", 128*1024))
			}, "routes: must be at most 131072 bytes"),
			Entry("env var without a name", func(d *models.DesiredLRP) {
				d.EnvironmentVariables = []*models.EnvironmentVariable{{Value: "x"}}
			}, "environment_variables[0].name: is required"),
			Entry("egress rule with an unknown protocol", func(d *models.DesiredLRP) {
				d.EgressRules = []*models.SecurityGroupRule{{Protocol: "sctp", Destinations: []string{"0.0.0.0/0"}}}
			}, "egress_rules[0].protocol: must be tcp, udp, icmp or all"),
			Entry("egress rule without destinations", func(d *models.DesiredLRP) {
				d.EgressRules = []*models.SecurityGroupRule{{Protocol: "tcp"}}
			}, "egress_rules[0].destinations: must not be empty"),
			Entry("egress rule with ports and a range", func(d *models.DesiredLRP) {
				d.EgressRules = []*models.SecurityGroupRule{{Protocol: "tcp", Destinations: []string{"1.2.3.4"}, Ports: []uint32{80}, PortRange: &models.PortRange{Start: 1, End: 2}}}
			}, "egress_rules[0].port_range: cannot be combined with ports"),
			Entry("egress rule with an inverted range", func(d *models.DesiredLRP) {
				d.EgressRules = []*models.SecurityGroupRule{{Protocol: "tcp", Destinations: []string{"1.2.3.4"}, PortRange: &models.PortRange{Start: 9, End: 2}}}
			}, "egress_rules[0].port_range: start must not exceed end"),
			Entry("icmp info on tcp", func(d *models.DesiredLRP) {
				d.EgressRules = []*models.SecurityGroupRule{{Protocol: "tcp", Destinations: []string{"1.2.3.4"}, IcmpInfo: &models.ICMPInfo{}}}
			}, "egress_rules[0].icmp_info: is allowed only with protocol icmp"),
			Entry("cached dependency without from", func(d *models.DesiredLRP) {
				d.CachedDependencies = []*models.CachedDependency{{To: "/tmp/lifecycle"}}
			}, "cached_dependencies[0].from: is required"),
			Entry("cached dependency with an unknown checksum", func(d *models.DesiredLRP) {
				d.CachedDependencies = []*models.CachedDependency{{From: "http://x", To: "/y", ChecksumAlgorithm: "crc32", ChecksumValue: "1"}}
			}, "cached_dependencies[0].checksum_algorithm: must be md5, sha1 or sha256"),
			Entry("volume mount without a driver", func(d *models.DesiredLRP) {
				d.VolumeMounts = []*models.VolumeMount{{ContainerDir: "/data", Mode: "rw"}}
			}, "volume_mounts[0].driver: is required"),
			Entry("volume mount with a bad mode", func(d *models.DesiredLRP) {
				d.VolumeMounts = []*models.VolumeMount{{Driver: "nfs", ContainerDir: "/data", Mode: "w"}}
			}, `volume_mounts[0].mode: must be "r" or "rw"`),
			Entry("shared volume without an id", func(d *models.DesiredLRP) {
				d.VolumeMounts = []*models.VolumeMount{{Driver: "nfs", ContainerDir: "/data", Mode: "r", Shared: &models.SharedDevice{}}}
			}, "volume_mounts[0].shared.volume_id: is required"),
			Entry("image layer without a url", func(d *models.DesiredLRP) {
				d.ImageLayers = []*models.ImageLayer{{DestinationPath: "/", LayerType: models.ImageLayer_SHARED, MediaType: models.ImageLayer_TGZ}}
			}, "image_layers[0].url: is required"),
			Entry("image layer without a type", func(d *models.DesiredLRP) {
				d.ImageLayers = []*models.ImageLayer{{Url: "http://x", DestinationPath: "/", MediaType: models.ImageLayer_TGZ}}
			}, "image_layers[0].layer_type: must be SHARED or EXCLUSIVE"),
			Entry("image layer without a media type", func(d *models.DesiredLRP) {
				d.ImageLayers = []*models.ImageLayer{{Url: "http://x", DestinationPath: "/", LayerType: models.ImageLayer_SHARED}}
			}, "image_layers[0].media_type: must be TGZ, TAR or ZIP"),
			Entry("exclusive image layer without a digest", func(d *models.DesiredLRP) {
				d.ImageLayers = []*models.ImageLayer{{Url: "http://x", DestinationPath: "/", LayerType: models.ImageLayer_EXCLUSIVE, MediaType: models.ImageLayer_TGZ}}
			}, "image_layers[0].digest_algorithm: must be SHA256 or SHA512"),
			Entry("sidecar without an action", func(d *models.DesiredLRP) {
				d.Sidecars = []*models.Sidecar{{MemoryMb: 16}}
			}, "sidecars[0].action: is required"),
			Entry("sidecar with negative memory", func(d *models.DesiredLRP) {
				d.Sidecars = []*models.Sidecar{{Action: d.Action, MemoryMb: -1}}
			}, "sidecars[0].memory_mb: must not be negative"),
			Entry("grace period over an hour", func(d *models.DesiredLRP) {
				d.StopGracePeriodMs = 3600*1000 + 1
			}, "stop_grace_period_ms: must be at most one hour"),
			Entry("metric tag with both values", func(d *models.DesiredLRP) {
				d.MetricTags["both"] = &models.MetricTagValue{Static: "x", Dynamic: models.MetricTagValue_INDEX}
			}, "metric_tags.both: must have exactly one of static or dynamic"),
			Entry("metric tag with neither value", func(d *models.DesiredLRP) {
				d.MetricTags["none"] = &models.MetricTagValue{}
			}, "metric_tags.none: must have exactly one of static or dynamic"),
			Entry("check without a kind", func(d *models.DesiredLRP) {
				d.CheckDefinition.Checks = append(d.CheckDefinition.Checks, &models.Check{})
			}, "check_definition.checks[1]: must hold exactly one check"),
			Entry("tcp check on port 0", func(d *models.DesiredLRP) {
				d.CheckDefinition.Checks = []*models.Check{{Value: &models.Check_TcpCheck{TcpCheck: &models.TCPCheck{}}}}
			}, "check_definition.checks[0].tcp_check.port: must be a port"),
			Entry("readiness http check on a bad port", func(d *models.DesiredLRP) {
				d.CheckDefinition.ReadinessChecks = []*models.Check{{Value: &models.Check_HttpCheck{HttpCheck: &models.HTTPCheck{Port: 70000}}}}
			}, "check_definition.readiness_checks[0].http_check.port: must be a port"),
		)

		It("lists every broken field at once", func() {
			d := validDesiredLRP()
			d.ProcessGuid = ""
			d.Domain = ""
			err := d.Validate()
			Expect(err).To(MatchError("process_guid: is required; domain: is required"))
			var verr models.ValidationError
			Expect(err).To(BeAssignableToTypeOf(verr))
			Expect(err.(models.ValidationError)).To(HaveLen(2))
		})
	})

	Describe("Action", func() {
		wrap := func(a *models.Action) *models.DesiredLRP {
			d := validDesiredLRP()
			d.Action = a
			return d
		}
		run := runAction

		DescribeTable("refuses a broken action, naming the path to it",
			func(a *models.Action, want string) { expectInvalid(wrap(a), want) },
			Entry("run without a path", &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{User: "vcap"}}}, "action.run.path: is required"),
			Entry("run without a user", &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{Path: "/bin/true"}}}, "action.run.user: is required"),
			Entry("run with a nameless env var", &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{Path: "/bin/true", User: "vcap", Env: []*models.EnvironmentVariable{{}}}}}, "action.run.env[0].name: is required"),
			Entry("download without from", &models.Action{Value: &models.Action_DownloadAction{DownloadAction: &models.DownloadAction{To: "/tmp", User: "vcap"}}}, "action.download.from: is required"),
			Entry("download without to", &models.Action{Value: &models.Action_DownloadAction{DownloadAction: &models.DownloadAction{From: "http://x", User: "vcap"}}}, "action.download.to: is required"),
			Entry("download with a checksum value but no algorithm", &models.Action{Value: &models.Action_DownloadAction{DownloadAction: &models.DownloadAction{From: "http://x", To: "/tmp", User: "vcap", ChecksumValue: "abc"}}}, "action.download.checksum_algorithm: must be md5, sha1 or sha256"),
			Entry("upload without from", &models.Action{Value: &models.Action_UploadAction{UploadAction: &models.UploadAction{To: "http://x", User: "vcap"}}}, "action.upload.from: is required"),
			Entry("upload without a user", &models.Action{Value: &models.Action_UploadAction{UploadAction: &models.UploadAction{From: "/a", To: "http://x"}}}, "action.upload.user: is required"),
			Entry("timeout without a duration", &models.Action{Value: &models.Action_TimeoutAction{TimeoutAction: &models.TimeoutAction{Action: run()}}}, "action.timeout.timeout_ms: must be positive"),
			Entry("timeout without an action", &models.Action{Value: &models.Action_TimeoutAction{TimeoutAction: &models.TimeoutAction{TimeoutMs: 10}}}, "action.timeout.action: is required"),
			Entry("emit progress without an action", &models.Action{Value: &models.Action_EmitProgressAction{EmitProgressAction: &models.EmitProgressAction{}}}, "action.emit_progress.action: is required"),
			Entry("try without an action", &models.Action{Value: &models.Action_TryAction{TryAction: &models.TryAction{}}}, "action.try.action: is required"),
			Entry("empty parallel", &models.Action{Value: &models.Action_ParallelAction{ParallelAction: &models.ParallelAction{}}}, "action.parallel.actions: must not be empty"),
			Entry("empty serial", &models.Action{Value: &models.Action_SerialAction{SerialAction: &models.SerialAction{}}}, "action.serial.actions: must not be empty"),
			Entry("empty codependent", &models.Action{Value: &models.Action_CodependentAction{CodependentAction: &models.CodependentAction{}}}, "action.codependent.actions: must not be empty"),
			Entry("a nested broken action", &models.Action{Value: &models.Action_SerialAction{SerialAction: &models.SerialAction{Actions: []*models.Action{
				run(), {Value: &models.Action_TryAction{TryAction: &models.TryAction{Action: &models.Action{}}}},
			}}}}, "action.serial.actions[1].try.action: must hold exactly one action"),
		)

		It("accepts every kind of valid action", func() {
			for _, a := range []*models.Action{
				{Value: &models.Action_DownloadAction{DownloadAction: &models.DownloadAction{From: "http://x", To: "/tmp", User: "vcap", ChecksumAlgorithm: "sha256", ChecksumValue: "ab"}}},
				{Value: &models.Action_UploadAction{UploadAction: &models.UploadAction{From: "/tmp/a", To: "http://x", User: "vcap"}}},
				{Value: &models.Action_TimeoutAction{TimeoutAction: &models.TimeoutAction{Action: run(), TimeoutMs: 1000}}},
				{Value: &models.Action_EmitProgressAction{EmitProgressAction: &models.EmitProgressAction{Action: run(), StartMessage: "go"}}},
				{Value: &models.Action_TryAction{TryAction: &models.TryAction{Action: run()}}},
				{Value: &models.Action_ParallelAction{ParallelAction: &models.ParallelAction{Actions: []*models.Action{run(), run()}}}},
				{Value: &models.Action_SerialAction{SerialAction: &models.SerialAction{Actions: []*models.Action{run()}}}},
				{Value: &models.Action_CodependentAction{CodependentAction: &models.CodependentAction{Actions: []*models.Action{run()}}}},
			} {
				Expect(a.Validate()).To(Succeed())
			}
		})
	})

	Describe("DesiredLRPUpdate", func() {
		It("accepts an empty update and a full one", func() {
			expectValid(&models.DesiredLRPUpdate{})
			instances, annotation := int32(5), "note"
			expectValid(&models.DesiredLRPUpdate{Instances: &instances, Annotation: &annotation})
		})

		DescribeTable("refuses",
			func(u *models.DesiredLRPUpdate, want string) { expectInvalid(u, want) },
			Entry("negative instances", &models.DesiredLRPUpdate{Instances: ptr(int32(-2))}, "instances: must not be negative"),
			Entry("a huge annotation", &models.DesiredLRPUpdate{Annotation: ptr(strings.Repeat("a", 10*1024+1))}, "annotation: must be at most 10240 bytes"),
			Entry("huge routes", &models.DesiredLRPUpdate{Routes: &models.Routes{Routes: map[string][]byte{"x": make([]byte, 128*1024+1)}}}, "routes: must be at most 131072 bytes"),
		)
	})

	Describe("TaskDefinition and Task", func() {
		It("accepts a complete definition", func() {
			expectValid(validTaskDefinition())
		})

		DescribeTable("refuses a broken definition",
			func(mutate func(*models.TaskDefinition), want string) {
				t := validTaskDefinition()
				mutate(t)
				expectInvalid(t, want)
			},
			Entry("missing rootfs", func(t *models.TaskDefinition) { t.RootFs = "" }, "root_fs: is required"),
			Entry("rootfs without a scheme", func(t *models.TaskDefinition) { t.RootFs = "/var/rootfs" }, "root_fs: must be a URL with a scheme"),
			Entry("missing action", func(t *models.TaskDefinition) { t.Action = nil }, "action: is required"),
			Entry("negative memory", func(t *models.TaskDefinition) { t.MemoryMb = -5 }, "memory_mb: must not be negative"),
			Entry("negative disk", func(t *models.TaskDefinition) { t.DiskMb = -5 }, "disk_mb: must not be negative"),
			Entry("negative max_pids", func(t *models.TaskDefinition) { t.MaxPids = -5 }, "max_pids: must not be negative"),
			Entry("cpu weight over 100", func(t *models.TaskDefinition) { t.CpuWeight = 200 }, "cpu_weight: must be at most 100"),
			Entry("annotation over 10 KiB", func(t *models.TaskDefinition) { t.Annotation = strings.Repeat("x", 10241) }, "annotation: must be at most 10240 bytes"),
			Entry("callback that is not http", func(t *models.TaskDefinition) { t.CompletionCallbackUrl = "ftp://x/y" }, "completion_callback_url: must be an http or https URL"),
			Entry("callback without a host", func(t *models.TaskDefinition) { t.CompletionCallbackUrl = "http://" }, "completion_callback_url: must be an http or https URL"),
		)

		It("validates a stored Task with its definition", func() {
			task := &models.Task{TaskGuid: "task-1", Domain: "d", State: models.Task_Pending, TaskDefinition: validTaskDefinition()}
			expectValid(task)
			task.State = models.Task_Invalid
			expectInvalid(task, "state: must be Pending, Running, Completed or Resolving")
			task.State = models.Task_Running
			task.TaskDefinition.Action = nil
			expectInvalid(task, "task_definition.action: is required")
			task.TaskDefinition = nil
			expectInvalid(task, "task_definition: is required")
		})
	})

	Describe("ActualLRP", func() {
		It("accepts each state with what it needs", func() {
			expectValid(&models.ActualLRP{ActualLrpKey: actualLRPKey(), State: models.ActualLRPStateUnclaimed})
			expectValid(&models.ActualLRP{ActualLrpKey: actualLRPKey(), ActualLrpInstanceKey: instanceKey(), State: models.ActualLRPStateClaimed})
			expectValid(&models.ActualLRP{ActualLrpKey: actualLRPKey(), ActualLrpInstanceKey: instanceKey(), ActualLrpNetInfo: netInfo(), State: models.ActualLRPStateRunning})
			expectValid(&models.ActualLRP{ActualLrpKey: actualLRPKey(), State: models.ActualLRPStateCrashed, CrashCount: 3})
		})

		DescribeTable("refuses",
			func(a *models.ActualLRP, want string) { expectInvalid(a, want) },
			Entry("no key", &models.ActualLRP{State: models.ActualLRPStateUnclaimed}, "actual_lrp_key: is required"),
			Entry("a bad process guid", &models.ActualLRP{ActualLrpKey: &models.ActualLRPKey{ProcessGuid: "a b", Domain: "d"}, State: models.ActualLRPStateUnclaimed}, "actual_lrp_key.process_guid: "+guidRule),
			Entry("a negative index", &models.ActualLRP{ActualLrpKey: &models.ActualLRPKey{ProcessGuid: "p", Index: -1, Domain: "d"}, State: models.ActualLRPStateUnclaimed}, "actual_lrp_key.index: must not be negative"),
			Entry("no domain", &models.ActualLRP{ActualLrpKey: &models.ActualLRPKey{ProcessGuid: "p"}, State: models.ActualLRPStateUnclaimed}, "actual_lrp_key.domain: is required"),
			Entry("an unknown state", &models.ActualLRP{ActualLrpKey: actualLRPKey(), State: "STARTING"}, "state: must be UNCLAIMED, CLAIMED, RUNNING or CRASHED"),
			Entry("CLAIMED without an instance", &models.ActualLRP{ActualLrpKey: actualLRPKey(), State: models.ActualLRPStateClaimed}, "actual_lrp_instance_key: is required"),
			Entry("CLAIMED without a cell", &models.ActualLRP{ActualLrpKey: actualLRPKey(), ActualLrpInstanceKey: &models.ActualLRPInstanceKey{InstanceGuid: "i"}, State: models.ActualLRPStateClaimed}, "actual_lrp_instance_key.cell_id: is required"),
			Entry("RUNNING without an address", &models.ActualLRP{ActualLrpKey: actualLRPKey(), ActualLrpInstanceKey: instanceKey(), State: models.ActualLRPStateRunning}, "actual_lrp_net_info.address: is required"),
			Entry("a negative crash count", &models.ActualLRP{ActualLrpKey: actualLRPKey(), State: models.ActualLRPStateCrashed, CrashCount: -1}, "crash_count: must not be negative"),
		)
	})

	Describe("CellPresence", func() {
		valid := func() *models.CellPresence {
			return &models.CellPresence{CellId: "cell-1", RepAddress: "http://10.0.0.1:1800", Capacity: &models.CellCapacity{MemoryMb: 1024, DiskMb: 1024, Containers: 10}}
		}
		It("accepts a complete presence", func() { expectValid(valid()) })
		DescribeTable("refuses",
			func(mutate func(*models.CellPresence), want string) {
				c := valid()
				mutate(c)
				expectInvalid(c, want)
			},
			Entry("no cell id", func(c *models.CellPresence) { c.CellId = "" }, "cell_id: is required"),
			Entry("no rep address", func(c *models.CellPresence) { c.RepAddress = "" }, "rep_address: is required"),
			Entry("no capacity", func(c *models.CellPresence) { c.Capacity = nil }, "capacity: is required"),
			Entry("zero memory", func(c *models.CellPresence) { c.Capacity.MemoryMb = 0 }, "capacity.memory_mb: must be positive"),
			Entry("negative disk", func(c *models.CellPresence) { c.Capacity.DiskMb = -1 }, "capacity.disk_mb: must not be negative"),
			Entry("zero containers", func(c *models.CellPresence) { c.Capacity.Containers = 0 }, "capacity.containers: must be positive"),
		)
	})
})

func ptr[T any](v T) *T { return &v }
