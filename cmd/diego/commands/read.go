package commands

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/rep"
)

func (c *cli) cellsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "cells",
		Short: "List the cells present",
		Args:  cobra.NoArgs,
		RunE: listing(c, (*bbsConn).Cells,
			[]string{"CELL", "ZONE", "REP URL", "MEMORY MB", "DISK MB", "CONTAINERS"},
			func(p *models.CellPresence) []string {
				return []string{p.GetCellId(), p.GetZone(), p.GetRepUrl(),
					itoa(p.GetCapacity().GetMemoryMb()), itoa(p.GetCapacity().GetDiskMb()), itoa(p.GetCapacity().GetContainers())}
			}),
	}
}
func (c *cli) cellStatesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "cell-states",
		Short: "Ask the rep of every cell present for its state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			client, err := c.bbsClient()
			if err != nil {
				return err
			}
			cells, err := client.Cells(cmd.Context())
			if err != nil {
				return client.fail(cmd.Context(), err)
			}
			var rows [][]string
			var failed []error
			for _, p := range cells {
				tlsCfg, err := c.cfg.tls(p.GetRepUrl(), &c.cfg.repCA, &c.cfg.repCert, &c.cfg.repKey)
				if err != nil {
					return err
				}
				state, err := rep.NewClient(rep.Options{TLS: tlsCfg}).State(cmd.Context(), p.GetRepUrl())
				if err != nil {
					// one rep that does not answer must not hide the others
					failed = append(failed, fmt.Errorf("cell %s: %w", p.GetCellId(), err))
					continue
				}
				if c.json {
					if err := c.printJSON(state); err != nil {
						return err
					}
					continue
				}
				a, t := state.AvailableResources, state.TotalResources
				rows = append(rows, []string{state.CellID, state.Zone, strconv.FormatBool(state.Evacuating),
					fmt.Sprintf("%d/%d", a.MemoryMB, t.MemoryMB), fmt.Sprintf("%d/%d", a.DiskMB, t.DiskMB),
					fmt.Sprintf("%d/%d", a.Containers, t.Containers), strconv.Itoa(len(state.LRPs)), strconv.Itoa(len(state.Tasks))})
			}
			if !c.json {
				if err := c.table([]string{"CELL", "ZONE", "EVACUATING", "FREE MEMORY MB", "FREE DISK MB", "FREE CONTAINERS", "LRPS", "TASKS"}, rows); err != nil {
					return err
				}
			}
			return errors.Join(failed...)
		},
	}
}

