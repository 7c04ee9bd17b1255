package fileserver_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestFileserver(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "fileserver Suite")
}
