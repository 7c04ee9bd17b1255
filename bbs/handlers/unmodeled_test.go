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
		// upstream's sidecars (36: disk_mb 64, memory_mb 128) and volume_mounted_files (38: path
		// "/etc/config", content "key"), written out as an upstream client encodes them
		extra := bytes.Join([][]byte{
			{0xa2, 0x02, 0x05, 0x10, 0x40, 0x18, 0x80, 0x01},
			{0xb2, 0x02, 0x12, 0x0a, 0x0b}, []byte("/etc/config"), {0x12, 0x03}, []byte("key"),
		}, nil)
		d, err := proto.Marshal(desired("upstream-app", 1))
		Expect(err).NotTo(HaveOccurred())
		req := protowire.AppendTag(nil, 1, protowire.BytesType) // DesireLRPRequest.desired_lrp
		req = protowire.AppendBytes(req, append(d, extra...))
		status, e := postRaw(bbs.DesireDesiredLRPRoute, req)
		Expect(status).To(Equal(http.StatusOK))
		Expect(e).To(BeNil())

		get, err := proto.Marshal(&models.DesiredLRPByProcessGuidRequest{ProcessGuid: "upstream-app"})
		Expect(err).NotTo(HaveOccurred())
		resp := &models.DesiredLRPResponse{}
		Expect(postDecode(bbs.DesiredLRPByProcessGuidRoute, get, resp)).To(Equal(http.StatusOK))
		Expect(resp.GetError()).To(BeNil())
		Expect([]byte(resp.GetDesiredLrp().ProtoReflect().GetUnknown())).To(Equal(extra))
		list := &models.DesiredLRPsResponse{}
		Expect(postDecode(bbs.DesiredLRPsRoute, nil, list)).To(Equal(http.StatusOK))
		Expect(list.GetDesiredLrps()).To(HaveLen(1))
		Expect([]byte(list.GetDesiredLrps()[0].ProtoReflect().GetUnknown())).To(Equal(extra))
	})
})
