package commands

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/rep"
)

func (c *cli) cellsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "cells",
		Short: "List the cells present",
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
			if c.json {
				return c.printProtos(protos(cells)...)
			}
			rows := make([][]string, 0, len(cells))
			for _, p := range cells {
				rows = append(rows, []string{p.GetCellId(), p.GetZone(), p.GetRepUrl(),
					itoa(p.GetCapacity().GetMemoryMb()), itoa(p.GetCapacity().GetDiskMb()), itoa(p.GetCapacity().GetContainers())})
			}
			return c.table([]string{"CELL", "ZONE", "REP URL", "MEMORY MB", "DISK MB", "CONTAINERS"}, rows)
		},
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
		RunE: func(cmd *cobra.Command, _ []string) error {
			client, err := c.bbsClient()
			if err != nil {
				return err
			}
			lrps, err := client.DesiredLRPs(cmd.Context(), f)
			if err != nil {
				return client.fail(cmd.Context(), err)
			}
			if c.json {
				return c.printProtos(protos(lrps)...)
			}
			rows := make([][]string, 0, len(lrps))
			for _, d := range lrps {
				rows = append(rows, []string{d.GetProcessGuid(), d.GetDomain(), itoa(d.GetInstances()),
					itoa(d.GetMemoryMb()), itoa(d.GetDiskMb()), d.GetRootFs()})
			}
			return c.table([]string{"PROCESS GUID", "DOMAIN", "INSTANCES", "MEMORY MB", "DISK MB", "ROOTFS"}, rows)
		},
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
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("index") {
				f.Index = &index
			}
			client, err := c.bbsClient()
			if err != nil {
				return err
			}
			lrps, err := client.ActualLRPs(cmd.Context(), f)
			if err != nil {
				return client.fail(cmd.Context(), err)
			}
			if c.json {
				return c.printProtos(protos(lrps)...)
			}
			rows := make([][]string, 0, len(lrps))
			for _, a := range lrps {
				rows = append(rows, []string{a.GetActualLrpKey().GetProcessGuid(), itoa(a.GetActualLrpKey().GetIndex()),
					a.GetActualLrpKey().GetDomain(), a.GetPresence().String(), a.GetState(),
					a.GetActualLrpInstanceKey().GetCellId(), a.GetActualLrpNetInfo().GetAddress(),
					itoa(a.GetCrashCount()), since(a.GetSince()), a.GetPlacementError()})
			}
			return c.table([]string{"PROCESS GUID", "INDEX", "DOMAIN", "PRESENCE", "STATE", "CELL", "ADDRESS", "CRASHES", "SINCE", "PLACEMENT ERROR"}, rows)
		},
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
		RunE: func(cmd *cobra.Command, _ []string) error {
			client, err := c.bbsClient()
			if err != nil {
				return err
			}
			tasks, err := client.Tasks(cmd.Context(), f)
			if err != nil {
				return client.fail(cmd.Context(), err)
			}
			if c.json {
				return c.printProtos(protos(tasks)...)
			}
			rows := make([][]string, 0, len(tasks))
			for _, t := range tasks {
				rows = append(rows, []string{t.GetTaskGuid(), t.GetDomain(), t.GetState().String(), t.GetCellId(),
					strconv.FormatBool(t.GetFailed()), t.GetFailureReason()})
			}
			return c.table([]string{"TASK GUID", "DOMAIN", "STATE", "CELL", "FAILED", "FAILURE REASON"}, rows)
		},
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

func protos[M proto.Message](ms []M) []proto.Message {
	out := make([]proto.Message, len(ms))
	for i, m := range ms {
		out[i] = m
	}
	return out
}

func itoa[I ~int32](i I) string { return strconv.FormatInt(int64(i), 10) }

// since prints a record's since (Unix nanoseconds) as UTC RFC 3339.
func since(ns int64) string {
	if ns == 0 {
		return ""
	}
	return time.Unix(0, ns).UTC().Format(time.RFC3339)
}
