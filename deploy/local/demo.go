package main

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/tlsconfig"
)

const (
	// DemoApp is the demo LRP's process guid and log guid.
	DemoApp = "demo"
	// DemoDomain is the domain the demo app is desired in (diego create-app's).
	DemoDomain = "diego-apps"
	demoPort   = 8080
	// demoArchive is the test app the file-server serves and the cells download.
	demoArchive = "testapp.tgz"
)

// writeDemoArchive packs the built test app as a gzipped tar (a download keeps an archive's
// modes; a plain file would arrive unexecutable).
func (d *Deployment) writeDemoArchive() (string, error) {
	path := filepath.Join(d.staticDir, demoArchive)
	if newer(path, d.bins["testapp"]) {
		return "ok, kept", nil
	}
	return "", d.packDemo(path)
}

// newer says whether file a exists and was modified after b.
func newer(a, b string) bool {
	ai, err := os.Stat(a)
	if err != nil {
		return false
	}
	bi, err := os.Stat(b)
	return err == nil && ai.ModTime().After(bi.ModTime())
}

func (d *Deployment) packDemo(path string) error {
	bin, err := os.ReadFile(d.bins["testapp"])
	if err != nil {
		return err
	}
	if err := os.MkdirAll(d.staticDir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return err
	}
	defer f.Close()
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	if err := tw.WriteHeader(&tar.Header{Name: "testapp", Mode: 0o755, Size: int64(len(bin)), ModTime: time.Now(), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := tw.Write(bin); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

// demoLRP is the test app, downloaded from the file-server into a busybox container, one
// instance per cell, routed at DemoHost.
func (d *Deployment) demoLRP() *models.DesiredLRP {
	routes, _ := json.Marshal([]map[string]any{{"hostnames": []string{d.DemoHost}, "port": demoPort}})
	return &models.DesiredLRP{
		ProcessGuid: DemoApp,
		Domain:      DemoDomain,
		LogGuid:     DemoApp,
		RootFs:      RootFS,
		Instances:   int32(d.Cells),
		MemoryMb:    64,
		DiskMb:      64,
		Ports:       []uint32{demoPort},
		Setup: &models.Action{Value: &models.Action_DownloadAction{DownloadAction: &models.DownloadAction{
			Artifact: "testapp", From: d.FileServerURL() + "/v1/static/" + demoArchive, To: "/home/vcap/app",
			CacheKey: demoArchive, User: "vcap",
		}}},
		Action: &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{
			Path: "/home/vcap/app/testapp", User: "vcap",
			Env: []*models.EnvironmentVariable{{Name: "PORT", Value: fmt.Sprint(demoPort)}},
		}}},
		CheckDefinition: &models.CheckDefinition{Checks: []*models.Check{
			{Value: &models.Check_HttpCheck{HttpCheck: &models.HTTPCheck{Port: demoPort, Path: "/"}}},
		}},
		StartTimeoutMs: 60000,
		Routes:         &models.Routes{Routes: map[string][]byte{"cf-router": routes}},
	}
}

func (d *Deployment) bbsClient() (*bbs.Client, error) {
	t, err := tlsconfig.Client(d.certs.Cert["client"], d.certs.Key["client"], d.certs.CA)
	if err != nil {
		return nil, err
	}
	return bbs.NewClient(d.BBSURL(), t), nil
}

// desireDemo desires the demo app unless it is desired already; it says whether it did.
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
	if err := c.UpsertDomain(ctx, DemoDomain, 0); err != nil {
		return false, err
	}
	return true, c.DesireLRP(ctx, d.demoLRP())
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
