package events_test

import (
	"fmt"

	"github.com/diego-go/diego/models"
)

func task(guid, cell string) *models.Task {
	return &models.Task{TaskGuid: guid, Domain: "d", CellId: cell, State: models.Task_Running}
}

// numbered is a task event whose guid carries its sequence number.
func numbered(i int) models.Event {
	return models.NewTaskCreatedEvent(task(fmt.Sprintf("task-%d", i), "cell-a"))
}
