package pve

import (
	"context"
	"errors"
	"testing"
	"time"
)

var (
	errLocked    = &APIError{Method: "PUT", Path: "/x", Status: 500, Message: "CT is locked (backup)"}
	errTransient = &APIError{Method: "GET", Path: "/x", Status: 503, Message: "Service Unavailable"}
	errDigest    = &APIError{Method: "PUT", Path: "/x", Status: 500, Message: "detected modified configuration - file changed by other user? Try again."}
)

// failing returns fn failing with errs in turn, then succeeding, and a
// pointer to its call count.
func failing(errs ...error) (func() error, *int) {
	n := 0
	return func() error {
		n++
		if n <= len(errs) {
			return errs[n-1]
		}
		return nil
	}, &n
}

func fastPolicy(retryIf func(error) bool) RetryPolicy {
	return RetryPolicy{MaxAttempts: 5, Initial: 10 * time.Millisecond, Max: 40 * time.Millisecond, Multiplier: 2, Jitter: 0.5, RetryIf: retryIf}
}

func TestRetryInjectedFailures(t *testing.T) {
	rec := &sleepRecorder{}
	run := func(p RetryPolicy, fn func() error) error {
		return retry(t.Context(), "op", fn, p, rec.sleep, func() float64 { return 0 })
	}

	fn, n := failing(errTransient, errLocked)
	if err := run(DefaultReadPolicy(), fn); err != nil || *n != 3 {
		t.Errorf("read: transient then locked then ok: %v after %d calls", err, *n)
	}

	fn, n = failing(errTransient)
	if err := run(DefaultWritePolicy(), fn); !errors.Is(err, errTransient) || *n != 1 {
		t.Errorf("write: a transient error that may have been applied was repeated: %v after %d calls", err, *n)
	}

	fn, n = failing(errDigest)
	if err := run(DefaultWritePolicy(), fn); err != error(errDigest) || *n != 1 {
		t.Errorf("write: digest mismatch must come back unwrapped after one call: %v after %d calls", err, *n)
	}

	fn, n = failing(errLocked, errLocked, errLocked, errLocked, errLocked, errLocked)
	err := run(fastPolicy(IsLocked), fn)
	var re *RetryError
	if !errors.As(err, &re) || re.Attempts != 5 || *n != 5 || !errors.Is(err, errLocked) || re.Cause != nil {
		t.Errorf("exhausted: %T %v after %d calls", err, err, *n)
	}

	notFound := &APIError{Status: 500, Message: "Configuration file 'nodes/pve1/lxc/1.conf' does not exist"}
	fn, n = failing(notFound)
	if err := run(DefaultReadPolicy(), fn); err != error(notFound) || *n != 1 {
		t.Errorf("read: not found retried: %v after %d calls", err, *n)
	}
}

func TestRetryStopsBeforeDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
	defer cancel()
	rec := &sleepRecorder{}
	p := fastPolicy(IsLocked)
	p.Initial, p.Max, p.MaxAttempts = 2*time.Hour, 2*time.Hour, 0
	fn, n := failing(errLocked, errLocked)
	err := retry(ctx, "PUT /x", fn, p, rec.sleep, func() float64 { return 0 })
	var re *RetryError
	if !errors.As(err, &re) || !errors.Is(err, context.DeadlineExceeded) || !IsLocked(err) {
		t.Fatalf("want a RetryError that is DeadlineExceeded and locked, got %T %v", err, err)
	}
	if *n != 1 || len(rec.all()) != 0 {
		t.Errorf("%d calls and %d waits: a wait past the deadline was started", *n, len(rec.all()))
	}
}

func TestRetryCanceledDuringWait(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	rec := &sleepRecorder{before: func(int) { cancel() }}
	fn, n := failing(errLocked, errLocked, errLocked)
	err := retry(ctx, "op", fn, fastPolicy(IsLocked), rec.sleep, func() float64 { return 0 })
	if !errors.Is(err, context.Canceled) || !IsLocked(err) || *n != 1 {
		t.Errorf("got %v after %d calls", err, *n)
	}
}

func TestRetryExported(t *testing.T) {
	fn, n := failing(errTransient, errTransient)
	p := fastPolicy(IsTransient)
	p.Initial, p.Max = time.Microsecond, time.Microsecond
	if err := Retry(t.Context(), "op", fn, p); err != nil || *n != 3 {
		t.Errorf("%v after %d calls", err, *n)
	}
}

func TestBackoff(t *testing.T) {
	p := RetryPolicy{Initial: 100 * time.Millisecond, Max: time.Second, Multiplier: 2, Jitter: 0.5}
	cases := []struct {
		n    int
		r    float64
		want time.Duration
	}{
		{1, 0, 100 * time.Millisecond},
		{2, 0, 200 * time.Millisecond},
		{4, 0, 800 * time.Millisecond},
		{5, 0, time.Second}, // capped
		{30, 0, time.Second},
		{2, 1, 100 * time.Millisecond}, // full jitter halves
		{5, 0.5, 750 * time.Millisecond},
	}
	for _, tc := range cases {
		if got := backoff(p, tc.n, tc.r); got != tc.want {
			t.Errorf("backoff(%d, %v) = %v, want %v", tc.n, tc.r, got, tc.want)
		}
	}
	if got := backoff(RetryPolicy{Initial: time.Second, Multiplier: 0.5}, 3, 0); got != time.Second {
		t.Errorf("a multiplier below 1 shrank the wait to %v", got)
	}
}
