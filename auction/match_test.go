package auction_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/auction"
	"github.com/diego-go/diego/models"
)

var _ = Describe("feasibility rules", func() {
	It("matches a rootfs as upstream does: any name of an arbitrary scheme, the opaque part in a fixed set", func() {
		s := &models.CellState{RootFSProviders: models.RootFSProviders{
			"preloaded": models.FixedSetRootFSProvider("cflinuxfs4"),
			"docker":    models.ArbitraryRootFSProvider(),
			"unknown":   {Type: "sideloaded"},
		}}
		Expect(auction.MatchRootFS(s, "preloaded:cflinuxfs4")).To(BeTrue())
		Expect(auction.MatchRootFS(s, "preloaded:cflinuxfs3")).To(BeFalse())
		Expect(auction.MatchRootFS(s, "docker:///busybox#1.36")).To(BeTrue())
		Expect(auction.MatchRootFS(s, "oci:///busybox")).To(BeFalse())
		Expect(auction.MatchRootFS(s, "unknown:x")).To(BeFalse())
		Expect(auction.MatchRootFS(s, "preloaded:%zz")).To(BeFalse())
	})

	It("matches a layered preloaded rootfs by its stack, not its query (Cloud Controller's layered droplets)", func() {
		s := &models.CellState{RootFSProviders: models.RootFSProviders{
			"preloaded":       models.FixedSetRootFSProvider("cflinuxfs4"),
			"preloaded+layer": models.FixedSetRootFSProvider("cflinuxfs4"),
		}}
		Expect(auction.MatchRootFS(s, "preloaded+layer:cflinuxfs4?layer=https://blobstore/droplet.tgz&layer_path=/home/vcap&layer_digest=abc")).To(BeTrue())
		Expect(auction.MatchRootFS(s, "preloaded+layer:cflinuxfs3?layer=https://blobstore/droplet.tgz")).To(BeFalse())
		Expect(auction.MatchRootFS(s, "preloaded:cflinuxfs4?anything")).To(BeTrue())
	})

	It("matches volume drivers: every one asked for", func() {
		s := &models.CellState{VolumeDrivers: []string{"nfs", "smb"}}
		Expect(auction.MatchVolumeDrivers(s, nil)).To(BeTrue())
		Expect(auction.MatchVolumeDrivers(s, []string{"smb", "nfs"})).To(BeTrue())
		Expect(auction.MatchVolumeDrivers(s, []string{"nfs", "ceph"})).To(BeFalse())
	})

	It("matches placement tags both ways", func() {
		s := &models.CellState{PlacementTags: []string{"gpu"}, OptionalPlacementTags: []string{"ssd"}}
		Expect(auction.MatchPlacementTags(s, []string{"gpu"})).To(BeTrue())
		Expect(auction.MatchPlacementTags(s, []string{"gpu", "ssd"})).To(BeTrue())
		Expect(auction.MatchPlacementTags(s, []string{"ssd"})).To(BeFalse())
		Expect(auction.MatchPlacementTags(s, nil)).To(BeFalse())
		Expect(auction.MatchPlacementTags(s, []string{"gpu", "arm"})).To(BeFalse())
	})

	It("formats the placement errors", func() {
		Expect(auction.InsufficientResourcesError([]string{"containers", "memory"})).To(Equal("insufficient resources: containers, memory"))
		Expect(auction.InsufficientResourcesError(nil)).To(Equal("insufficient resources"))
		Expect(auction.NoCompatibleCellError("rejected")).To(Equal("found no compatible cell: rejected"))
		Expect(auction.PlacementTagsError(nil)).To(Equal("found no compatible cell with no placement tags"))
		Expect(auction.PlacementTagsError([]string{`a"b`})).To(Equal(`found no compatible cell with placement tag "a"b"`))
		Expect(auction.PlacementTagsError([]string{"a", "b"})).To(Equal(`found no compatible cell with placement tags "a" and "b"`))
		Expect(auction.PlacementTagsError([]string{"a", "b", "c"})).To(Equal(`found no compatible cell with placement tags "a", "b" and "c"`))
	})
})
