package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/diego-go/diego/models"
)

func (c *cli) runTaskCmd() *cobra.Command {
	var spec containerSpec
	var domain, resultFile string
	var wait bool
	var timeout time.Duration
	const usage = "run-task GUID [flags] -- COMMAND [ARGS...]"
	cmd := &cobra.Command{
		Use:   usage,
		Short: "Run a one-off task; with --wait, follow it to its end and print its result",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			guid := args[0]
			run, err := command(cmd, args, 1, usage)
			if err != nil {
				return err
			}
			rootfs, env, setup, action, err := spec.build(run, c.fileServerURL)
			if err != nil {
				return err
			}
			if setup != nil {
				// a task has no setup of its own: its downloads come first in its action
				steps := append(setup.GetSerialAction().GetActions(), action)
				action = &models.Action{Value: &models.Action_SerialAction{SerialAction: &models.SerialAction{Actions: steps}}}
			}
			def := &models.TaskDefinition{RootFs: rootfs, EnvironmentVariables: env, Action: action,
				MemoryMb: spec.memory, DiskMb: spec.disk, LogGuid: guid, ResultFile: resultFile}

			client, err := c.bbsClient()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if !wait {
				return c.desireTask(ctx, client, guid, domain, def)
			}
			stream, err := client.SubscribeToTaskEvents(ctx, "")
			if err != nil {
				return client.fail(ctx, err)
			}
			context.AfterFunc(ctx, func() { _ = stream.Close() })
			if err := c.desireTask(ctx, client, guid, domain, def); err != nil {
				return err
			}
			var task *models.Task
			err = c.watch(ctx, client, stream, timeout, func(e models.Event) bool { return e.Key() == guid }, func(ctx context.Context) (status, error) {
				t, err := client.TaskByGuid(ctx, guid)
				if err != nil {
					return status{}, client.fail(ctx, err)
				}
				task = t
				line := fmt.Sprintf("task %s: %s", guid, t.GetState())
				return status{line: line, done: t.GetState() >= models.Task_Completed, pending: line}, nil
			})
			if err != nil {
				return err
			}
			if task.GetFailed() {
				return fmt.Errorf("task %s failed: %s", guid, task.GetFailureReason())
			}
			fmt.Fprintf(c.out, "task %s succeeded\n", guid)
			if r := task.GetResult(); r != "" {
				// the result file's own line end, else one
				fmt.Fprint(c.out, r)
				if !strings.HasSuffix(r, "\n") {
					fmt.Fprintln(c.out)
				}
			}
			return nil
		},
	}
	spec.flags(cmd)
	cmd.Flags().StringVar(&domain, "domain", "diego-tasks", "the task's domain")
	cmd.Flags().StringVar(&resultFile, "result-file", "", "a file in the container whose contents become the task's result")
	cmd.Flags().BoolVar(&wait, "wait", false, "show the task's state until it completes, then print its result (exit status 1 when it failed)")
	cmd.Flags().DurationVar(&timeout, "timeout", defaultTimeout, "how long --wait waits")
	return cmd
}

func (c *cli) desireTask(ctx context.Context, client *bbsConn, guid, domain string, def *models.TaskDefinition) error {
	err := client.DesireTask(ctx, guid, domain, def)
	if errors.Is(err, models.ErrResourceExists) {
		return fmt.Errorf("task %s exists already", guid)
	}
	if err != nil {
		return client.fail(ctx, err)
	}
	return nil
}
