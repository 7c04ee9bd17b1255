package containerstore_test

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"

	"code.cloudfoundry.org/garden"

	"github.com/diego-go/diego/executor"
	"github.com/diego-go/diego/executor/containerstore"
	"github.com/diego-go/diego/models"
)

var _ = Describe("what the store computes", func() {
	It("reads the rootfs schemes", func() {
		r, err := containerstore.ParseRootFS("preloaded:cflinuxfs4")
		Expect(err).NotTo(HaveOccurred())
		Expect(r).To(Equal(containerstore.RootFS{URI: "preloaded:cflinuxfs4", Stack: "cflinuxfs4"}))

		r, err = containerstore.ParseRootFS("preloaded+layer:cflinuxfs4?layer=http://files/l.tgz&layer_path=/tmp/lifecycle&layer_digest=abc")
		Expect(err).NotTo(HaveOccurred())
		Expect(r.URI).To(Equal("preloaded:cflinuxfs4"))
		Expect(r.Stack).To(Equal("cflinuxfs4"))
		Expect(*r.Layer).To(Equal(executor.CachedDependency{From: "http://files/l.tgz", To: "/tmp/lifecycle",
			CacheKey: "layer-abc", ChecksumAlgorithm: "sha256", ChecksumValue: "abc"}))

		r, err = containerstore.ParseRootFS("docker:///cloudfoundry/grace#alpine")
		Expect(err).NotTo(HaveOccurred())
		Expect(r).To(Equal(containerstore.RootFS{URI: "docker:///cloudfoundry/grace#alpine"}))

		for raw, problem := range map[string]string{
			"":           "has no scheme",
			"cflinuxfs4": "has no scheme",
			"preloaded:": "preloaded takes a stack name",
			"preloaded+layer:cflinuxfs4?layer_path=/x":                       "layer must be an http(s) URL",
			"preloaded+layer:cflinuxfs4?layer=http://f/l.tgz&layer_path=rel": "layer_path must be an absolute path",
		} {
			_, err := containerstore.ParseRootFS(raw)
			Expect(err).To(MatchError(ContainSubstring(problem)), raw)
		}
	})

	It("computes limits as upstream does", func() {
		Expect(containerstore.CPUShares(1024, 50)).To(BeEquivalentTo(512))
		Expect(containerstore.CPUShares(1024, 0)).To(BeEquivalentTo(0))
		Expect(containerstore.DiskLimit(0, 1000)).To(BeEquivalentTo(0), "0 is no limit")
		Expect(containerstore.DiskLimit(2, 1000)).To(BeEquivalentTo(2*1024*1024 + 1000))
	})

	It("names the instance's addresses and ports, empty when there are none", func() {
		env := containerstore.NetworkEnv("10.0.0.5", "10.254.0.2", []executor.PortMapping{
			{ContainerPort: 8080, HostPort: 61001}, {ContainerPort: 2222, HostPort: 61002}})
		Expect(env).To(Equal([]executor.EnvironmentVariable{
			{Name: "CF_INSTANCE_IP", Value: "10.0.0.5"},
			{Name: "CF_INSTANCE_INTERNAL_IP", Value: "10.254.0.2"},
			{Name: "CF_INSTANCE_PORT", Value: "61001"},
			{Name: "CF_INSTANCE_ADDR", Value: "10.0.0.5:61001"},
			{Name: "CF_INSTANCE_PORTS", Value: `[{"external":61001,"internal":8080},{"external":61002,"internal":2222}]`},
		}))
		Expect(containerstore.NetworkEnv("10.0.0.5", "10.254.0.2", nil)[2:]).To(Equal([]executor.EnvironmentVariable{
			{Name: "CF_INSTANCE_PORT", Value: ""},
			{Name: "CF_INSTANCE_ADDR", Value: ""},
			{Name: "CF_INSTANCE_PORTS", Value: "[]"},
		}))
	})

	It("turns egress rules into NetOut rules", func() {
		rules, err := containerstore.NetOutRules([]*models.SecurityGroupRule{
			{Protocol: "tcp", Destinations: []string{"10.0.0.0/8", "1.2.3.4", "5.6.7.8-5.6.7.9"}, Ports: []uint32{80, 443}, Log: true},
			{Protocol: "udp", Destinations: []string{"0.0.0.0/0"}, PortRange: &models.PortRange{Start: 53, End: 54}},
			{Protocol: "icmp", Destinations: []string{"0.0.0.0/0"}, IcmpInfo: &models.ICMPInfo{Type: 8, Code: 0}},
			{Protocol: "all", Destinations: []string{"9.9.9.9"}},
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(rules).To(HaveLen(4))
		Expect(rules[0].Protocol).To(Equal(garden.ProtocolTCP))
		Expect(rules[0].Log).To(BeTrue())
		Expect(rules[0].Ports).To(Equal([]garden.PortRange{{Start: 80, End: 80}, {Start: 443, End: 443}}))
		Expect(rules[0].Networks).To(HaveLen(3))
		Expect(rules[0].Networks[1].Start.String()).To(Equal("1.2.3.4"))
		Expect(rules[0].Networks[2].End.String()).To(Equal("5.6.7.9"))
		Expect(rules[1].Ports).To(Equal([]garden.PortRange{{Start: 53, End: 54}}))
		Expect(rules[2].ICMPs.Type).To(BeEquivalentTo(8))
		Expect(*rules[2].ICMPs.Code).To(BeEquivalentTo(0))
		Expect(rules[3].Protocol).To(Equal(garden.ProtocolAll))

		_, err = containerstore.NetOutRules([]*models.SecurityGroupRule{{Protocol: "tcp", Destinations: []string{"nope"}}})
		Expect(err).To(MatchError(`egress rule 0: destination "nope" is not an address`))
	})

	It("keeps a RunInfo in garden's properties, without the image credentials", func() {
		info := executor.RunInfo{
			RootFSPath: "docker:///img", ImageUsername: "u", ImagePassword: "p", CPUWeight: 7,
			Ports:           []executor.PortMapping{{ContainerPort: 8080}},
			LogConfig:       executor.LogConfig{Guid: "lg", Index: 2, SourceName: "CELL"},
			Setup:           &models.Action{Value: &models.Action_DownloadAction{DownloadAction: &models.DownloadAction{From: "http://x", To: "/y", User: "vcap"}}},
			Action:          &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{Path: "/testapp", User: "vcap"}}},
			Monitor:         &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{Path: "/check"}}},
			CheckDefinition: &models.CheckDefinition{Checks: []*models.Check{{Value: &models.Check_TcpCheck{TcpCheck: &models.TCPCheck{Port: 8080}}}}},
			Sidecars:        []executor.Sidecar{{Action: &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{Path: "/side"}}}, MemoryMB: 5}},
			EgressRules:     []*models.SecurityGroupRule{{Protocol: "tcp", Destinations: []string{"1.2.3.4"}}},
			Env:             []executor.EnvironmentVariable{{Name: "PORT", Value: "8080"}},
			ResultFile:      "/tmp/result",
		}
		raw, err := containerstore.EncodeInfo(info)
		Expect(err).NotTo(HaveOccurred())
		Expect(raw).NotTo(ContainSubstring(`"p"`))
		back, err := containerstore.DecodeInfo(raw)
		Expect(err).NotTo(HaveOccurred())
		Expect(back.ImageUsername).To(BeEmpty())
		Expect(back.ImagePassword).To(BeEmpty())
		Expect(proto.Equal(back.Setup, info.Setup)).To(BeTrue())
		Expect(proto.Equal(back.Action, info.Action)).To(BeTrue())
		Expect(proto.Equal(back.Monitor, info.Monitor)).To(BeTrue())
		Expect(proto.Equal(back.CheckDefinition, info.CheckDefinition)).To(BeTrue())
		Expect(back.Sidecars).To(HaveLen(1))
		Expect(proto.Equal(back.Sidecars[0].Action, info.Sidecars[0].Action)).To(BeTrue())
		Expect(back.Sidecars[0].MemoryMB).To(Equal(5))
		Expect(proto.Equal(back.EgressRules[0], info.EgressRules[0])).To(BeTrue())
		Expect(back.Ports).To(Equal(info.Ports))
		Expect(back.LogConfig).To(Equal(info.LogConfig))
		Expect(back.Env).To(Equal(info.Env))
		Expect(back.ResultFile).To(Equal("/tmp/result"))
		Expect(back.CPUWeight).To(BeEquivalentTo(7))
	})

	It("truncates long failure reasons as upstream does", func() {
		Expect(containerstore.Truncated("short")).To(Equal("short"))
		long := containerstore.Truncated(strings.Repeat("x", 2000))
		Expect(long).To(HaveLen(1024))
		Expect(long).To(HaveSuffix(" (error truncated)"))
	})
})
