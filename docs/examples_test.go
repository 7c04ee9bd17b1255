package docs_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"
	"google.golang.org/protobuf/proto"

	auctioneerconfig "github.com/diego-go/diego/cmd/auctioneer/config"
	bbsconfig "github.com/diego-go/diego/cmd/bbs/config"
	convergerconfig "github.com/diego-go/diego/cmd/converger/config"
	fileserverconfig "github.com/diego-go/diego/cmd/file-server/config"
	gardenconfig "github.com/diego-go/diego/cmd/garden/config"
	repconfig "github.com/diego-go/diego/cmd/rep/config"
	routeemitterconfig "github.com/diego-go/diego/cmd/route-emitter/config"
	routerconfig "github.com/diego-go/diego/cmd/router/config"
	"github.com/diego-go/diego/internal/daemontest"
	"github.com/diego-go/diego/internal/testservers"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/router"
	"github.com/diego-go/diego/tlsconfig"
)

// Each daemon's config package loads its example as the daemon does: strict decoding over the
// defaults, then validation.
var loaders = []struct {
	name   string
	load   func(path string) error
	config any // the Config type, for its keys
}{
	{"auctioneer", func(p string) error { _, err := auctioneerconfig.Load(p); return err }, auctioneerconfig.Config{}},
	{"bbs", func(p string) error { _, err := bbsconfig.Load(p); return err }, bbsconfig.Config{}},
	{"converger", func(p string) error { _, err := convergerconfig.Load(p); return err }, convergerconfig.Config{}},
	// its static_directory is relative: loaded where the daemons run
	{"file-server", func(p string) error {
		return inWorkDir(p, func(p string) error { _, err := fileserverconfig.Load(p); return err })
	}, fileserverconfig.Config{}},
	{"garden", func(p string) error { _, err := gardenconfig.Load(p); return err }, gardenconfig.Config{}},
	{"rep", func(p string) error { _, err := repconfig.Load(p); return err }, repconfig.Config{}},
	{"route-emitter", func(p string) error { _, err := routeemitterconfig.Load(p); return err }, routeemitterconfig.Config{}},
	{"router", func(p string) error { _, err := routerconfig.Load(p); return err }, routerconfig.Config{}},
}

// jsonKeys are the keys of a config struct's JSON, embedded structs' included.
func jsonKeys(t reflect.Type) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			keys = append(keys, jsonKeys(f.Type)...)
			continue
		}
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	return keys
}

var jsonBlock = regexp.MustCompile("(?s)```json\n(.*?)```")

var _ = Describe("the example configs", func() {
	It("has one example per daemon under cmd/ that takes a -config file, and no other", func() {
		examples, err := filepath.Glob(filepath.Join("examples", "*.json"))
		Expect(err).NotTo(HaveOccurred())
		var names []string
		for _, e := range examples {
			names = append(names, strings.TrimSuffix(filepath.Base(e), ".json"))
		}
		var want []string
		for _, l := range loaders {
			want = append(want, l.name)
			_, err := os.Stat(filepath.Join("..", "cmd", l.name, "config"))
			Expect(err).NotTo(HaveOccurred(), "cmd/%s/config", l.name)
		}
		configs, err := filepath.Glob(filepath.Join("..", "cmd", "*", "config"))
		Expect(err).NotTo(HaveOccurred())
		Expect(configs).To(HaveLen(len(loaders)), "a daemon with a config package needs an example here")
		Expect(names).To(ConsistOf(want))
	})

	for _, l := range loaders {
		name, load := l.name, l.load
		It("names every key of cmd/"+name+"/config in docs/"+name+".md", func() {
			doc, err := os.ReadFile(name + ".md")
			Expect(err).NotTo(HaveOccurred())
			keys := jsonKeys(reflect.TypeOf(l.config))
			Expect(keys).NotTo(BeEmpty())
			for _, k := range keys {
				Expect(string(doc)).To(ContainSubstring("`"+k+"`"), "docs/%s.md does not name the key %s", name, k)
			}
		})

		It("loads "+name+".json through cmd/"+name+"/config", func() {
			Expect(load(filepath.Join("examples", name+".json"))).To(Succeed())
		})

		It("shows "+name+".json in docs/"+name+".md as it is", func() {
			example, err := os.ReadFile(filepath.Join("examples", name+".json"))
			Expect(err).NotTo(HaveOccurred())
			doc, err := os.ReadFile(name + ".md")
			Expect(err).NotTo(HaveOccurred())
			var blocks []string
			for _, m := range jsonBlock.FindAllSubmatch(doc, -1) {
				blocks = append(blocks, string(m[1]))
			}
			Expect(blocks).To(ContainElement(string(example)), "docs/%s.md needs a ```json block equal to docs/examples/%s.json", name, name)
		})
	}
})

