package handlers_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/bbs/handlers"
	"github.com/diego-go/diego/models"
)

// watchedBody records whether it was read.
type watchedBody struct{ read bool }

func (b *watchedBody) Read(p []byte) (int, error) {
	b.read = true
	return 0, io.EOF
}

var _ = Describe("the bound on request bodies", func() {
	It("refuses a body announced over the limit without reading it", func() {
		body := &watchedBody{}
		req := httptest.NewRequest(http.MethodPost, bbs.DesireDesiredLRPRoute, body)
		req.ContentLength = handlers.MaxBodyBytes + 1
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		Expect(rec.Code).To(Equal(http.StatusRequestEntityTooLarge))
		Expect(body.read).To(BeFalse(), "the body of a request announced over the limit was read")
	})

	It("is configurable", func() {
		small := handlers.New(handlers.Config{DB: store, Service: svc, MaxRequestBytes: 2048})
		post := func(annotation int, chunked bool) int {
			d := desired("sized", 1)
			d.Annotation = strings.Repeat("a", annotation)
			b, err := proto.Marshal(&models.DesireLRPRequest{DesiredLrp: d})
			Expect(err).NotTo(HaveOccurred())
			req := httptest.NewRequest(http.MethodPost, bbs.DesireDesiredLRPRoute, bytes.NewReader(b))
			if chunked {
				req.ContentLength = -1 // no length announced: the limit applies while reading
			}
			rec := httptest.NewRecorder()
			small.ServeHTTP(rec, req)
			return rec.Code
		}
		Expect(post(3000, false)).To(Equal(http.StatusRequestEntityTooLarge))
		Expect(post(3000, true)).To(Equal(http.StatusRequestEntityTooLarge))
		Expect(client.DesiredLRPs(ctx, bbs.DesiredLRPFilter{})).To(BeEmpty())
		Expect(post(1000, true)).To(Equal(http.StatusOK))
		Expect(client.DesiredLRPs(ctx, bbs.DesiredLRPFilter{})).To(HaveLen(1))
	})
})
