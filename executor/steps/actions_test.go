package steps_test

import (
	"github.com/diego-go/diego/models"
)

func runA(path string, args ...string) *models.RunAction {
	return &models.RunAction{Path: path, Args: args}
}

func wrapRun(r *models.RunAction) *models.Action {
	return &models.Action{Value: &models.Action_RunAction{RunAction: r}}
}

func run(path string, args ...string) *models.Action { return wrapRun(runA(path, args...)) }

func serial(as ...*models.Action) *models.Action {
	return &models.Action{Value: &models.Action_SerialAction{SerialAction: &models.SerialAction{Actions: as}}}
}

func parallel(as ...*models.Action) *models.Action {
	return &models.Action{Value: &models.Action_ParallelAction{ParallelAction: &models.ParallelAction{Actions: as}}}
}

func codependent(as ...*models.Action) *models.Action {
	return &models.Action{Value: &models.Action_CodependentAction{CodependentAction: &models.CodependentAction{Actions: as}}}
}

func timeout(ms int64, a *models.Action) *models.Action {
	return &models.Action{Value: &models.Action_TimeoutAction{TimeoutAction: &models.TimeoutAction{Action: a, TimeoutMs: ms}}}
}

func try(a *models.Action) *models.Action {
	return &models.Action{Value: &models.Action_TryAction{TryAction: &models.TryAction{Action: a}}}
}

func emitProgress(start, success, failure string, a *models.Action) *models.Action {
	return &models.Action{Value: &models.Action_EmitProgressAction{EmitProgressAction: &models.EmitProgressAction{
		Action: a, StartMessage: start, SuccessMessage: success, FailureMessagePrefix: failure,
	}}}
}

func download(d *models.DownloadAction) *models.Action {
	return &models.Action{Value: &models.Action_DownloadAction{DownloadAction: d}}
}

func upload(u *models.UploadAction) *models.Action {
	return &models.Action{Value: &models.Action_UploadAction{UploadAction: u}}
}

func tcpCheck(port uint32) *models.Check {
	return &models.Check{Value: &models.Check_TcpCheck{TcpCheck: &models.TCPCheck{Port: port}}}
}

func httpCheck(port uint32, path string, intervalMs uint64) *models.Check {
	return &models.Check{Value: &models.Check_HttpCheck{HttpCheck: &models.HTTPCheck{Port: port, Path: path, IntervalMs: intervalMs}}}
}
