package provider

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pve"
)

// apiStub is an API client of a TLS server that answers path (below
// /api2/json) with answer and every other path with 404 Not Found.
func apiStub(t *testing.T, path string, answer http.HandlerFunc) *pve.Client {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api2/json"+path {
			http.NotFound(w, r)
			return
		}
		answer(w, r)
	}))
	t.Cleanup(srv.Close)
	c, err := pve.New(pve.Config{Endpoint: srv.URL, APIToken: testToken, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPrivilegesAtSharesConcurrentQuestions(t *testing.T) {
	var asked atomic.Int32
	var fail atomic.Bool
	c := apiStub(t, "/access/permissions", func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		time.Sleep(50 * time.Millisecond) // the others arrive meanwhile
		if fail.Load() {
			http.Error(w, `{"data":null}`, http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"data":{"` + r.URL.Query().Get("path") + `":{"Datastore.AllocateSpace":1}}}`))
	})
	d := &providerData{client: c}
	ask := func(n int, fresh bool) {
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				got, err := d.privilegesAt(t.Context(), c, "/storage/local", fresh)
				if err == nil && got["Datastore.AllocateSpace"] != 1 {
					t.Errorf("privileges %v", got)
				}
			})
		}
		wg.Wait()
	}
	// A failed question is not cached and not shared as an answer: each
	// waiting caller asks again in turn.
	fail.Store(true)
	ask(3, false)
	if n := asked.Load(); n != 3 {
		t.Errorf("3 callers with failing answers asked %d times, want 3", n)
	}
	fail.Store(false)
	asked.Store(0)
	ask(10, false)
	if n := asked.Load(); n != 1 {
		t.Errorf("10 concurrent callers asked %d times, want 1", n)
	}
	ask(3, false)
	if n := asked.Load(); n != 1 {
		t.Errorf("cached path asked again: %d questions", n)
	}
	ask(2, true)
	if n := asked.Load(); n != 3 {
		t.Errorf("fresh questions: %d in all, want 3", n)
	}
}
