package models

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// The one codec of a cell's presence value (the value a rep keeps at its presence key in
// Consul). Upstream writes it with encoding/json from its gogo-generated struct, whose tags
// differ from the proto names (the rootfs providers go under "rootfs_provider_list") and whose
// omitempty set is its own, so the JSON is spelled out here rather than left to protojson.

type cellPresenceJSON struct {
	CellID                string            `json:"cell_id"`
	RepAddress            string            `json:"rep_address"`
	Zone                  string            `json:"zone"`
	Capacity              *cellCapacityJSON `json:"capacity,omitempty"`
	RootFSProviders       []providerJSON    `json:"rootfs_provider_list,omitempty"`
	PlacementTags         []string          `json:"placement_tags,omitempty"`
	OptionalPlacementTags []string          `json:"optional_placement_tags,omitempty"`
	RepURL                string            `json:"rep_url"`
	// Upstream writes annotations even when there are none, as {} (never null).
	Annotations map[string]string `json:"annotations"`
}

type cellCapacityJSON struct {
	MemoryMB   int32 `json:"memory_mb"`
	DiskMB     int32 `json:"disk_mb"`
	Containers int32 `json:"containers"`
}

type providerJSON struct {
	Name       string   `json:"name"`
	Properties []string `json:"properties,omitempty"`
}

// EncodeCellPresence is the presence value a rep writes, as upstream's rep writes it.
func EncodeCellPresence(p *CellPresence) ([]byte, error) {
	j := cellPresenceJSON{
		CellID:                p.GetCellId(),
		RepAddress:            p.GetRepAddress(),
		Zone:                  p.GetZone(),
		PlacementTags:         p.GetPlacementTags(),
		OptionalPlacementTags: p.GetOptionalPlacementTags(),
		RepURL:                p.GetRepUrl(),
		Annotations:           p.GetAnnotations(),
	}
	if j.Annotations == nil {
		j.Annotations = map[string]string{}
	}
	if c := p.GetCapacity(); c != nil {
		j.Capacity = &cellCapacityJSON{MemoryMB: c.GetMemoryMb(), DiskMB: c.GetDiskMb(), Containers: c.GetContainers()}
	}
	for _, r := range p.GetRootfsProviders() {
		j.RootFSProviders = append(j.RootFSProviders, providerJSON{Name: r.GetName(), Properties: r.GetProperties()})
	}
	return json.Marshal(j)
}

// DecodeCellPresence reads a presence value written by EncodeCellPresence or by an upstream rep
// (older ones write no annotations). It does not check the rep's URL: a presence is listed as found; CellRepURL refuses an unusable one where it is dialled.
func DecodeCellPresence(value []byte) (*CellPresence, error) {
	var j cellPresenceJSON
	if err := json.Unmarshal(value, &j); err != nil {
		return nil, fmt.Errorf("invalid cell presence JSON: %w", err)
	}
	p := &CellPresence{
		CellId:                j.CellID,
		RepAddress:            j.RepAddress,
		Zone:                  j.Zone,
		PlacementTags:         j.PlacementTags,
		OptionalPlacementTags: j.OptionalPlacementTags,
		RepUrl:                j.RepURL,
		Annotations:           j.Annotations,
	}
	if c := j.Capacity; c != nil {
		p.Capacity = &CellCapacity{MemoryMb: c.MemoryMB, DiskMb: c.DiskMB, Containers: c.Containers}
	}
	for _, r := range j.RootFSProviders {
		p.RootfsProviders = append(p.RootfsProviders, &Provider{Name: r.Name, Properties: r.Properties})
	}
	return p, nil
}

// CellRepURL is the base URL of a cell's rep API: rep_url, or rep_address for a presence
// without one (as upstream's clients prefer). Either must be an absolute http:// or https:// URL:
// an address without a scheme is refused rather than guessed, since guessing http would send
// work in the clear to a rep that expects mutual TLS.
func CellRepURL(p *CellPresence) (string, error) {
	field, raw := "rep_url", p.GetRepUrl()
	if raw == "" {
		field, raw = "rep_address", p.GetRepAddress()
	}
	if raw == "" {
		return "", fmt.Errorf("cell %q: presence has neither rep_url nor rep_address", p.GetCellId())
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("cell %q: %s %q: must be an absolute http:// or https:// URL", p.GetCellId(), field, raw)
	}
	return strings.TrimRight(raw, "/"), nil
}
