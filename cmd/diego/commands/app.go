package commands

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/models"
	"github.com/diego-go/diego/routeemitter/cfroutes"
)

// appsDomain is the domain of every LRP create-app desires. create-app marks it fresh (for
// ever), so the BBS's convergence stops instances beyond an app's count, as for any fresh domain.
const appsDomain = "diego-apps"

// defaultTimeout is how long a command waits for instances or a task.
const defaultTimeout = 2 * time.Minute

// containerSpec is what create-app and run-task share: where the process runs and what it gets.
type containerSpec struct {
	rootfs, image, user string
	memory, disk        int32
	env, downloads      []string
}

func (s *containerSpec) flags(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&s.rootfs, "rootfs", "preloaded:busybox", "the rootfs: preloaded:STACK (a stack the cells preload) or any rootfs URL the cells offer")
	fs.StringVar(&s.image, "image", "", "a docker image instead of --rootfs: REPO[:TAG] or REPO@sha256:DIGEST, with an optional REGISTRY-HOST[:PORT]/ before it (run as docker:///REPO#TAG)")
	fs.StringVar(&s.user, "user", "", "the user the process and downloads run as (default vcap, root with --image)")
	fs.Int32Var(&s.memory, "memory", 64, "memory limit in MB")
	fs.Int32Var(&s.disk, "disk", 64, "disk limit in MB")
	fs.StringArrayVar(&s.env, "env", nil, "an environment variable NAME=VALUE (repeatable)")
	fs.StringArrayVar(&s.downloads, "download", nil, "URL:DEST: before the command runs, download URL (or FILE of the file server's /v1/static/) into the container's directory DEST (an archive is unpacked there, another file keeps its name) (repeatable)")
	cmd.MarkFlagsMutuallyExclusive("rootfs", "image")
}

// build checks the flags and the command and turns them into the rootfs, the environment, the
// setup (the downloads, nil when there are none) and the run action. fileServer is the file
// server's URL, asked for only when a download names a file rather than a URL.
func (s *containerSpec) build(command []string, fileServer func() (string, error)) (rootfs string, env []*models.EnvironmentVariable, setup, run *models.Action, err error) {
	rootfs, user := s.rootfs, "vcap"
	if s.image != "" {
		if rootfs, err = dockerRootFS(s.image); err != nil {
			return "", nil, nil, nil, err
		}
		user = "root"
	} else if scheme, _, ok := strings.Cut(rootfs, ":"); !ok || scheme == "" {
		return "", nil, nil, nil, fmt.Errorf("--rootfs %q: want preloaded:STACK or another rootfs URL (scheme:...)", rootfs)
	}
	if s.user != "" {
		user = s.user
	}
	if s.memory < 0 || s.disk < 0 {
		return "", nil, nil, nil, fmt.Errorf("--memory %d, --disk %d: want 0 (no limit) or more", s.memory, s.disk)
	}
	for _, kv := range s.env {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return "", nil, nil, nil, fmt.Errorf("--env %q: want NAME=VALUE", kv)
		}
		env = append(env, &models.EnvironmentVariable{Name: name, Value: value})
	}
	var downloads []*models.Action
	for _, d := range s.downloads {
		// DEST is an absolute path, so the URL ends at the last ":/" (a URL's own "://" comes first)
		i := strings.LastIndex(d, ":/")
		from, to := "", ""
		if i > 0 {
			from, to = d[:i], d[i+1:]
		}
		if from == "" || strings.Contains(to, ":") || strings.Contains(from, "://") && !strings.HasPrefix(from, "http://") && !strings.HasPrefix(from, "https://") {
			return "", nil, nil, nil, fmt.Errorf("--download %q: want URL:DEST or FILE:DEST, an http(s) URL or a file of the file server, and an absolute path in the container", d)
		}
		if !strings.Contains(from, "://") {
			base, err := fileServer()
			if err != nil {
				return "", nil, nil, nil, err
			}
			if base == "" {
				return "", nil, nil, nil, fmt.Errorf("--download %q names a file of the file server, but no file server is configured: give --file-server-url or set DIEGO_FILE_SERVER_URL", d)
			}
			from = strings.TrimSuffix(base, "/") + "/v1/static/" + strings.TrimPrefix(from, "/")
		}
		// the cells cache what they download by this key: every instance after the first on a
		// cell reuses its copy (revalidated with the file server's ETag)
		downloads = append(downloads, &models.Action{Value: &models.Action_DownloadAction{DownloadAction: &models.DownloadAction{
			From: from, To: to, CacheKey: from, User: user}}})
	}
	if len(downloads) > 0 {
		setup = &models.Action{Value: &models.Action_SerialAction{SerialAction: &models.SerialAction{Actions: downloads}}}
	}
	run = &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{Path: command[0], Args: command[1:], User: user}}}
	return rootfs, env, setup, run, nil
}

