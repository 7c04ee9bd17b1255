package commands

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/models"
)

func (c *cli) setDomainCmd() *cobra.Command {
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "set-domain DOMAIN",
		Short: "Mark a domain fresh, for --ttl (default: for ever)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if ttl < 0 {
				return fmt.Errorf("--ttl %s: want 0 (for ever) or more", ttl)
			}
			client, err := c.bbsClient()
			if err != nil {
				return err
			}
			if err := client.UpsertDomain(cmd.Context(), args[0], ttl); err != nil {
				return client.fail(cmd.Context(), err)
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&ttl, "ttl", 0, "how long the domain stays fresh (0: for ever)")
	return cmd
}

func (c *cli) retireActualLRPCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "retire-actual-lrp PROCESS_GUID INDEX",
		Short: "Stop one instance of a desired LRP (its cell stops the container)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			index, err := strconv.ParseInt(args[1], 10, 32)
			if err != nil || index < 0 {
				return fmt.Errorf("index %q: want a whole number, 0 or more", args[1])
			}
			client, err := c.bbsClient()
			if err != nil {
				return err
			}
			// the BBS wants the instance's whole key (with its domain), which the operator does not type
			i := int32(index)
			what := fmt.Sprintf("actual LRP '%s' index %d", args[0], index)
			lrps, err := client.ActualLRPs(cmd.Context(), bbs.ActualLRPFilter{ProcessGuid: args[0], Index: &i})
			if err != nil {
				return client.fail(cmd.Context(), err)
			}
			var key *models.ActualLRPKey
			for _, a := range lrps {
				if a.GetPresence() == models.ActualLRP_ORDINARY {
					key = a.GetActualLrpKey()
				}
			}
			if key == nil {
				// say which is missing: the whole LRP, or only this instance of it
				if _, err := client.DesiredLRPByProcessGuid(cmd.Context(), args[0]); err != nil {
					return notFound(client.fail(cmd.Context(), err), fmt.Sprintf("desired LRP '%s'", args[0]))
				}
				return errors.New(what + " not found")
			}
			if err := client.RetireActualLRP(cmd.Context(), key); err != nil {
				return notFound(client.fail(cmd.Context(), err), what)
			}
			return nil
		},
	}
}

func (c *cli) cancelTaskCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "cancel-task TASK_GUID",
		Short: "Cancel a task",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			client, err := c.bbsClient()
			if err != nil {
				return err
			}
			if err := client.CancelTask(cmd.Context(), args[0]); err != nil {
				return notFound(client.fail(cmd.Context(), err), fmt.Sprintf("task '%s'", args[0]))
			}
			return nil
		},
	}
}
