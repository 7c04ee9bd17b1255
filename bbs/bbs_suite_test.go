package bbs_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestBBSClient(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "BBS Client Suite")
}
