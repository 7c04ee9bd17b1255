package models_test

import "github.com/diego-go/diego/models"

func runAction() *models.Action {
	return &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{Path: "/bin/sh", Args: []string{"-c", "sleep 1"}, User: "vcap"}}}
}

func validDesiredLRP() *models.DesiredLRP {
	return &models.DesiredLRP{
		ProcessGuid: "web-app_1",
		Domain:      "cf-apps",
		RootFs:      "preloaded:cflinuxfs4",
		Instances:   3,
		Action:      runAction(),
		MemoryMb:    256,
		DiskMb:      1024,
		CpuWeight:   50,
		Ports:       []uint32{8080},
		Routes: &models.Routes{Routes: map[string][]byte{
			"cf-router": []byte(`[{"hostnames":["app.example.com"],"port":8080}]`),
		}},
		CheckDefinition: &models.CheckDefinition{Checks: []*models.Check{
			{Value: &models.Check_HttpCheck{HttpCheck: &models.HTTPCheck{Port: 8080, Path: "/"}}},
		}},
		MetricTags: map[string]*models.MetricTagValue{
			"index": {Dynamic: models.MetricTagValue_INDEX},
			"app":   {Static: "web"},
		},
	}
}

func validTaskDefinition() *models.TaskDefinition {
	return &models.TaskDefinition{
		RootFs:                "docker:///busybox#latest",
		Action:                runAction(),
		MemoryMb:              128,
		DiskMb:                256,
		ResultFile:            "/tmp/result",
		CompletionCallbackUrl: "http://cc.example.com/tasks/done",
	}
}

func actualLRPKey() *models.ActualLRPKey {
	return &models.ActualLRPKey{ProcessGuid: "web-app_1", Index: 0, Domain: "cf-apps"}
}

func instanceKey() *models.ActualLRPInstanceKey {
	return &models.ActualLRPInstanceKey{InstanceGuid: "instance-1", CellId: "cell-1"}
}

func netInfo() *models.ActualLRPNetInfo {
	return &models.ActualLRPNetInfo{Address: "10.0.0.1", Ports: []*models.PortMapping{{ContainerPort: 8080, HostPort: 61000}}}
}