// dockerRootFS turns a docker image reference into the rootfs URL the cells pull it by:
// docker://[HOST]/REPO[#TAG or #sha256:DIGEST].
func dockerRootFS(image string) (string, error) {
	bad := func() (string, error) {
		return "", fmt.Errorf("--image %q: want REPO[:TAG] or REPO@sha256:DIGEST, optionally after REGISTRY-HOST[:PORT]/", image)
	}
	if image == "" || strings.ContainsAny(image, " #") || strings.Contains(image, "://") {
		return bad()
	}
	name, ref, digest := strings.Cut(image, "@")
	if digest && !strings.HasPrefix(ref, "sha256:") {
		return bad()
	}
	if !digest {
		if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
			name, ref = name[:i], name[i+1:]
		}
	}
	host := ""
	if first, rest, ok := strings.Cut(name, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		host, name = first, rest
	}
	if name == "" || strings.HasSuffix(name, "/") {
		return bad()
	}
	uri := "docker://" + host + "/" + name
	if ref != "" {
		uri += "#" + ref
	}
	return uri, nil
}

// command is the part of args after "--", which cobra leaves unparsed: the process to run.
func command(cmd *cobra.Command, args []string, before int, usage string) ([]string, error) {
	dash := cmd.ArgsLenAtDash()
	if dash != before || len(args) == before {
		return nil, fmt.Errorf("want: %s", usage)
	}
	return args[before:], nil
}

func (c *cli) createAppCmd() *cobra.Command {
	var spec containerSpec
	var instances int32
	var routes []string
	var port uint32
	var noMonitor bool
	var wait waitFlags
	var startTimeout time.Duration
	const usage = "create-app NAME [flags] -- COMMAND [ARGS...]"
	cmd := &cobra.Command{
		Use:   usage,
		Short: "Run an app: a desired LRP of NAME, routed at NAME.<app domain>, and wait for its instances to run",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			run, err := command(cmd, args, 1, usage)
			if err != nil {
				return err
			}
			if instances < 0 {
				return fmt.Errorf("--instances %d: want 0 or more", instances)
			}
			if port == 0 || port > 65535 {
				return fmt.Errorf("--port %d: want 1-65535", port)
			}
			rootfs, env, setup, action, err := spec.build(run, c.fileServerURL)
			if err != nil {
				return err
			}
			if len(routes) == 0 {
				domain, err := c.cfg.get(&c.cfg.appDomain)
				if err != nil {
					return err
				}
				if domain != "" {
					routes = []string{name + "." + domain}
				}
			}
			lrp := &models.DesiredLRP{
				ProcessGuid: name, LogGuid: name, Domain: appsDomain, RootFs: rootfs, Instances: instances,
				MemoryMb: spec.memory, DiskMb: spec.disk, Ports: []uint32{port},
				EnvironmentVariables: append([]*models.EnvironmentVariable{{Name: "PORT", Value: strconv.FormatUint(uint64(port), 10)}}, env...),
				Setup:                setup, Action: action,
				StartTimeoutMs: startTimeout.Milliseconds(),
			}
			if !noMonitor {
				lrp.CheckDefinition = &models.CheckDefinition{Checks: []*models.Check{{Value: &models.Check_TcpCheck{TcpCheck: &models.TCPCheck{Port: port}}}}}
			}
			if len(routes) > 0 {
				lrp.Routes = cfroutes.Encode([]cfroutes.Route{{Hostnames: routes, Port: port}})
			}

			ctx := cmd.Context()
			return c.changeAndWait(ctx, wait, func(client *bbsConn) error {
				if err := client.UpsertDomain(ctx, appsDomain, 0); err != nil {
					return client.fail(ctx, err)
				}
				if err := client.DesireLRP(ctx, lrp); err != nil {
					if errors.Is(err, models.ErrResourceExists) {
						return fmt.Errorf("app %s exists already: remove it first, or scale it", name)
					}
					return client.fail(ctx, err)
				}
				return nil
			}, func(client *bbsConn, stream *bbs.EventStream) error {
				return c.waitRunning(ctx, client, stream, name, instances, wait.timeout)
			})
		},
	}
	spec.flags(cmd)
	cmd.Flags().Int32Var(&instances, "instances", 1, "how many instances run")
	cmd.Flags().StringArrayVar(&routes, "route", nil, "a hostname routed to --port (repeatable; default NAME.<app domain> when --app-domain or DIEGO_APP_DOMAIN is set)")
	cmd.Flags().Uint32Var(&port, "port", 8080, "the port the app listens on ($PORT), routed and health-checked")
	cmd.Flags().BoolVar(&noMonitor, "no-monitor", false, "no TCP health check on --port: an instance runs as soon as its process started (for apps that listen on no port)")
	wait.flags(cmd.Flags(), "the app is desired", "the instances to run")
	cmd.Flags().DurationVar(&startTimeout, "start-timeout", time.Minute, "how long an instance may take to pass its health check before it counts as crashed")
	return cmd
}

