package models_test

import (
	"encoding/json"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/models"
)

var _ = Describe("a cell's presence value", func() {
	// What an upstream rep writes (encoding/json of its CellPresence, whose MarshalJSON writes
	// annotations as {} when there are none), spelled out by hand.
	const upstream = `{"cell_id":"cell-1","rep_address":"http://10.0.0.1:1800","zone":"z1",` +
		`"capacity":{"memory_mb":1024,"disk_mb":2048,"containers":10},` +
		`"rootfs_provider_list":[{"name":"preloaded","properties":["cflinuxfs4"]},` +
		`{"name":"preloaded+layer","properties":["cflinuxfs4"]},{"name":"docker"}],` +
		`"placement_tags":["gpu"],"optional_placement_tags":["ssd"],` +
		`"rep_url":"https://cell-1.cell.service.cf.internal:1801",` +
		`"annotations":{"dc":"us-east-1","pool":"gpu"}}`
	presence := &models.CellPresence{
		CellId: "cell-1", RepAddress: "http://10.0.0.1:1800", Zone: "z1",
		Capacity: &models.CellCapacity{MemoryMb: 1024, DiskMb: 2048, Containers: 10},
		RootfsProviders: []*models.Provider{
			{Name: "preloaded", Properties: []string{"cflinuxfs4"}},
			{Name: "preloaded+layer", Properties: []string{"cflinuxfs4"}},
			{Name: "docker"},
		},
		PlacementTags: []string{"gpu"}, OptionalPlacementTags: []string{"ssd"},
		RepUrl:      "https://cell-1.cell.service.cf.internal:1801",
		Annotations: map[string]string{"pool": "gpu", "dc": "us-east-1"},
	}

	It("reads upstream's JSON and writes it back byte for byte", func() {
		p, err := models.DecodeCellPresence([]byte(upstream))
		Expect(err).NotTo(HaveOccurred())
		Expect(proto.Equal(p, presence)).To(BeTrue(), "%v", p)
		b, err := models.EncodeCellPresence(p)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(b)).To(Equal(upstream))
	})

	It("leaves out what upstream leaves out when empty and writes annotations always, as {}", func() {
		const bare = `{"cell_id":"c","rep_address":"","zone":"","rep_url":"","annotations":{}}`
		b, err := models.EncodeCellPresence(&models.CellPresence{CellId: "c"})
		Expect(err).NotTo(HaveOccurred())
		Expect(string(b)).To(Equal(bare))
		// An older upstream rep writes no annotations, a hand-made value may write null: both
		// read as none and are written back as upstream writes them now.
		for _, old := range []string{`{"cell_id":"c","rep_address":"","zone":"","rep_url":""}`, `{"cell_id":"c","annotations":null}`} {
			p, err := models.DecodeCellPresence([]byte(old))
			Expect(err).NotTo(HaveOccurred())
			Expect(p.GetAnnotations()).To(BeEmpty())
			b, err = models.EncodeCellPresence(p)
			Expect(err).NotTo(HaveOccurred())
			Expect(string(b)).To(Equal(bare))
		}
	})

	It("keeps the annotations in the protobuf the BBS lists cells with", func() {
		bin, err := proto.Marshal(presence)
		Expect(err).NotTo(HaveOccurred())
		back := &models.CellPresence{}
		Expect(proto.Unmarshal(bin, back)).To(Succeed())
		Expect(back.GetAnnotations()).To(Equal(map[string]string{"pool": "gpu", "dc": "us-east-1"}))
		var numbers []protowire.Number
		for rest := bin; len(rest) > 0; {
			num, typ, n := protowire.ConsumeTag(rest)
			Expect(n).To(BeNumerically(">", 0))
			m := protowire.ConsumeFieldValue(num, typ, rest[n:])
			Expect(m).To(BeNumerically(">=", 0))
			numbers = append(numbers, num)
			rest = rest[n+m:]
		}
		Expect(numbers).To(ContainElement(protowire.Number(9)), "upstream's field number of annotations")
	})

	It("refuses a value that is not a JSON presence", func() {
		_, err := models.DecodeCellPresence([]byte(`{"cell_id":`))
		Expect(err).To(MatchError(ContainSubstring("invalid cell presence JSON")))
		bin, err := proto.Marshal(presence)
		Expect(err).NotTo(HaveOccurred())
		_, err = models.DecodeCellPresence(bin)
		Expect(err).To(MatchError(ContainSubstring("invalid cell presence JSON")))
		Expect(json.Valid(bin)).To(BeFalse())
	})

	Describe("the rep's URL", func() {
		It("is rep_url, else rep_address, without a trailing slash", func() {
			Expect(models.CellRepURL(presence)).To(Equal("https://cell-1.cell.service.cf.internal:1801"))
			Expect(models.CellRepURL(&models.CellPresence{RepAddress: "http://10.0.0.1:1800/"})).To(Equal("http://10.0.0.1:1800"))
		})

		It("is refused, naming the cell and the field, when it has no http(s) scheme", func() {
			_, err := models.CellRepURL(&models.CellPresence{CellId: "c", RepAddress: "10.0.0.1:1800"})
			Expect(err).To(MatchError(`cell "c": rep_address "10.0.0.1:1800": must be an absolute http:// or https:// URL`))
			_, err = models.CellRepURL(&models.CellPresence{CellId: "c", RepUrl: "cell-1.example:1801"})
			Expect(err).To(MatchError(`cell "c": rep_url "cell-1.example:1801": must be an absolute http:// or https:// URL`))
			_, err = models.CellRepURL(&models.CellPresence{CellId: "c", RepUrl: "ftp://h:1"})
			Expect(err).To(MatchError(ContainSubstring("must be an absolute http:// or https:// URL")))
			_, err = models.CellRepURL(&models.CellPresence{CellId: "c"})
			Expect(err).To(MatchError(`cell "c": presence has neither rep_url nor rep_address`))
		})
	})
})
