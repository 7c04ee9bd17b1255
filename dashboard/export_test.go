package dashboard

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/diego-go/diego/bbs"
	"github.com/diego-go/diego/models"
)

// State is the view model, for the specs of its events.
type State = state

func NewState(cells []*models.CellPresence, desired []*models.DesiredLRP, actuals []*models.ActualLRP, tasks []*models.Task) *State {
	return newState(cells, desired, actuals, tasks)
}

func (s *state) Apply(e models.Event) { s.apply(e) }

func (s *state) View() View { return s.view() }

// NewTimed is New with the given push and resync intervals and the others shortened for specs.
func NewTimed(client *bbs.Client, logger *slog.Logger, push, resync time.Duration, opts ...Option) http.Handler {
	return newHandler(client, logger, timings{
		push: push, cells: 100 * time.Millisecond, resync: resync,
		resubscribe: 100 * time.Millisecond, keepAlive: 50 * time.Millisecond, read: time.Second,
	}, opts...)
}
