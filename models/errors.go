package models

import "fmt"

// Error makes the wire Error usable as a Go error, so the BBS can return it
// from any layer and put it in field 1 of the response unchanged.
func (e *Error) Error() string {
	if e == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%s: %s", e.GetType(), e.GetMessage())
}

// Is lets errors.Is match two Errors of the same type, whatever the message.
func (e *Error) Is(target error) bool {
	other, ok := target.(*Error)
	return ok && e != nil && other != nil && e.GetType() == other.GetType()
}

// NewError builds an Error of the given type.
func NewError(t Error_Type, format string, args ...any) *Error {
	return &Error{Type: t, Message: fmt.Sprintf(format, args...)}
}

// Sentinel errors to compare against with errors.Is; never modify them.
var (
	ErrUnknownError               = &Error{Type: Error_UnknownError, Message: "unknown error"}
	ErrResourceNotFound           = &Error{Type: Error_ResourceNotFound, Message: "the requested resource could not be found"}
	ErrResourceExists             = &Error{Type: Error_ResourceExists, Message: "the requested resource already exists"}
	ErrResourceConflict           = &Error{Type: Error_ResourceConflict, Message: "the requested resource is in a conflicting state"}
	ErrBadRequest                 = &Error{Type: Error_InvalidRequest, Message: "the request received is invalid"}
	ErrInvalidProtobufMessage     = &Error{Type: Error_InvalidProtobufMessage, Message: "the protobuf message is invalid"}
	ErrActualLRPCannotBeClaimed   = &Error{Type: Error_ActualLRPCannotBeClaimed, Message: "cannot claim actual LRP"}
	ErrActualLRPCannotBeStarted   = &Error{Type: Error_ActualLRPCannotBeStarted, Message: "cannot start actual LRP"}
	ErrActualLRPCannotBeCrashed   = &Error{Type: Error_ActualLRPCannotBeCrashed, Message: "cannot crash actual LRP"}
	ErrActualLRPCannotBeFailed    = &Error{Type: Error_ActualLRPCannotBeFailed, Message: "cannot fail actual LRP"}
	ErrActualLRPCannotBeRemoved   = &Error{Type: Error_ActualLRPCannotBeRemoved, Message: "cannot remove actual LRP"}
	ErrActualLRPCannotBeUnclaimed = &Error{Type: Error_ActualLRPCannotBeUnclaimed, Message: "cannot unclaim actual LRP"}
	ErrLockCollision              = &Error{Type: Error_LockCollision, Message: "lock collision"}
)

// NewInvalidRequest wraps a validation failure for the response.
func NewInvalidRequest(err error) *Error {
	return &Error{Type: Error_InvalidRequest, Message: err.Error()}
}

// NewInvalidStateTransition reports a refused state change of a record.
func NewInvalidStateTransition(from, to string) *Error {
	return NewError(Error_InvalidStateTransition, "cannot transition from %s to %s", from, to)
}

// NewRunningOnDifferentCell reports work claimed by one cell being changed by another.
func NewRunningOnDifferentCell(expected, actual string) *Error {
	return NewError(Error_RunningOnDifferentCell, "running on cell %s not %s", actual, expected)
}
