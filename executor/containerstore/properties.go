package containerstore

import (
	"encoding/json"
	"fmt"
	"time"

	"code.cloudfoundry.org/garden"
	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/executor"
	"github.com/diego-go/diego/models"
)

// Garden properties of the executor's containers: what a later executor needs to adopt one.
const (
	// OwnerProperty is upstream's: containers of another owner (cell) are never touched.
	OwnerProperty    = "executor:owner"
	resourceProperty = "executor:resource"
	tagsProperty     = "executor:tags"
	allocatedAtProp  = "executor:allocated-at"
	runInfoProperty  = "executor:run-info"
	// resultProperty is set when the container completes.
	resultProperty = "executor:result"
)

// storedRunInfo is a RunInfo as JSON: the actions, checks and rules (protobuf messages with
// oneofs, which encoding/json cannot read back) as their protobuf bytes, shadowing the
// embedded fields of the same names. The image credentials are never stored.
type storedRunInfo struct {
	executor.RunInfo
	Setup           []byte
	Action          []byte
	Monitor         []byte
	CheckDefinition []byte
	Sidecars        []storedSidecar
	EgressRules     [][]byte
}

type storedSidecar struct {
	Action   []byte
	MemoryMB int
	DiskMB   int
}

func marshalProto(m proto.Message) ([]byte, error) {
	if m == nil || !m.ProtoReflect().IsValid() {
		return nil, nil
	}
	return proto.Marshal(m)
}

func unmarshalProto[T any, P interface {
	*T
	proto.Message
}](b []byte) (P, error) {
	if b == nil {
		return nil, nil
	}
	m := P(new(T))
	return m, proto.Unmarshal(b, m)
}

func encodeRunInfo(info executor.RunInfo) (string, error) {
	s := storedRunInfo{RunInfo: info}
	s.RunInfo.ImageUsername, s.RunInfo.ImagePassword = "", ""
	s.RunInfo.Setup, s.RunInfo.Action, s.RunInfo.Monitor, s.RunInfo.CheckDefinition = nil, nil, nil, nil
	s.RunInfo.Sidecars, s.RunInfo.EgressRules = nil, nil
	var err error
	marshal := func(m proto.Message) []byte {
		b, e := marshalProto(m)
		if e != nil && err == nil {
			err = e
		}
		return b
	}
	s.Setup, s.Action, s.Monitor = marshal(info.Setup), marshal(info.Action), marshal(info.Monitor)
	s.CheckDefinition = marshal(info.CheckDefinition)
	for _, sc := range info.Sidecars {
		s.Sidecars = append(s.Sidecars, storedSidecar{Action: marshal(sc.Action), MemoryMB: sc.MemoryMB, DiskMB: sc.DiskMB})
	}
	for _, r := range info.EgressRules {
		s.EgressRules = append(s.EgressRules, marshal(r))
	}
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(s)
	return string(b), err
}

func decodeRunInfo(raw string) (executor.RunInfo, error) {
	var s storedRunInfo
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return executor.RunInfo{}, err
	}
	info := s.RunInfo
	var err error
	keep := func(e error) {
		if e != nil && err == nil {
			err = e
		}
	}
	var e error
	info.Setup, e = unmarshalProto[models.Action](s.Setup)
	keep(e)
	info.Action, e = unmarshalProto[models.Action](s.Action)
	keep(e)
	info.Monitor, e = unmarshalProto[models.Action](s.Monitor)
	keep(e)
	info.CheckDefinition, e = unmarshalProto[models.CheckDefinition](s.CheckDefinition)
	keep(e)
	for _, sc := range s.Sidecars {
		a, e := unmarshalProto[models.Action](sc.Action)
		keep(e)
		info.Sidecars = append(info.Sidecars, executor.Sidecar{Action: a, MemoryMB: sc.MemoryMB, DiskMB: sc.DiskMB})
	}
	for _, r := range s.EgressRules {
		rule, e := unmarshalProto[models.SecurityGroupRule](r)
		keep(e)
		info.EgressRules = append(info.EgressRules, rule)
	}
	return info, err
}

// properties are the garden properties a container is created with.
func properties(owner string, c executor.Container) (garden.Properties, error) {
	info, err := encodeRunInfo(c.RunInfo)
	if err != nil {
		return nil, err
	}
	res, _ := json.Marshal(c.Resource)
	tags, _ := json.Marshal(c.Tags)
	return garden.Properties{
		OwnerProperty:    owner,
		resourceProperty: string(res),
		tagsProperty:     string(tags),
		allocatedAtProp:  c.AllocatedAt.UTC().Format(time.RFC3339Nano),
		runInfoProperty:  info,
	}, nil
}

// fromProperties rebuilds what the executor knew of a container from its garden properties.
func fromProperties(handle string, p garden.Properties) (executor.Container, error) {
	c := executor.Container{Guid: handle, State: executor.StateCreated}
	var err error
	if c.RunInfo, err = decodeRunInfo(p[runInfoProperty]); err != nil {
		return c, fmt.Errorf("%s: %w", runInfoProperty, err)
	}
	if err := json.Unmarshal([]byte(p[resourceProperty]), &c.Resource); err != nil {
		return c, fmt.Errorf("%s: %w", resourceProperty, err)
	}
	if err := json.Unmarshal([]byte(p[tagsProperty]), &c.Tags); err != nil {
		return c, fmt.Errorf("%s: %w", tagsProperty, err)
	}
	if c.AllocatedAt, err = time.Parse(time.RFC3339Nano, p[allocatedAtProp]); err != nil {
		return c, fmt.Errorf("%s: %w", allocatedAtProp, err)
	}
	if raw, ok := p[resultProperty]; ok {
		if err := json.Unmarshal([]byte(raw), &c.RunResult); err != nil {
			return c, fmt.Errorf("%s: %w", resultProperty, err)
		}
		c.State = executor.StateCompleted
	}
	return c, nil
}