func (c *cli) scaleCmd() *cobra.Command {
	var wait waitFlags
	cmd := &cobra.Command{
		Use:   "scale NAME INSTANCES",
		Short: "Change how many instances of an app run, and wait for them",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			n, err := strconv.ParseInt(args[1], 10, 32)
			if err != nil || n < 0 {
				return fmt.Errorf("instances %q: want a whole number, 0 or more", args[1])
			}
			instances := int32(n)
			ctx := cmd.Context()
			return c.changeAndWait(ctx, wait, func(client *bbsConn) error {
				if err := client.UpdateDesiredLRP(ctx, name, &models.DesiredLRPUpdate{Instances: &instances}); err != nil {
					return notFound(client.fail(ctx, err), "app "+name)
				}
				return nil
			}, func(client *bbsConn, stream *bbs.EventStream) error {
				return c.waitRunning(ctx, client, stream, name, instances, wait.timeout)
			})
		},
	}
	wait.flags(cmd.Flags(), "the new count is desired", "the instances to run")
	return cmd
}

func (c *cli) removeCmd() *cobra.Command {
	var wait waitFlags
	cmd := &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove an app and wait until its instances are gone",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			ctx := cmd.Context()
			return c.changeAndWait(ctx, wait, func(client *bbsConn) error {
				if err := client.RemoveDesiredLRP(ctx, name); err != nil {
					return notFound(client.fail(ctx, err), "app "+name)
				}
				return nil
			}, func(client *bbsConn, stream *bbs.EventStream) error {
				return c.watch(ctx, client, stream, wait.timeout, ofProcess(name), func(ctx context.Context) (status, error) {
					lrps, err := client.ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: name})
					if err != nil {
						return status{}, client.fail(ctx, err)
					}
					left := fmt.Sprintf("%d instances left", len(lrps))
					return status{line: left, done: len(lrps) == 0, pending: left}, nil
				})
			})
		},
	}
	wait.flags(cmd.Flags(), "the app is removed from the BBS", "its instances to stop")
	return cmd
}

// waitFlags are the flags of a command that changes an app, then waits for the change to take
// effect.
type waitFlags struct {
	noWait  bool
	timeout time.Duration
}

func (w *waitFlags) flags(fs *pflag.FlagSet, changed, effect string) {
	fs.BoolVar(&w.noWait, "no-wait", false, "return once "+changed)
	fs.DurationVar(&w.timeout, "timeout", defaultTimeout, "how long to wait for "+effect)
}

// changeAndWait makes the change, then, unless --no-wait, waits on the LRP event stream, which
// is opened first so that none of the change's events is missed. The stream ends with ctx.
func (c *cli) changeAndWait(ctx context.Context, w waitFlags, change func(*bbsConn) error, wait func(*bbsConn, *bbs.EventStream) error) error {
	client, err := c.bbsClient()
	if err != nil {
		return err
	}
	var stream *bbs.EventStream
	if !w.noWait {
		if stream, err = client.SubscribeToLRPInstanceEvents(ctx, ""); err != nil {
			return client.fail(ctx, err)
		}
		context.AfterFunc(ctx, func() { _ = stream.Close() })
	}
	if err := change(client); err != nil || w.noWait {
		return err
	}
	return wait(client, stream)
}

