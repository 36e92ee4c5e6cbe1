package pve

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// cancelBound is how soon a canceled wait must return: well below the
// longest poll interval (1 s) and backoff (5 s) it could be sleeping in.
const cancelBound = time.Second

// returnsAfterCancel runs call with a context canceled after 150 ms and
// returns how long it took after the cancel, and its error.
func returnsAfterCancel(t *testing.T, call func(ctx context.Context) error) (time.Duration, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	var canceled time.Time
	timer := time.AfterFunc(150*time.Millisecond, func() {
		canceled = time.Now()
		cancel()
	})
	defer timer.Stop()
	done := make(chan error, 1)
	go func() { done <- call(ctx) }()
	select {
	case err := <-done:
		if canceled.IsZero() {
			t.Fatalf("returned before the cancel: %v", err)
		}
		return time.Since(canceled), err
	case <-time.After(30 * time.Second):
		t.Fatal("still waiting 30 s after the cancel")
	}
	return 0, nil
}

func TestWaitTaskStopsOnCancel(t *testing.T) {
	f := newFakePVE(t)
	f.reply("GET /api2/json/nodes/pve1/tasks/"+testUPID+"/status", `{"status":"running","upid":"`+testUPID+`"}`)
	c, _ := f.client()
	c.sleep = sleepCtx
	c.poll = PollPolicy{Initial: 900 * time.Millisecond, Max: 900 * time.Millisecond, Factor: 1, MaxErrors: 10}
	after, err := returnsAfterCancel(t, func(ctx context.Context) error { return c.WaitTask(ctx, testUPID) })
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "did not finish in time") {
		t.Errorf("want a canceled wait naming the task, got %v", err)
	}
	if after > cancelBound {
		t.Errorf("WaitTask returned %v after the cancel", after)
	}
}

func TestLockedWriteStopsOnCancel(t *testing.T) {
	f := newFakePVE(t)
	f.fail("PUT /api2/json/nodes/pve1/lxc/102/config", 500, "CT is locked (backup)")
	c, _ := f.client()
	c.sleep = sleepCtx
	c.writePolicy.Initial, c.writePolicy.Max = 5*time.Second, 5*time.Second
	after, err := returnsAfterCancel(t, func(ctx context.Context) error {
		return c.UpdateContainerConfig(ctx, "pve1", 102, map[string]string{"memory": "1024"}, nil, "")
	})
	var re *RetryError
	if !errors.As(err, &re) || !errors.Is(err, context.Canceled) || !IsLocked(err) {
		t.Errorf("want a RetryError with the lock and the cancel, got %T %v", err, err)
	}
	if after > cancelBound {
		t.Errorf("the retry returned %v after the cancel", after)
	}
}

func TestCreateStopsOnCancelDuringSlowAnswer(t *testing.T) {
	// The API takes long to answer the create: a cancel aborts the request
	// itself, and the create is not repeated.
	f := newFakePVE(t)
	f.handle("POST /api2/json/nodes/pve1/lxc", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(20 * time.Second):
		}
		writeData(w, `"`+testUPID+`"`)
	})
	c, _ := f.client()
	c.sleep = sleepCtx
	after, err := returnsAfterCancel(t, func(ctx context.Context) error {
		_, err := c.CreateContainer(ctx, "pve1", map[string]string{"vmid": "102"})
		return err
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("want the cancel, got %v", err)
	}
	if after > cancelBound {
		t.Errorf("the create returned %v after the cancel", after)
	}
	f.wantSent("POST", "/api2/json/nodes/pve1/lxc", 1)
}
