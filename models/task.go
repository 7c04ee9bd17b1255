package models

// taskTransitions lists, for each state, the states a Task may move to:
// Pending -> Running when a cell starts it, Running -> Pending when the cell
// rejects it (retried), Pending or Running -> Completed when it finishes, is
// cancelled or fails, Completed -> Resolving while its result is delivered.
// A Resolving Task is only ever deleted.
var taskTransitions = map[Task_State][]Task_State{
	Task_Pending:   {Task_Running, Task_Completed},
	Task_Running:   {Task_Pending, Task_Completed},
	Task_Completed: {Task_Resolving},
}

// ValidateTransitionTo returns an InvalidStateTransition error unless the
// Task may move from its state to the next.
func (t *Task) ValidateTransitionTo(next Task_State) error {
	for _, allowed := range taskTransitions[t.GetState()] {
		if allowed == next {
			return nil
		}
	}
	return NewInvalidStateTransition(t.GetState().String(), next.String())
}
