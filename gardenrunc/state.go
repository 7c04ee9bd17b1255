package gardenrunc

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"code.cloudfoundry.org/garden"
)

// containerState is what is persisted per container (depot/<handle>/state.json). Registry
// credentials are never part of it.
type containerState struct {
	Handle      string               `json:"handle"`
	RootFS      string               `json:"rootfs"` // the rootfs URI asked for (no credentials)
	Lowers      []string             `json:"lowers"`
	Env         []string             `json:"env"`
	Privileged  bool                 `json:"privileged"`
	Limits      garden.Limits        `json:"limits"`
	Properties  garden.Properties    `json:"properties"`
	GraceTime   time.Duration        `json:"grace_time"`
	IP          string               `json:"ip"`
	InitPid     int                  `json:"init_pid"`
	InitStart   string               `json:"init_start"` // start time of init (field 22 of /proc/pid/stat)
	MappedPorts []garden.PortMapping `json:"mapped_ports"`
	NetOut      []garden.NetOutRule  `json:"net_out"`
	// NoChains: the container has no iptables chains of its own yet (they are made with its first
	// NetIn or NetOut; until then the shared defaults apply). Absent in older state files, which
	// always had chains.
	NoChains     bool      `json:"no_chains,omitempty"`
	Events       []string  `json:"events"`
	Created      time.Time `json:"created"`
	ImageUser    string    `json:"image_user,omitempty"`
	ImageWorkDir string    `json:"image_workdir,omitempty"`
	// UserNSHostID: the host id the container's root is, when it has a user namespace (0: none).
	UserNSHostID uint32 `json:"userns_host_id,omitempty"`
	// IDMapped: the shared idmapped mounts of its lower layers it counts as a user of.
	IDMapped []string `json:"idmapped,omitempty"`
}

func stateFile(dir string) string { return filepath.Join(dir, "state.json") }

func saveState(dir string, st *containerState) error {
	b, err := json.MarshalIndent(st, "", " ")
	if err != nil {
		return err
	}
	tmp := stateFile(dir) + ".tmp"
	if err := os.WriteFile(tmp, b, 0600); err != nil {
		return err
	}
	return os.Rename(tmp, stateFile(dir))
}

func loadState(dir string) (*containerState, error) {
	b, err := os.ReadFile(stateFile(dir))
	if err != nil {
		return nil, err
	}
	st := &containerState{}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, err
	}
	return st, nil
}
