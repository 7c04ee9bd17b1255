package handlers_test

import (
	"bytes"
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/models"
)

var _ = Describe("a desired LRP with fields this project does not model", func() {
	It("reads back through the API byte for byte, as an upstream client sent them", func() {
		// upstream's volume_mounted_files (38: path "/etc/config", content "key"), which this
		// project does not model, and its sidecars (36: an action, disk_mb 64, memory_mb 128),
		// which it does, written out as an upstream client encodes them
		extra := bytes.Join([][]byte{
			{0xb2, 0x02, 0x12, 0x0a, 0x0b}, []byte("/etc/config"), {0x12, 0x03}, []byte("key"),
		}, nil)
		run := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "/s")  // RunAction.path
		run = protowire.AppendString(protowire.AppendTag(run, 6, protowire.BytesType), "vcap") // .user
		action := protowire.AppendBytes(protowire.AppendTag(nil, 3, protowire.BytesType), run) // Action.run_action
		sc := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), action)  // Sidecar.action
		sc = protowire.AppendVarint(protowire.AppendTag(sc, 2, protowire.VarintType), 64)      // .disk_mb
		sc = protowire.AppendVarint(protowire.AppendTag(sc, 3, protowire.VarintType), 128)     // .memory_mb
		sidecar := protowire.AppendBytes(protowire.AppendTag(nil, 36, protowire.BytesType), sc)
		own := desired("upstream-app", 1)
		own.StopGracePeriodMs = 30000 // this project's extension, kept like any field
		d, err := proto.Marshal(own)
		Expect(err).NotTo(HaveOccurred())
		req := protowire.AppendTag(nil, 1, protowire.BytesType) // DesireLRPRequest.desired_lrp
		req = protowire.AppendBytes(req, bytes.Join([][]byte{d, sidecar, extra}, nil))
		status, e := postRaw(bbs.DesireDesiredLRPRoute, req)
		Expect(status).To(Equal(http.StatusOK))
		Expect(e).To(BeNil())

		get, err := proto.Marshal(&models.DesiredLRPByProcessGuidRequest{ProcessGuid: "upstream-app"})
		Expect(err).NotTo(HaveOccurred())
		resp := &models.DesiredLRPResponse{}
		Expect(postDecode(bbs.DesiredLRPByProcessGuidRoute, get, resp)).To(Equal(http.StatusOK))
		Expect(resp.GetError()).To(BeNil())
		Expect([]byte(resp.GetDesiredLrp().ProtoReflect().GetUnknown())).To(Equal(extra))
		Expect(resp.GetDesiredLrp().GetSidecars()).To(HaveLen(1))
		s := resp.GetDesiredLrp().GetSidecars()[0]
		Expect([]int32{s.GetDiskMb(), s.GetMemoryMb()}).To(Equal([]int32{64, 128}))
		Expect(s.GetAction().GetRunAction().GetPath()).To(Equal("/s"))
		Expect(resp.GetDesiredLrp().GetStopGracePeriodMs()).To(Equal(uint32(30000)))
		list := &models.DesiredLRPsResponse{}
		Expect(postDecode(bbs.DesiredLRPsRoute, nil, list)).To(Equal(http.StatusOK))
		Expect(list.GetDesiredLrps()).To(HaveLen(1))
		Expect([]byte(list.GetDesiredLrps()[0].ProtoReflect().GetUnknown())).To(Equal(extra))
	})
})
