// Package allocation accounts for a cell's capacity: memory, disk and a number of containers.
// It does no I/O; the container store asks it before reserving a container and tells it when a
// reservation is taken up (initialized) or given back.
package allocation

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/diego-go/diego/executor"
)

// Pool is a cell's capacity and what is allocated of it. It is safe for concurrent use.
type Pool struct {
	mu      sync.Mutex
	total   executor.Resources
	used    executor.Resources
	entries map[string]*entry
}

type entry struct {
	resource    executor.Resource
	allocatedAt time.Time
	initialized bool
}

// New returns an empty pool of the given capacity.
func New(total executor.Resources) *Pool {
	return &Pool{total: total, entries: map[string]*entry{}}
}

// InsufficientError says what a request lacked; it wraps executor.ErrInsufficientResources.
type InsufficientError struct {
	// Problems are among "containers", "disk", "memory", sorted.
	Problems []string
}

func (e *InsufficientError) Error() string {
	return executor.ErrInsufficientResources.Error() + ": " + strings.Join(e.Problems, ", ")
}

func (e *InsufficientError) Unwrap() error { return executor.ErrInsufficientResources }

// Allocate reserves r for guid at now. It fails with executor.ErrContainerGuidNotAvailable when
// guid holds an allocation already, and with an *InsufficientError naming every resource that ran
// out (in upstream's alphabetical order) when r does not fit; nothing is allocated then.
func (p *Pool) Allocate(guid string, r executor.Resource, now time.Time) error {
	if guid == "" {
		return fmt.Errorf("allocation: guid is required")
	}
	if r.MemoryMB < 0 || r.DiskMB < 0 || r.MaxPids < 0 {
		return fmt.Errorf("allocation %s: memory_mb, disk_mb and max_pids must not be negative", guid)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.entries[guid]; ok {
		return executor.ErrContainerGuidNotAvailable
	}
	if problems := p.lacks(r); len(problems) > 0 {
		return &InsufficientError{Problems: problems}
	}
	p.entries[guid] = &entry{resource: r, allocatedAt: now}
	p.used.MemoryMB += r.MemoryMB
	p.used.DiskMB += r.DiskMB
	p.used.Containers++
	return nil
}

func (p *Pool) lacks(r executor.Resource) []string {
	var problems []string
	if p.used.Containers+1 > p.total.Containers {
		problems = append(problems, "containers")
	}
	if p.used.DiskMB+r.DiskMB > p.total.DiskMB {
		problems = append(problems, "disk")
	}
	if p.used.MemoryMB+r.MemoryMB > p.total.MemoryMB {
		problems = append(problems, "memory")
	}
	sort.Strings(problems)
	return problems
}

// Initialize marks guid's allocation as taken up: Reap no longer frees it. It fails with
// executor.ErrContainerNotFound when guid holds no allocation (never made, freed or reaped).
func (p *Pool) Initialize(guid string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.entries[guid]
	if !ok {
		return executor.ErrContainerNotFound
	}
	e.initialized = true
	return nil
}

// Free gives guid's allocation back; false when it held none.
func (p *Pool) Free(guid string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.free(guid)
}

func (p *Pool) free(guid string) bool {
	e, ok := p.entries[guid]
	if !ok {
		return false
	}
	delete(p.entries, guid)
	p.used.MemoryMB -= e.resource.MemoryMB
	p.used.DiskMB -= e.resource.DiskMB
	p.used.Containers--
	return true
}

// Reap frees every allocation made at or before now-timeout that was never initialized and
// returns their guids, sorted.
func (p *Pool) Reap(now time.Time, timeout time.Duration) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var reaped []string
	for guid, e := range p.entries {
		if !e.initialized && now.Sub(e.allocatedAt) >= timeout {
			reaped = append(reaped, guid)
		}
	}
	sort.Strings(reaped)
	for _, guid := range reaped {
		p.free(guid)
	}
	return reaped
}

// Has says whether guid holds an allocation.
func (p *Pool) Has(guid string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.entries[guid]
	return ok
}

// Total is the pool's capacity.
func (p *Pool) Total() executor.Resources { return p.total }

// Remaining is the capacity not allocated.
func (p *Pool) Remaining() executor.Resources {
	p.mu.Lock()
	defer p.mu.Unlock()
	return executor.Resources{
		MemoryMB:   p.total.MemoryMB - p.used.MemoryMB,
		DiskMB:     p.total.DiskMB - p.used.DiskMB,
		Containers: p.total.Containers - p.used.Containers,
	}
}
