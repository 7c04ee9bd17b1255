package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/tlsconfig"
)

const (
	// DemoApp is the demo LRP's process guid and log guid.
	DemoApp  = "demo"
	demoPort = 8080
	// demoArchive is the test app the file-server serves and the cells download into demoDir.
	demoArchive = "testapp.tgz"
	demoDir     = "/home/vcap/app"
)

// writeDemoArchive packs the built test app as a gzipped tar (a download keeps an archive's
// modes; a plain file would arrive unexecutable). The archive of the same binary is the same
// bytes, and is not written again: the cells' copies stay valid (the file-server's ETag).
func (d *Deployment) writeDemoArchive() (string, error) {
	bin, err := os.ReadFile(d.bins["testapp"])
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	if err := tw.WriteHeader(&tar.Header{Name: "testapp", Mode: 0o755, Size: int64(len(bin)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}); err != nil {
		return "", err
	}
	if _, err := tw.Write(bin); err != nil {
		return "", err
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	if err := gz.Close(); err != nil {
		return "", err
	}
	path := filepath.Join(d.staticDir, demoArchive)
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, buf.Bytes()) {
		return "ok, unchanged", nil
	}
	if err := os.MkdirAll(d.staticDir, 0o755); err != nil {
		return "", err
	}
	return "", writeFileAtomic(path, buf.Bytes())
}

func (d *Deployment) bbsClient() (*bbs.Client, error) {
	t, err := tlsconfig.Client(d.certs.Cert["client"], d.certs.Key["client"], d.certs.CA)
	if err != nil {
		return nil, err
	}
	return bbs.NewClient(d.BBSURL(), t), nil
}

// desireDemo desires the demo app with diego create-app, unless the BBS has it already; it says
// whether it did. The app is the test app, downloaded from the file-server into a busybox
// container, one instance per cell, routed at DemoHost (the env file's app domain).
func (d *Deployment) desireDemo(ctx context.Context) (bool, error) {
	c, err := d.bbsClient()
	if err != nil {
		return false, err
	}
	if _, err := c.DesiredLRPByProcessGuid(ctx, DemoApp); err == nil {
		return false, nil
	} else if !errors.Is(err, models.ErrResourceNotFound) {
		return false, err
	}
	cmd := exec.CommandContext(ctx, d.bins["diego"], "create-app", DemoApp, "--env-file", d.EnvFile,
		"--instances", fmt.Sprint(d.Cells), "--port", fmt.Sprint(demoPort),
		// a file of the file-server the env file names
		"--download", demoArchive+":"+demoDir,
		"--", demoDir+"/testapp")
	if out, err := cmd.CombinedOutput(); err != nil {
		return false, fmt.Errorf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return true, nil
}

// DemoURL is where the demo app answers through the router (curl resolves *.localhost to
// loopback; another domain needs a resolver or a Host header).
func (d *Deployment) DemoURL() string {
	return fmt.Sprintf("http://%s:%d/", d.DemoHost, d.PortBase+routerPort)
}

// waitDemo waits until every instance of the demo app answers through the router.
func (d *Deployment) waitDemo(timeout time.Duration) error {
	c, err := d.bbsClient()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		if last = d.demoAnswers(c); last == nil {
			return nil
		}
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("the demo app does not answer at %s after %s: %v", d.DemoURL(), timeout, last)
}

func (d *Deployment) demoAnswers(c *bbs.Client) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	actuals, err := c.ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: DemoApp})
	if err != nil {
		return err
	}
	running := 0
	for _, a := range actuals {
		if a.GetState() == models.ActualLRPStateRunning {
			running++
		}
	}
	if running < d.Cells {
		return fmt.Errorf("%d of %d instances running", running, d.Cells)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.RouterURL()+"/", nil)
	if err != nil {
		return err
	}
	req.Host = d.DemoHost
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the router answers %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
