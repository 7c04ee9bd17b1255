package server_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/auctioneer/server"
	"github.com/diego-go/diego/locket"
)

var _ = Describe("Cell presences", func() {
	It("lists the cells whose rep URL is usable and leaves out, with the reason, one without a scheme", func() {
		registerPresence("cell-ok", "http://127.0.0.1:1")
		cells, err := server.ConsulCells{Client: consulClient}.Cells(context.Background())
		Expect(err).NotTo(HaveOccurred())
		Expect(cells).To(HaveLen(1))
		Expect(cells[0].ID).To(Equal("cell-ok"))
		Expect(cells[0].URL).To(Equal("http://127.0.0.1:1"))

		registerPresence("cell-bare", "127.0.0.1:2")
		var logs bytes.Buffer
		lister := server.ConsulCells{Client: consulClient, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
		cells, err = lister.Cells(context.Background())
		Expect(err).NotTo(HaveOccurred())
		Expect(cells).To(HaveLen(1))
		Expect(logs.String()).To(ContainSubstring(`cell \"cell-bare\": rep_url \"127.0.0.1:2\": must be an absolute http:// or https:// URL`))
	})

	It("reports why when no presence is usable", func() {
		registerPresence("cell-bare", "127.0.0.1:2")
		_, err := server.ConsulCells{Client: consulClient}.Cells(context.Background())
		Expect(err).To(MatchError(ContainSubstring(`cell "cell-bare": rep_url "127.0.0.1:2"`)))
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
		_, err = server.ConsulCells{Client: client}.Cells(ctx)
		Expect(err).To(MatchError(context.DeadlineExceeded))
		Expect(time.Since(start)).To(BeNumerically("<", 2*time.Second))
	})
})
