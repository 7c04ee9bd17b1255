package inigo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"code.cloudfoundry.org/garden"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/diego-go/diego/inigo/world"
	"github.com/diego-go/diego/internal/gardentest"
	"github.com/diego-go/diego/models"
)

// taskDomain is the domain the suite's Tasks are desired in.
const taskDomain = "inigo-tasks"

// shTask is a Task running script with busybox's sh as vcap in the preloaded rootfs.
func shTask(script string) *models.TaskDefinition {
	return &models.TaskDefinition{RootFs: gardentest.RootFS, MemoryMb: 16, DiskMb: 16, Action: sh(script)}
}

func sh(script string) *models.Action {
	return &models.Action{Value: &models.Action_RunAction{RunAction: &models.RunAction{
		Path: "/bin/sh", Args: []string{"-c", script}, User: "vcap",
	}}}
}

// desireTask desires a Task of a guid of its own and, when the spec ends, cancels it if it has
// not completed and deletes it, as its client would.
func desireTask(name string, def *models.TaskDefinition) string {
	GinkgoHelper()
	guid := w.Guid(name)
	Expect(w.BBS.DesireTask(world.Ctx(), guid, taskDomain, def)).To(Succeed())
	DeferCleanup(func() {
		ctx := context.Background()
		t, err := w.BBS.TaskByGuid(ctx, guid)
		if err != nil {
			return // a callback's resolution deleted it
		}
		if t.State == models.Task_Pending || t.State == models.Task_Running {
			_ = w.BBS.CancelTask(ctx, guid)
		}
		_ = w.BBS.ResolvingTask(ctx, guid)
		_ = w.BBS.DeleteTask(ctx, guid)
	})
	return guid
}

// taskIn waits until the Task is in state and returns it.
func taskIn(guid string, state models.Task_State, timeout time.Duration) *models.Task {
	GinkgoHelper()
	var t *models.Task
	Eventually(func() models.Task_State {
		var err error
		t, err = w.BBS.TaskByGuid(world.Ctx(), guid)
		Expect(err).NotTo(HaveOccurred())
		return t.State
	}, timeout, 50*time.Millisecond).Should(Equal(state), "task %s is %s", guid, state)
	return t
}

// containersOf lists the indexes of the cells whose garden holds a container of the handle.
func containersOf(handle string) []int {
	GinkgoHelper()
	var on []int
	for _, c := range w.Cells {
		list, err := c.Garden.Client.Containers(nil)
		Expect(err).NotTo(HaveOccurred())
		if slices.ContainsFunc(list, func(ctr garden.Container) bool { return ctr.Handle() == handle }) {
			on = append(on, c.Index)
		}
	}
	return on
}

// cellOf is the world's cell of the id.
func cellOf(id string) *world.Cell {
	GinkgoHelper()
	for _, c := range w.Cells {
		if c.ID == id {
			return c
		}
	}
	Fail("no cell of the world has the id " + id)
	return nil
}