// ofProcess reports the events of one process guid's desired LRP and instances.
func ofProcess(guid string) func(models.Event) bool {
	return func(e models.Event) bool {
		switch e := e.(type) {
		case *models.ActualLRPInstanceCreatedEvent:
			return e.GetActualLrp().GetActualLrpKey().GetProcessGuid() == guid
		case *models.ActualLRPInstanceChangedEvent:
			return e.GetActualLrpKey().GetProcessGuid() == guid
		case *models.ActualLRPInstanceRemovedEvent:
			return e.GetActualLrp().GetActualLrpKey().GetProcessGuid() == guid
		case *models.ActualLRPCrashedEvent:
			return e.GetActualLrpKey().GetProcessGuid() == guid
		}
		return e.Key() == guid
	}
}

// waitRunning waits until the instances 0..n-1 of the app run, showing "k/n instances
// running". It fails at once when an instance could not be placed, naming the auctioneer's
// reason, and when every one of them is CRASHED: the BBS restarts a crashed instance at once a
// few times and then only after a backoff of 30 s or more, so an app in that state is failing to
// start rather than slow.
func (c *cli) waitRunning(ctx context.Context, client *bbsConn, stream *bbs.EventStream, name string, n int32, timeout time.Duration) error {
	return c.watch(ctx, client, stream, timeout, ofProcess(name), func(ctx context.Context) (status, error) {
		lrps, err := client.ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: name})
		if err != nil {
			return status{}, client.fail(ctx, err)
		}
		running := map[int32]bool{}
		crashed := map[int32]bool{}
		unplaced := map[string][]int32{}
		for _, a := range lrps {
			i := a.GetActualLrpKey().GetIndex()
			if i >= n {
				continue
			}
			switch {
			case a.GetState() == models.ActualLRPStateRunning:
				running[i] = true
			case a.GetState() == models.ActualLRPStateCrashed && a.GetPresence() == models.ActualLRP_ORDINARY:
				crashed[i] = true
			case a.GetState() == models.ActualLRPStateUnclaimed && a.GetPlacementError() != "":
				unplaced[a.GetPlacementError()] = append(unplaced[a.GetPlacementError()], i)
			}
		}
		if len(unplaced) > 0 {
			var reasons []string
			for reason, indexes := range unplaced {
				reasons = append(reasons, fmt.Sprintf("%s (%s)", reason, plural(len(indexes), "instance")))
			}
			sort.Strings(reasons)
			return status{}, fmt.Errorf("cannot place every instance of %s: %s", name, strings.Join(reasons, ", "))
		}
		line := fmt.Sprintf("%d/%d instances running", len(running), n)
		if n > 0 && len(crashed) == int(n) {
			return status{}, fmt.Errorf("every instance of %s crashed%s", name, notRunning(lrps, running, n))
		}
		return status{line: line, done: len(running) == int(n), pending: line + notRunning(lrps, running, n)}, nil
	})
}

