package handlers

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/diego-go/diego/models"
)

// HTTPCellClient calls the rep's API at the cell presence's rep_url (mutual TLS through the
// client's transport).
type HTTPCellClient struct {
	Client *http.Client
}

func repURL(c *models.CellPresence) string {
	u := c.GetRepUrl()
	if u == "" {
		u = c.GetRepAddress()
	}
	return strings.TrimRight(u, "/")
}

func (c HTTPCellClient) post(ctx context.Context, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return err
	}
	resp, err := c.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("%s: HTTP %d: %s", u, resp.StatusCode, msg)
	}
	return nil
}

// StopLRPInstance: POST /v1/lrps/:process_guid/instances/:instance_guid/stop.
func (c HTTPCellClient) StopLRPInstance(ctx context.Context, cell *models.CellPresence, key *models.ActualLRPKey, ik *models.ActualLRPInstanceKey) error {
	return c.post(ctx, repURL(cell)+"/v1/lrps/"+url.PathEscape(key.GetProcessGuid())+"/instances/"+url.PathEscape(ik.GetInstanceGuid())+"/stop")
}

// CancelTask: POST /v1/tasks/:task_guid/cancel.
func (c HTTPCellClient) CancelTask(ctx context.Context, cell *models.CellPresence, guid string) error {
	return c.post(ctx, repURL(cell)+"/v1/tasks/"+url.PathEscape(guid)+"/cancel")
}
