package eventhub_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"sync"

	"github.com/diego-go/diego/models"
)

func actualLRP(guid string, index int32, instance, cell string) *models.ActualLRP {
	return &models.ActualLRP{
		ActualLrpKey:         &models.ActualLRPKey{ProcessGuid: guid, Index: index, Domain: "d"},
		ActualLrpInstanceKey: &models.ActualLRPInstanceKey{InstanceGuid: instance, CellId: cell},
		State:                models.ActualLRPStateRunning,
		Since:                1234,
	}
}

func desiredLRP(guid string) *models.DesiredLRP {
	return &models.DesiredLRP{ProcessGuid: guid, Domain: "d", Instances: 2, RootFs: "preloaded:cflinuxfs4"}
}

func task(guid, cell string) *models.Task {
	return &models.Task{TaskGuid: guid, Domain: "d", CellId: cell, State: models.Task_Running}
}

// numbered is a task event whose guid carries its sequence number.
func numbered(i int) models.Event {
	return models.NewTaskCreatedEvent(task(fmt.Sprintf("task-%d", i), "cell-a"))
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func jsonLogger(w *syncBuffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, nil))
}