// notRunning describes the instances below n that are not running: how many are in each state,
// and each crash reason.
func notRunning(lrps []*models.ActualLRP, running map[int32]bool, n int32) string {
	states := map[string]int{}
	var crashes []string
	for _, a := range lrps {
		i := a.GetActualLrpKey().GetIndex()
		if i >= n || running[i] || a.GetPresence() != models.ActualLRP_ORDINARY {
			continue
		}
		states[a.GetState()]++
		if a.GetCrashReason() != "" {
			crashes = append(crashes, fmt.Sprintf("instance %d crashed %s: %s", i, plural(int(a.GetCrashCount()), "time"), a.GetCrashReason()))
		}
	}
	if len(states) == 0 {
		return ""
	}
	var parts []string
	for s, k := range states {
		parts = append(parts, fmt.Sprintf("%d %s", k, s))
	}
	sort.Strings(parts)
	sort.Strings(crashes)
	return "; not running: " + strings.Join(append(parts, crashes...), ", ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// instanceStatus is one instance as status shows it.
type instanceStatus struct {
	Index          int32  `json:"index"`
	State          string `json:"state"`
	Presence       string `json:"presence"`
	Cell           string `json:"cell_id,omitempty"`
	Zone           string `json:"zone,omitempty"`
	Address        string `json:"address,omitempty"`
	Since          string `json:"since,omitempty"`
	CrashCount     int32  `json:"crash_count"`
	CrashReason    string `json:"crash_reason,omitempty"`
	PlacementError string `json:"placement_error,omitempty"`
}

func (c *cli) statusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status NAME",
		Short: "Show an app: its settings and each instance's state, cell, zone, address and crashes",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			ctx := cmd.Context()
			client, d, err := c.app(ctx, name)
			if err != nil {
				return err
			}
			lrps, err := client.ActualLRPs(ctx, bbs.ActualLRPFilter{ProcessGuid: name})
			if err != nil {
				return client.fail(ctx, err)
			}
			cells, err := client.Cells(ctx)
			if err != nil {
				return client.fail(ctx, err)
			}
			zones := map[string]string{}
			for _, p := range cells {
				zones[p.GetCellId()] = p.GetZone()
			}
			sort.SliceStable(lrps, func(i, j int) bool {
				return lrps[i].GetActualLrpKey().GetIndex() < lrps[j].GetActualLrpKey().GetIndex()
			})
			instances := make([]instanceStatus, 0, len(lrps))
			running := 0
			for _, a := range lrps {
				if a.GetState() == models.ActualLRPStateRunning && a.GetPresence() == models.ActualLRP_ORDINARY {
					running++
				}
				cell := a.GetActualLrpInstanceKey().GetCellId()
				zone, ok := zones[cell]
				if !ok {
					// the cell is gone; the instance still says where it was placed
					zone = a.GetAvailabilityZone()
				}
				instances = append(instances, instanceStatus{
					Index: a.GetActualLrpKey().GetIndex(), State: a.GetState(), Presence: a.GetPresence().String(),
					Cell: cell, Zone: zone, Address: address(a.GetActualLrpNetInfo()), Since: since(a.GetSince()),
					CrashCount: a.GetCrashCount(), CrashReason: a.GetCrashReason(), PlacementError: a.GetPlacementError(),
				})
			}
			routes, err := cfroutes.Decode(d.GetRoutes())
			if err != nil {
				return err
			}
			if c.json {
				return c.printJSON(struct {
					Name      string           `json:"name"`
					Instances int32            `json:"instances"`
					Running   int              `json:"running"`
					RootFS    string           `json:"rootfs"`
					MemoryMB  int32            `json:"memory_mb"`
					DiskMB    int32            `json:"disk_mb"`
					Routes    []cfroutes.Route `json:"routes"`
					Actual    []instanceStatus `json:"actual_lrps"`
				}{name, d.GetInstances(), running, d.GetRootFs(), d.GetMemoryMb(), d.GetDiskMb(), routes, instances})
			}
			var hosts []string
			for _, r := range routes {
				for _, h := range r.Hostnames {
					hosts = append(hosts, fmt.Sprintf("%s -> %d", h, r.Port))
				}
			}
			if err := c.table([]string{"APP", name}, [][]string{
				{"instances", fmt.Sprintf("%d desired, %d running", d.GetInstances(), running)}, {"rootfs", d.GetRootFs()},
				{"memory", itoa(d.GetMemoryMb()) + " MB"}, {"disk", itoa(d.GetDiskMb()) + " MB"},
				{"routes", strings.Join(hosts, ", ")},
			}); err != nil {
				return err
			}
			fmt.Fprintln(c.out)
			rows := make([][]string, 0, len(instances))
			for _, i := range instances {
				state := i.State
				if i.Presence != models.ActualLRP_ORDINARY.String() {
					state += " (" + i.Presence + ")"
				}
				reason := i.PlacementError
				if reason == "" {
					reason = i.CrashReason
				}
				rows = append(rows, []string{itoa(i.Index), state, i.Cell, i.Zone, i.Address, i.Since, itoa(i.CrashCount), reason})
			}
			return c.table([]string{"INDEX", "STATE", "CELL", "ZONE", "ADDRESS", "SINCE", "CRASHES", "REASON"}, rows)
		},
	}
}

func (c *cli) fileServerURL() (string, error) { return c.cfg.get(&c.cfg.fileServer) }

// app is the client of the BBS and the app's desired LRP.
func (c *cli) app(ctx context.Context, name string) (*bbsConn, *models.DesiredLRP, error) {
	client, err := c.bbsClient()
	if err != nil {
		return nil, nil, err
	}
	d, err := client.DesiredLRPByProcessGuid(ctx, name)
	if err != nil {
		return nil, nil, notFound(client.fail(ctx, err), "app "+name)
	}
	return client, d, nil
}

// address is where an instance's first port is reached from outside its cell: host:port.
func address(n *models.ActualLRPNetInfo) string {
	if n.GetAddress() == "" {
		return ""
	}
	if ports := n.GetPorts(); len(ports) > 0 {
		return fmt.Sprintf("%s:%d", n.GetAddress(), ports[0].GetHostPort())
	}
	return n.GetAddress()
}