var _ = Describe("a Task", func() {
	It("succeeds with the contents of its result_file as its result, and leaves no container", func() {
		def := shTask("printf 'forty-two\\n' > /tmp/result")
		def.ResultFile = "/tmp/result"
		guid := desireTask("task-ok", def)
		t := taskIn(guid, models.Task_Completed, time.Minute)
		Expect(t.Failed).To(BeFalse(), t.FailureReason)
		Expect(t.FailureReason).To(BeEmpty())
		Expect(t.Result).To(Equal("forty-two\n"))
		Eventually(func() []int { return containersOf(guid) }, 10*time.Second, 100*time.Millisecond).Should(BeEmpty(),
			"the cell destroys the container once the BBS has the result")
	})

	It("fails, naming the exit status, when its process exits non-zero", func() {
		def := shTask("printf 'ignored' > /tmp/result; exit 3")
		def.ResultFile = "/tmp/result"
		guid := desireTask("task-fail", def)
		t := taskIn(guid, models.Task_Completed, time.Minute)
		Expect(t.Failed).To(BeTrue())
		Expect(t.FailureReason).To(HaveSuffix("Exited with status 3"))
		Expect(t.Result).To(BeEmpty(), "a failed task has no result")
	})

	It("fails when its action runs past the TimeoutAction wrapping it, its process stopped", func() {
		def := shTask("")
		def.Action = &models.Action{Value: &models.Action_TimeoutAction{TimeoutAction: &models.TimeoutAction{
			Action: sh("sleep 60"), TimeoutMs: 1000,
		}}}
		guid := desireTask("task-timeout", def)
		running := taskIn(guid, models.Task_Running, time.Minute)
		t := taskIn(guid, models.Task_Completed, 30*time.Second)
		took := time.Duration(t.UpdatedAt - running.UpdatedAt)
		GinkgoWriter.Printf("task with a 1s timeout completed %s after it started\n", took)
		Expect(t.Failed).To(BeTrue())
		Expect(t.FailureReason).To(HavePrefix("exceeded 1s timeout"))
		Expect(took).To(BeNumerically("<", 20*time.Second), "the sleep was stopped, not waited for")
		Eventually(func() []int { return containersOf(guid) }, 10*time.Second, 100*time.Millisecond).Should(BeEmpty())
	})

	It("is completed as cancelled and its container destroyed when it is cancelled while running", func() {
		guid := desireTask("task-cancel", shTask("sleep 600"))
		running := taskIn(guid, models.Task_Running, time.Minute)
		cell := cellOf(running.CellId)
		Eventually(func() []int { return containersOf(guid) }, 10*time.Second, 100*time.Millisecond).Should(ConsistOf(cell.Index))

		Expect(w.BBS.CancelTask(world.Ctx(), guid)).To(Succeed())
		t := taskIn(guid, models.Task_Completed, 10*time.Second)
		Expect(t.Failed).To(BeTrue())
		Expect(t.FailureReason).To(Equal("task was cancelled"))
		Eventually(func() []int { return containersOf(guid) }, 20*time.Second, 100*time.Millisecond).Should(BeEmpty(),
			"the cell destroys the cancelled task's container")
	})

	It("is POSTed to its completion_callback_url as a TaskCallbackResponse, and deleted once the callback answers", func() {
		type post struct {
			contentType string
			body        []byte
		}
		var mu sync.Mutex
		var posts []post
		srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			posts = append(posts, post{r.Header.Get("Content-Type"), b})
			mu.Unlock()
		}))
		DeferCleanup(srv.Close)
		received := func() []post {
			mu.Lock()
			defer mu.Unlock()
			return slices.Clone(posts)
		}

		def := shTask("printf done > /tmp/result")
		def.ResultFile = "/tmp/result"
		def.Annotation = "inigo's annotation"
		def.CompletionCallbackUrl = srv.URL + "/completed"
		guid := desireTask("task-callback", def)
		desired, err := w.BBS.TaskByGuid(world.Ctx(), guid)
		Expect(err).NotTo(HaveOccurred())

		Eventually(received, time.Minute, 50*time.Millisecond).Should(HaveLen(1), "the BBS calls back")
		got := received()[0]
		Expect(got.contentType).To(Equal("application/json"))
		var body map[string]any
		d := json.NewDecoder(bytes.NewReader(got.body))
		d.UseNumber()
		Expect(d.Decode(&body)).To(Succeed(), string(got.body))
		Expect(body).To(Equal(map[string]any{
			"task_guid":      guid,
			"failed":         false,
			"failure_reason": "",
			"result":         "done",
			"annotation":     "inigo's annotation",
			"created_at":     json.Number(fmt.Sprint(desired.CreatedAt)),
		}), string(got.body))

		Eventually(func() error {
			_, err := w.BBS.TaskByGuid(world.Ctx(), guid)
			return err
		}, 10*time.Second, 50*time.Millisecond).Should(MatchError(models.ErrResourceNotFound), "the resolved task is deleted")
		Consistently(received, time.Second, 50*time.Millisecond).Should(HaveLen(1), "the callback is made once")
	})

	It("runs at most once: its rep killed -9 mid-run, it fails as its cell disappeared and is not run again", func() {
		// Each run downloads the script from the spec's server first: the downloads count the
		// runs, wherever they happen. The script's line on the task's log says it has begun.
		var mu sync.Mutex
		downloads := 0
		srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			mu.Lock()
			downloads++
			mu.Unlock()
			fmt.Fprint(rw, "echo task running\nexec sleep 600\n")
		}))
		DeferCleanup(srv.Close)
		runs := func() int {
			mu.Lock()
			defer mu.Unlock()
			return downloads
		}

		def := shTask("")
		def.Action = &models.Action{Value: &models.Action_SerialAction{SerialAction: &models.SerialAction{Actions: []*models.Action{
			{Value: &models.Action_DownloadAction{DownloadAction: &models.DownloadAction{From: srv.URL + "/task.sh", To: "/tmp/task", User: "vcap"}}},
			{Value: &models.Action_RunAction{RunAction: &models.RunAction{Path: "/bin/sh", Args: []string{"/tmp/task/task.sh"}, User: "vcap"}}},
		}}}}
		guid := w.Guid("task-once")
		def.LogGuid = guid
		logs := w.Logs(guid)
		Expect(w.BBS.DesireTask(world.Ctx(), guid, taskDomain, def)).To(Succeed())
		DeferCleanup(func() {
			_ = w.BBS.ResolvingTask(context.Background(), guid)
			_ = w.BBS.DeleteTask(context.Background(), guid)
		})
		begun := func() int {
			n := 0
			for _, l := range logs() {
				if strings.Contains(l, "task running") {
					n++
				}
			}
			return n
		}
		Eventually(begun, time.Minute, 50*time.Millisecond).Should(Equal(1), "the task's process runs")
		running, err := w.BBS.TaskByGuid(world.Ctx(), guid)
		Expect(err).NotTo(HaveOccurred())
		Expect(running.State).To(Equal(models.Task_Running))
		victim := cellOf(running.CellId)
		DeferCleanup(func() {
			if !victim.Rep.Running() {
				victim.Restart()
			}
		})

		killed := time.Now()
		victim.Kill9Rep()
		var t *models.Task
		Eventually(func() models.Task_State {
			if runs() > 1 {
				StopTrying("the task was run again").Now()
			}
			var err error
			t, err = w.BBS.TaskByGuid(world.Ctx(), guid)
			Expect(err).NotTo(HaveOccurred())
			return t.State
		}, 2*w.Options.LockTTL+20*time.Second, 50*time.Millisecond).Should(Equal(models.Task_Completed), "the task is resolved")
		GinkgoWriter.Printf("task of a killed rep failed %s after the kill\n", time.Since(killed))
		Expect(t.Failed).To(BeTrue())
		Expect(t.FailureReason).To(Equal("cell disappeared before completion"))

		victim.Restart()
		Consistently(func() []any {
			t, err := w.BBS.TaskByGuid(world.Ctx(), guid)
			Expect(err).NotTo(HaveOccurred())
			return []any{runs(), begun(), t.State}
		}, 3*time.Second, 100*time.Millisecond).Should(Equal([]any{1, 1, models.Task_Completed}),
			"one download, one run, and the task stays completed")
	})
})