// inWorkDir calls load with p made absolute, in workDir (where certs/ and static/ are, as the
// examples name them).
func inWorkDir(p string, load func(p string) error) error {
	abs, err := filepath.Abs(p)
	if err != nil {
		return err
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	if err := os.Chdir(workDir); err != nil {
		return err
	}
	defer func() { _ = os.Chdir(wd) }()
	return load(abs)
}

// startExample starts the daemon at bin with the example name.json, in workDir (where certs/ is,
// as the example names it), after pointing only its addresses at this machine's free ports and
// test servers.
func startExample(bin, name string, addresses map[string]any) *gexec.Session {
	GinkgoHelper()
	b, err := os.ReadFile(filepath.Join("examples", name+".json"))
	Expect(err).NotTo(HaveOccurred())
	cfg := map[string]any{}
	Expect(json.Unmarshal(b, &cfg)).To(Succeed())
	for k, v := range addresses {
		Expect(cfg).To(HaveKey(k), "the example sets %s", k)
		cfg[k] = v
	}
	// The daemon inherits the working directory: the example's relative paths resolve there.
	var s *gexec.Session
	Expect(inWorkDir(daemontest.WriteConfig(cfg), func(path string) error {
		s = daemontest.Start(bin, "-config", path)
		return nil
	})).To(Succeed())
	return s
}

// leads waits until GET /ping on the health listener at addr answers 200 with healthy (and,
// where the body says, leader) true.
func leads(addr string) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		resp, err := (&http.Client{Timeout: time.Second}).Get("http://" + addr + "/ping")
		g.Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		var h map[string]bool
		g.Expect(json.NewDecoder(resp.Body).Decode(&h)).To(Succeed())
		g.Expect(resp.StatusCode).To(Equal(http.StatusOK))
		g.Expect(h).To(HaveKeyWithValue("healthy", true))
		if _, ok := h["leader"]; ok {
			g.Expect(h).To(HaveKeyWithValue("leader", true))
		}
	}, 30*time.Second, 100*time.Millisecond).Should(Succeed())
}

func post(client *http.Client, url, body string) *http.Response {
	GinkgoHelper()
	var resp *http.Response
	Eventually(func() error {
		var err error
		resp, err = client.Post(url, "application/octet-stream", bytes.NewBufferString(body))
		return err
	}, 30*time.Second, 100*time.Millisecond).Should(Succeed())
	DeferCleanup(resp.Body.Close)
	return resp
}

