package main_test

import (
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/types"
)

func gbytesSay(s string) types.GomegaMatcher { return gbytes.Say(s) }
