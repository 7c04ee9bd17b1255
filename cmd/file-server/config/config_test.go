package config_test

import (
	"encoding/json"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/cmd/file-server/config"
)

var _ = Describe("Config", func() {
	write := func(v any) string {
		GinkgoHelper()
		b, err := json.Marshal(v)
		Expect(err).NotTo(HaveOccurred())
		p := filepath.Join(GinkgoT().TempDir(), "file-server.json")
		Expect(os.WriteFile(p, b, 0o644)).To(Succeed())
		return p
	}

	It("fills the defaults and reads every key", func() {
		dir := GinkgoT().TempDir()
		c, err := config.Load(write(map[string]any{"health_address": "127.0.0.1:8083", "static_directory": dir}))
		Expect(err).NotTo(HaveOccurred())
		Expect(c.ListenAddress).To(Equal("0.0.0.0:8080"))
		Expect(c.LogLevel).To(Equal("info"))
		Expect(c.StaticDirectory).To(Equal(dir))

		c, err = config.Load(write(map[string]any{"listen_address": "127.0.0.1:1", "health_address": "127.0.0.1:8083", "static_directory": dir, "log_level": "warn"}))
		Expect(err).NotTo(HaveOccurred())
		Expect(c.ListenAddress).To(Equal("127.0.0.1:1"))
		Expect(c.LogLevel).To(Equal("warn"))
	})

	It("rejects unknown fields, naming the file and the field", func() {
		p := write(map[string]any{"health_address": "127.0.0.1:8083", "static_directory": GinkgoT().TempDir(), "static_dir": "x"})
		_, err := config.Load(p)
		Expect(err).To(MatchError(And(ContainSubstring(p), ContainSubstring("static_dir"))))
	})

	It("lists every problem", func() {
		_, err := config.Load(write(map[string]any{"listen_address": "nope", "health_address": "0.0.0.0:8083", "log_level": "loud"}))
		Expect(err).To(HaveOccurred())
		for _, want := range []string{`listen_address "nope"`, `health_address "0.0.0.0:8083" must be a loopback address`, `log_level "loud"`, "static_directory is required"} {
			Expect(err.Error()).To(ContainSubstring(want))
		}
		_, err = config.Load(write(map[string]any{"static_directory": "/does/not/exist"}))
		Expect(err).To(MatchError(And(ContainSubstring("health_address is required"), ContainSubstring("static_directory: stat /does/not/exist: no such file or directory"))))
		f := filepath.Join(GinkgoT().TempDir(), "f")
		Expect(os.WriteFile(f, nil, 0o644)).To(Succeed())
		_, err = config.Load(write(map[string]any{"health_address": "127.0.0.1:8083", "static_directory": f}))
		Expect(err).To(MatchError(ContainSubstring("static_directory " + f + " is not a directory")))
	})
})
