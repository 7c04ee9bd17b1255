package commands

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"os"
	"strings"

	"github.com/diego-go/diego/tlsconfig"
)

// setting is one configuration value: its flag, its environment variable (also a key of the env
// file) and, for the rep's, the BBS setting it defaults to.
type setting struct {
	flag, env string
	fallback  *setting
	value     string
}

type config struct {
	envFile                        string
	bbsURL, bbsCA, bbsCert, bbsKey setting
	repCA, repCert, repKey         setting
	natsURL, appDomain, fileServer setting
	fileVars                       map[string]string
	loaded                         bool
}

func newConfig() *config {
	c := &config{
		bbsURL:  setting{flag: "bbs-url", env: "BBS_URL"},
		bbsCA:   setting{flag: "bbs-ca-cert-file", env: "BBS_CA_CERT_FILE"},
		bbsCert: setting{flag: "bbs-cert-file", env: "BBS_CERT_FILE"},
		bbsKey:  setting{flag: "bbs-key-file", env: "BBS_KEY_FILE"},
		natsURL: setting{flag: "nats-url", env: "DIEGO_NATS_URL"},
		// the domain under which create-app routes an app by default: NAME.<domain>
		appDomain: setting{flag: "app-domain", env: "DIEGO_APP_DOMAIN"},
		// where a --download that names no URL, only a file, is fetched from
		fileServer: setting{flag: "file-server-url", env: "DIEGO_FILE_SERVER_URL"},
	}
	c.repCA = setting{flag: "rep-ca-cert-file", env: "REP_CA_CERT_FILE", fallback: &c.bbsCA}
	c.repCert = setting{flag: "rep-cert-file", env: "REP_CERT_FILE", fallback: &c.bbsCert}
	c.repKey = setting{flag: "rep-key-file", env: "REP_KEY_FILE", fallback: &c.bbsKey}
	return c
}

func (c *config) settings() []*setting {
	return []*setting{&c.bbsURL, &c.bbsCA, &c.bbsCert, &c.bbsKey, &c.repCA, &c.repCert, &c.repKey, &c.natsURL, &c.appDomain, &c.fileServer}
}

// get resolves s: its flag, else its environment variable, else the env file, else its fallback.
func (c *config) get(s *setting) (string, error) {
	if s.value != "" {
		return s.value, nil
	}
	if v := os.Getenv(s.env); v != "" {
		return v, nil
	}
	if err := c.loadEnvFile(); err != nil {
		return "", err
	}
	if v := c.fileVars[s.env]; v != "" {
		return v, nil
	}
	if s.fallback != nil {
		return c.get(s.fallback)
	}
	return "", nil
}

// loadEnvFile reads the env file (--env-file, else DIEGO_ENV_FILE) once: KEY=VALUE lines, an
// optional "export " before the key, blank lines and #-comments ignored, quotes around a value
// removed.
func (c *config) loadEnvFile() error {
	if c.loaded {
		return nil
	}
	c.loaded = true
	c.fileVars = map[string]string{}
	path := c.envFile
	if path == "" {
		path = os.Getenv("DIEGO_ENV_FILE")
	}
	if path == "" {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("cannot read the env file %s: %w", path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" {
			return fmt.Errorf("env file %s line %d: want KEY=VALUE, got %q", path, n, line)
		}
		value = strings.TrimSpace(value)
		if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
			value = value[1 : len(value)-1]
		}
		c.fileVars[key] = value
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("cannot read the env file %s: %w", path, err)
	}
	return nil
}

// bbs returns the BBS URLs (one, or several BBSs separated by commas: calls go to the one that
// answers, as a standby does not) and their TLS config (nil when none is https).
func (c *config) bbs() ([]string, *tls.Config, error) {
	setting, err := c.get(&c.bbsURL)
	if err != nil {
		return nil, nil, err
	}
	if setting == "" {
		return nil, nil, fmt.Errorf("no BBS URL configured: give --%s, set %s, or name an env file setting it with --env-file or DIEGO_ENV_FILE", c.bbsURL.flag, c.bbsURL.env)
	}
	var urls []string
	for _, url := range strings.Split(setting, ",") {
		url = strings.TrimSpace(url)
		if !strings.HasPrefix(url, "https://") && !strings.HasPrefix(url, "http://") {
			return nil, nil, fmt.Errorf("BBS URL %q: want http:// or https://", url)
		}
		urls = append(urls, url)
	}
	for _, url := range urls {
		if tlsCfg, err := c.tls(url, &c.bbsCA, &c.bbsCert, &c.bbsKey); err != nil || tlsCfg != nil {
			return urls, tlsCfg, err
		}
	}
	return urls, nil, nil
}

// tls builds the client TLS config for url from its three file settings, naming the missing
// setting or the unreadable file.
func (c *config) tls(url string, ca, cert, key *setting) (*tls.Config, error) {
	if !strings.HasPrefix(url, "https://") {
		return nil, nil
	}
	files := map[*setting]string{}
	for _, s := range []*setting{ca, cert, key} {
		v, err := c.get(s)
		if err != nil {
			return nil, err
		}
		if v == "" {
			return nil, fmt.Errorf("%s is https but no %s is configured: give --%s or set %s", url, strings.TrimSuffix(s.flag, "-file")+" file", s.flag, s.env)
		}
		files[s] = v
	}
	cfg, err := tlsconfig.Client(files[cert], files[key], files[ca])
	if err != nil {
		return nil, fmt.Errorf("TLS for %s: %w", url, err)
	}
	return cfg, nil
}
