package commands

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/diego-go/diego/executor/logstream"
)

func (c *cli) logsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "logs NAME",
		Short: "Follow an app's log lines as its cells publish them, until interrupted",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			ctx := cmd.Context()
			natsURL, err := c.cfg.get(&c.cfg.natsURL)
			if err != nil {
				return err
			}
			if natsURL == "" {
				return fmt.Errorf("no NATS URL configured: give --%s, set %s, or name an env file setting it", c.cfg.natsURL.flag, c.cfg.natsURL.env)
			}
			_, d, err := c.app(ctx, name)
			if err != nil {
				return err
			}
			if d.GetLogGuid() == "" {
				return fmt.Errorf("app %s has no log guid: its cells publish no logs for it", name)
			}
			// a lost connection is made again for as long as the logs are followed
			conn, err := nats.Connect(natsURL, nats.Name("diego logs"), nats.MaxReconnects(-1))
			if err != nil {
				return fmt.Errorf("cannot reach NATS at %s: %w", natsURL, err)
			}
			defer conn.Close()
			lines := make(chan *nats.Msg, 1024)
			if _, err := conn.ChanSubscribe(logstream.Subject(d.GetLogGuid()), lines); err != nil {
				return fmt.Errorf("subscribing to %s's logs on %s: %w", name, natsURL, err)
			}
			for {
				select {
				case <-ctx.Done():
					// interrupted: the normal end of following
					return nil
				case m := <-lines:
					if c.json {
						fmt.Fprintf(c.out, "%s\n", strings.TrimSpace(string(m.Data)))
						continue
					}
					var msg logstream.Message
					if err := json.Unmarshal(m.Data, &msg); err != nil {
						// not a cell's message (docs/logs.md): nothing of the app's to show
						continue
					}
					fmt.Fprintf(c.out, "[%s/%s] %s %s\n", msg.SourceType, msg.SourceInstance, msg.MessageType, msg.Message)
				}
			}
		},
	}
}
