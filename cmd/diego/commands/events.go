package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/models"
)

func (c *cli) eventsCmd() *cobra.Command {
	var cellID string
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Follow the LRP and task event streams, one line per event, until interrupted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			client, err := c.bbsClient()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			lrps, err := client.SubscribeToLRPInstanceEvents(ctx, cellID)
			if err != nil {
				return client.fail(cmd.Context(), err)
			}
			defer lrps.Close()
			tasks, err := client.SubscribeToTaskEvents(ctx, cellID)
			if err != nil {
				return client.fail(cmd.Context(), err)
			}
			defer tasks.Close()

			events := make(chan models.Event)
			failed := make(chan error, 2)
			for _, s := range []*bbs.EventStream{lrps, tasks} {
				go follow(ctx, s, events, failed)
			}
			for {
				select {
				case <-ctx.Done():
					// interrupted: the normal end of following
					return nil
				case err := <-failed:
					if ctx.Err() != nil {
						return nil
					}
					return client.fail(cmd.Context(), err)
				case e := <-events:
					if err := c.printEvent(e); err != nil {
						return err
					}
				}
			}
		},
	}
	cmd.Flags().StringVar(&cellID, "cell-id", "", "only the events of this cell's instances and tasks")
	return cmd
}

// follow sends the events of s until it fails; a reconnection (the stream broke and was opened
// again) is not a failure.
func follow(ctx context.Context, s *bbs.EventStream, events chan<- models.Event, failed chan<- error) {
	for {
		e, err := s.Next()
		if errors.Is(err, bbs.ErrReconnected) {
			continue
		}
		if err != nil {
			failed <- err
			return
		}
		select {
		case events <- e:
		case <-ctx.Done():
			return
		}
	}
}

func (c *cli) printEvent(e models.Event) error {
	if c.json {
		data, err := jsonRecords.Marshal(e)
		if err != nil {
			return err
		}
		return c.printJSON(struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}{e.EventType(), data})
	}
	_, err := fmt.Fprintf(c.out, "%s %s\n", e.EventType(), describe(e))
	return err
}

// describe is the part of an event an operator follows: which record, and its state.
func describe(e models.Event) string {
	switch e := e.(type) {
	case *models.DesiredLRPCreatedEvent:
		return fmt.Sprintf("%s instances=%d", e.Key(), e.GetDesiredLrp().GetInstances())
	case *models.DesiredLRPChangedEvent:
		return fmt.Sprintf("%s instances=%d->%d", e.Key(), e.GetBefore().GetInstances(), e.GetAfter().GetInstances())
	case *models.ActualLRPInstanceCreatedEvent:
		return instance(e.GetActualLrp().GetActualLrpKey(), e.GetActualLrp().GetActualLrpInstanceKey(), e.GetActualLrp().GetState())
	case *models.ActualLRPInstanceRemovedEvent:
		return instance(e.GetActualLrp().GetActualLrpKey(), e.GetActualLrp().GetActualLrpInstanceKey(), e.GetActualLrp().GetState())
	case *models.ActualLRPInstanceChangedEvent:
		return instance(e.GetActualLrpKey(), e.GetActualLrpInstanceKey(), e.GetBefore().GetState()+"->"+e.GetAfter().GetState())
	case *models.ActualLRPCrashedEvent:
		return instance(e.GetActualLrpKey(), e.GetActualLrpInstanceKey(), fmt.Sprintf("crashes=%d reason=%q", e.GetCrashCount(), e.GetCrashReason()))
	case *models.TaskCreatedEvent:
		return e.Key() + " state=" + e.GetTask().GetState().String()
	case *models.TaskChangedEvent:
		return fmt.Sprintf("%s state=%s->%s", e.Key(), e.GetBefore().GetState(), e.GetAfter().GetState())
	case *models.TaskRemovedEvent:
		return e.Key() + " state=" + e.GetTask().GetState().String()
	}
	return e.Key()
}

func instance(k *models.ActualLRPKey, ik *models.ActualLRPInstanceKey, state string) string {
	s := fmt.Sprintf("%s/%d state=%s", k.GetProcessGuid(), k.GetIndex(), state)
	if cell := ik.GetCellId(); cell != "" {
		s += " cell=" + cell
	}
	return s
}
