package commands

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/diego-go/diego/dashboard"
)

func (c *cli) dashboardCmd() *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "dashboard",
		Short: "Serve the live view of the deployment (cells, instances, desired LRPs, tasks) until interrupted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			client, err := c.bbsClient()
			if err != nil {
				return err
			}
			if !client.Ping(cmd.Context()) {
				return fmt.Errorf("cannot reach the BBS at %s", client.url)
			}
			l, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("cannot listen on %s: %w", listen, err)
			}
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			srv := &http.Server{Handler: dashboard.New(client.Client, logger), ReadHeaderTimeout: 10 * time.Second}
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
