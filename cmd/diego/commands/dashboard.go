package commands

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/diego-go/diego/dashboard"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/rep"
)

func (c *cli) dashboardCmd() *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "dashboard",
		Short: "Serve the live view of the deployment (cells, instances, desired LRPs, tasks) until interrupted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// the address first: a bad or taken --listen is named before the BBS is dialled
			l, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("cannot listen on %s: %w", listen, err)
			}
			defer l.Close()
			client, err := c.bbsClient()
			if err != nil {
				return err
			}
			if !client.Ping(cmd.Context()) {
				return fmt.Errorf("cannot reach the BBS at %s", client.url)
			}
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			handler := dashboard.New(client.Client, logger, dashboard.WithCellStates(c.repStates()))
			srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
			fmt.Fprintf(c.out, "diego dashboard: http://%s/ (BBS %s)\n", l.Addr(), client.url)
			served := make(chan error, 1)
			go func() { served <- srv.Serve(l) }()
			select {
			case err := <-served:
				return err
			case <-cmd.Context().Done():
				// interrupted: the normal end; the pages' event streams are cut with their connections
				if err := srv.Close(); err != nil {
					return err
				}
				if err := <-served; !errors.Is(err, http.ErrServerClosed) {
					return err
				}
				return nil
			}
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8090", "address the dashboard serves on")
	return cmd
}

// repStates asks a cell's rep for its state as cell-states does: with the rep's certificates
// (by default the BBS's) for an https rep URL. A rep client is made once for https URLs and
// once for http ones; a missing certificate setting is the answer of every https rep.
func (c *cli) repStates() dashboard.CellStateFunc {
	var mu sync.Mutex
	clients := map[bool]*rep.Client{}
	return func(ctx context.Context, p *models.CellPresence) (models.CellState, error) {
		https := strings.HasPrefix(p.GetRepUrl(), "https://")
		mu.Lock()
		client := clients[https]
		if client == nil {
			tlsCfg, err := c.cfg.tls(p.GetRepUrl(), &c.cfg.repCA, &c.cfg.repCert, &c.cfg.repKey)
			if err != nil {
				mu.Unlock()
				return models.CellState{}, err
			}
			client = rep.NewClient(rep.Options{TLS: tlsCfg})
			clients[https] = client
		}
		mu.Unlock()
		return client.State(ctx, p.GetRepUrl())
	}
}