func (c *cli) desiredLRPsCmd() *cobra.Command {
	var f bbs.DesiredLRPFilter
	cmd := &cobra.Command{
		Use:   "desired-lrps",
		Short: "List the desired LRPs",
		Args:  cobra.NoArgs,
		RunE: listing(c, func(b *bbsConn, ctx context.Context) ([]*models.DesiredLRP, error) { return b.DesiredLRPs(ctx, f) },
			[]string{"PROCESS GUID", "DOMAIN", "INSTANCES", "MEMORY MB", "DISK MB", "ROOTFS"},
			func(d *models.DesiredLRP) []string {
				return []string{d.GetProcessGuid(), d.GetDomain(), itoa(d.GetInstances()),
					itoa(d.GetMemoryMb()), itoa(d.GetDiskMb()), d.GetRootFs()}
			}),
	}
	cmd.Flags().StringVar(&f.Domain, "domain", "", "only the desired LRPs of this domain")
	return cmd
}
func (c *cli) actualLRPsCmd() *cobra.Command {
	var f bbs.ActualLRPFilter
	var index int32
	cmd := &cobra.Command{
		Use:   "actual-lrps",
		Short: "List the actual LRPs (the instances)",
		Args:  cobra.NoArgs,
		PreRun: func(cmd *cobra.Command, _ []string) {
			if cmd.Flags().Changed("index") {
				f.Index = &index
			}
		},
		RunE: listing(c, func(b *bbsConn, ctx context.Context) ([]*models.ActualLRP, error) { return b.ActualLRPs(ctx, f) },
			[]string{"PROCESS GUID", "INDEX", "DOMAIN", "PRESENCE", "STATE", "CELL", "ADDRESS", "CRASHES", "SINCE", "PLACEMENT ERROR"},
			func(a *models.ActualLRP) []string {
				return []string{a.GetActualLrpKey().GetProcessGuid(), itoa(a.GetActualLrpKey().GetIndex()),
					a.GetActualLrpKey().GetDomain(), a.GetPresence().String(), a.GetState(),
					a.GetActualLrpInstanceKey().GetCellId(), a.GetActualLrpNetInfo().GetAddress(),
					itoa(a.GetCrashCount()), since(a.GetSince()), a.GetPlacementError()}
			}),
	}
	cmd.Flags().StringVar(&f.Domain, "domain", "", "only the instances of this domain")
	cmd.Flags().StringVar(&f.CellID, "cell-id", "", "only the instances on this cell")
	cmd.Flags().StringVar(&f.ProcessGuid, "process-guid", "", "only the instances of this desired LRP")
	cmd.Flags().Int32Var(&index, "index", 0, "only the instances of this index")
	return cmd
}
func (c *cli) tasksCmd() *cobra.Command {
	var f bbs.TaskFilter
	cmd := &cobra.Command{
		Use:   "tasks",
		Short: "List the tasks",
		Args:  cobra.NoArgs,
		RunE: listing(c, func(b *bbsConn, ctx context.Context) ([]*models.Task, error) { return b.Tasks(ctx, f) },
			[]string{"TASK GUID", "DOMAIN", "STATE", "CELL", "FAILED", "FAILURE REASON"},
			func(t *models.Task) []string {
				return []string{t.GetTaskGuid(), t.GetDomain(), t.GetState().String(), t.GetCellId(),
					strconv.FormatBool(t.GetFailed()), t.GetFailureReason()}
			}),
	}
	cmd.Flags().StringVar(&f.Domain, "domain", "", "only the tasks of this domain")
	cmd.Flags().StringVar(&f.CellID, "cell-id", "", "only the tasks on this cell")
	return cmd
}
func (c *cli) domainsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "domains",
		Short: "List the fresh domains",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			client, err := c.bbsClient()
			if err != nil {
				return err
			}
			domains, err := client.Domains(cmd.Context())
			if err != nil {
				return client.fail(cmd.Context(), err)
			}
			if c.json {
				for _, d := range domains {
					if err := c.printJSON(d); err != nil {
						return err
					}
				}
				return nil
			}
			rows := make([][]string, 0, len(domains))
			for _, d := range domains {
				rows = append(rows, []string{d})
			}
			return c.table([]string{"DOMAIN"}, rows)
		},
	}
}

// listing is the RunE of a command listing BBS records: fetch them, then print them as JSON or
// as a table of header and one row per record.
func listing[M proto.Message](c *cli, fetch func(*bbsConn, context.Context) ([]M, error), header []string, row func(M) []string) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		client, err := c.bbsClient()
		if err != nil {
			return err
		}
		records, err := fetch(client, cmd.Context())
		if err != nil {
			return client.fail(cmd.Context(), err)
		}
		rows := make([][]string, 0, len(records))
		for _, r := range records {
			if c.json {
				if err := c.printProto(r); err != nil {
					return err
				}
				continue
			}
			rows = append(rows, row(r))
		}
		if c.json {
			return nil
		}
		return c.table(header, rows)
	}
}

func itoa[I ~int32](i I) string { return strconv.FormatInt(int64(i), 10) }

// since prints a record's since (Unix nanoseconds) as UTC RFC 3339.
func since(ns int64) string {
	if ns == 0 {
		return ""
	}
	return time.Unix(0, ns).UTC().Format(time.RFC3339)
}
