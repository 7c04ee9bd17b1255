package auctioneer_test

import (
	"context"
	"net"
	"time"

	"google.golang.org/protobuf/proto"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/auctioneer"
	"github.com/diego-go/diego/locket"
	"github.com/diego-go/diego/models"
)

var _ = Describe("Cell presences", func() {
	presence := &models.CellPresence{CellId: "cell-1", RepAddress: "10.0.0.1:1800", RepUrl: "https://cell-1.cell.service.cf.internal:1801", Zone: "z1",
		Capacity: &models.CellCapacity{MemoryMb: 1024, DiskMb: 2048, Containers: 10}, PlacementTags: []string{"gpu"}}

	It("encodes as snake_case JSON and decodes JSON and binary protobuf", func() {
		b, err := auctioneer.EncodeCellPresence(presence)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(b)).To(And(ContainSubstring(`"cell_id":"cell-1"`), ContainSubstring(`"rep_url"`)))
		p, err := auctioneer.DecodeCellPresence(b)
		Expect(err).NotTo(HaveOccurred())
		Expect(proto.Equal(p, presence)).To(BeTrue())

		bin, err := proto.Marshal(presence)
		Expect(err).NotTo(HaveOccurred())
		p, err = auctioneer.DecodeCellPresence(bin)
		Expect(err).NotTo(HaveOccurred())
		Expect(proto.Equal(p, presence)).To(BeTrue())

		p, err = auctioneer.DecodeCellPresence([]byte(`{"cellId":"c","repAddress":"h:1","unknown":1}`))
		Expect(err).NotTo(HaveOccurred())
		Expect(p.GetCellId()).To(Equal("c"))
		_, err = auctioneer.DecodeCellPresence([]byte(`{"cell_id":`))
		Expect(err).To(MatchError(ContainSubstring("invalid cell presence JSON")))
	})

	It("prefers rep_url and adds http:// to a bare rep_address", func() {
		Expect(auctioneer.RepURL(presence)).To(Equal("https://cell-1.cell.service.cf.internal:1801"))
		Expect(auctioneer.RepURL(&models.CellPresence{RepAddress: "10.0.0.1:1800"})).To(Equal("http://10.0.0.1:1800"))
		Expect(auctioneer.RepURL(&models.CellPresence{RepAddress: "http://10.0.0.1:1800/"})).To(Equal("http://10.0.0.1:1800"))
		Expect(auctioneer.RepURL(&models.CellPresence{})).To(BeEmpty())
	})

	It("stops listing the cells when its context ends, however long the agent takes", func() {
		silent, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(silent.Close)
		client, err := locket.NewClient(silent.Addr().String())
		Expect(err).NotTo(HaveOccurred())

		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err = auctioneer.ConsulCells{Client: client}.Cells(ctx)
		Expect(err).To(MatchError(context.DeadlineExceeded))
		Expect(time.Since(start)).To(BeNumerically("<", 2*time.Second))
	})
})
