package handlers_test

import (
	"bytes"
	"io"
	"net/http"

	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/bbs/convergence"
	"github.com/diego-go/diego/models"
)

// postRaw posts body to route and returns the HTTP status and the Error of field 1.
func postRaw(route string, body []byte) (int, *models.Error) {
	r := &models.ActualLRPLifecycleResponse{} // every response has the Error in field 1
	status := postDecode(route, body, r)
	return status, r.GetError()
}

// postDecode posts body to route and decodes a 200 answer into resp.
func postDecode(route string, body []byte, resp proto.Message) int {
	r, err := http.Post(server.URL+route, "application/x-protobuf", bytes.NewReader(body))
	Expect(err).NotTo(HaveOccurred())
	defer r.Body.Close()
	out, err := io.ReadAll(r.Body)
	Expect(err).NotTo(HaveOccurred())
	if r.StatusCode == http.StatusOK {
		Expect(proto.Unmarshal(out, resp)).To(Succeed())
	}
	return r.StatusCode
}

func post(route string, req proto.Message) *models.Error {
	b, err := proto.Marshal(req)
	Expect(err).NotTo(HaveOccurred())
	status, e := postRaw(route, b)
	Expect(status).To(Equal(http.StatusOK))
	return e
}

// postInto posts req to route and decodes the answer into resp, which it returns.
func postInto[R proto.Message](route string, req proto.Message, resp R) R {
	b, err := proto.Marshal(req)
	Expect(err).NotTo(HaveOccurred())
	proto.Reset(resp)
	Expect(postDecode(route, b, resp)).To(Equal(http.StatusOK))
	return resp
}

// convergenceWith is upstream's thresholds with change applied.
func convergenceWith(change func(c *convergence.Config)) convergence.Config {
	c := convergence.DefaultConfig()
	change(&c)
	return c
}

func desired(guid string, instances int32) *models.DesiredLRP {
	return &models.DesiredLRP{
		ProcessGuid: guid,
		Domain:      "cf-apps",
		RootFs:      "preloaded:cflinuxfs4",
		Instances:   instances,
		MemoryMb:    128,
		DiskMb:      256,
		Action:      &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{Path: "/bin/app", User: "vcap"}}},
		Routes:      &models.Routes{Routes: map[string][]byte{"cf-router": []byte(`[{"hostnames":["a.example.com"],"port":8080}]`)}},
	}
}

func taskDef() *models.TaskDefinition {
	return &models.TaskDefinition{
		RootFs:   "docker:///busybox",
		MemoryMb: 64,
		Action:   &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{Path: "/bin/true", User: "root"}}},
	}
}

func key(guid string, index int32) *models.ActualLRPKey {
	return &models.ActualLRPKey{ProcessGuid: guid, Index: index, Domain: "cf-apps"}
}

func ikey(instance, cell string) *models.ActualLRPInstanceKey {
	return &models.ActualLRPInstanceKey{InstanceGuid: instance, CellId: cell}
}

func errType(err error) models.Error_Type {
	var me *models.Error
	ExpectWithOffset(1, err).To(HaveOccurred())
	ok := false
	if e, isE := err.(*models.Error); isE {
		me, ok = e, true
	}
	ExpectWithOffset(1, ok).To(BeTrue(), "%T %v", err, err)
	return me.GetType()
}