var _ = Describe("the BBS, the auctioneer and the converger started with their examples", func() {
	It("take their locks and serve their APIs over mutual TLS with the certificates the examples name; the converger converges the BBS", func() {
		bbsAPI, bbsHealth := daemontest.FreeAddr(), daemontest.FreeAddr()
		auctioneerAPI, auctioneerHealth := daemontest.FreeAddr(), daemontest.FreeAddr()
		startExample(bbsPath, "bbs", map[string]any{
			"listen_address": bbsAPI, "health_address": bbsHealth, "consul_address": consul.HTTPAddr(),
			"etcd_endpoints": []string{etcd.ClientURL()}, "auctioneer_url": "https://" + auctioneerAPI,
		})
		startExample(auctioneerPath, "auctioneer", map[string]any{
			"listen_address": auctioneerAPI, "health_address": auctioneerHealth, "consul_address": consul.HTTPAddr(),
			"bbs_url": "https://" + bbsAPI,
		})
		convergerHealth := daemontest.FreeAddr()
		converger := startExample(convergerPath, "converger", map[string]any{
			"health_address": convergerHealth, "consul_address": consul.HTTPAddr(), "bbs_url": "https://" + bbsAPI,
		})
		leads(bbsHealth)
		leads(auctioneerHealth)
		leads(convergerHealth)

		tlsConfig, err := tlsconfig.Client(certs.ClientCert, certs.ClientKey, certs.CACert)
		Expect(err).NotTo(HaveOccurred())
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig}}

		resp := post(client, "https://"+bbsAPI+"/v1/ping", "")
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		body, err := io.ReadAll(resp.Body)
		Expect(err).NotTo(HaveOccurred())
		var ping models.PingResponse
		Expect(proto.Unmarshal(body, &ping)).To(Succeed())
		Expect(ping.GetAvailable()).To(BeTrue())

		resp = post(client, "https://"+auctioneerAPI+"/v1/tasks", "[]")
		Expect(resp.StatusCode).To(Equal(http.StatusAccepted))

		// the converger's first pass, asked for when it won its lock, succeeded
		Eventually(converger.Err, 10*time.Second).Should(gbytes.Say(`"msg":"convergence pass done".*"reason":"lock won"`))
	})
})

var _ = Describe("the file server started with its example", func() {
	It("serves the static directory under /v1/static/", func() {
		addr, health := daemontest.FreeAddr(), daemontest.FreeAddr()
		Expect(os.WriteFile(filepath.Join(workDir, "static", "bundle.tgz"), []byte("bundle"), 0o644)).To(Succeed())
		startExample(fileServerPath, "file-server", map[string]any{"listen_address": addr, "health_address": health})
		leads(health)
		resp, err := http.Get("http://" + addr + "/v1/static/bundle.tgz")
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		Expect(string(b)).To(Equal("bundle"))
		Expect(resp.Header.Get("ETag")).NotTo(BeEmpty())
	})
})

var _ = Describe("the router started with its example", func() {
	It("answers its health check and proxies a route registered over NATS", func() {
		natsServer, err := testservers.StartNATS(GinkgoT().TempDir())
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { _ = natsServer.Stop() })
		addr, health, metrics := daemontest.FreeAddr(), daemontest.FreeAddr(), daemontest.FreeAddr()
		startExample(routerPath, "router", map[string]any{
			"listen_address": addr, "health_address": health, "metrics_address": metrics,
			"nats_urls": []string{natsServer.URL()},
		})
		Eventually(func() int {
			resp, err := http.Get("http://" + health + "/health")
			if err != nil {
				return 0
			}
			resp.Body.Close()
			return resp.StatusCode
		}, 30*time.Second, 100*time.Millisecond).Should(Equal(http.StatusOK))

		backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "hello") }))
		DeferCleanup(backend.Close)
		port, err := strconv.Atoi(backend.URL[strings.LastIndex(backend.URL, ":")+1:])
		Expect(err).NotTo(HaveOccurred())
		nc, err := nats.Connect(natsServer.URL())
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(nc.Close)
		msg, err := json.Marshal(router.RegistryMessage{Host: "127.0.0.1", Port: uint16(port), URIs: []string{"app.example.com"}})
		Expect(err).NotTo(HaveOccurred())
		Expect(nc.Publish(router.RegisterSubject, msg)).To(Succeed())

		get := func(host string) (int, string) {
			req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
			Expect(err).NotTo(HaveOccurred())
			req.Host = host
			resp, err := http.DefaultClient.Do(req)
			Expect(err).NotTo(HaveOccurred())
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			Expect(err).NotTo(HaveOccurred())
			return resp.StatusCode, string(b)
		}
		Eventually(func() string { _, body := get("app.example.com"); return body }, 10*time.Second, 50*time.Millisecond).Should(Equal("hello"))
		code, _ := get("unknown.example.com")
		Expect(code).To(Equal(http.StatusNotFound))
	})
})
