package pve

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// RetryPolicy says when and how often an operation is repeated.
type RetryPolicy struct {
	// MaxAttempts bounds the attempts, the first included (0: until the
	// context is done).
	MaxAttempts int
	// Initial is the wait after the first failure; each further wait is
	// Multiplier times longer, at most Max.
	Initial, Max time.Duration
	// Multiplier is the backoff factor (values below 1 count as 1).
	Multiplier float64
	// Jitter in [0,1] shortens each wait by a random fraction up to Jitter,
	// so parallel callers spread out.
	Jitter float64
	// RetryIf says whether an error is worth another attempt (nil: never).
	RetryIf func(error) bool
}

// DefaultReadPolicy retries idempotent reads on transient and lock errors:
// 5 attempts, 200 ms doubling to at most 5 s.
func DefaultReadPolicy() RetryPolicy {
	return RetryPolicy{
		MaxAttempts: 5, Initial: 200 * time.Millisecond, Max: 5 * time.Second,
		Multiplier: 2, Jitter: 0.2,
		RetryIf: func(err error) bool { return IsTransient(err) || IsLocked(err) },
	}
}

// DefaultWritePolicy retries writes only when PVE refused them because the
// config was locked, or when they never reached PVE: 30 attempts, 250 ms
// growing to at most 5 s (about two and a half minutes), bounded by the
// context. A digest mismatch is never retried.
func DefaultWritePolicy() RetryPolicy {
	return RetryPolicy{
		MaxAttempts: 30, Initial: 250 * time.Millisecond, Max: 5 * time.Second,
		Multiplier: 1.6, Jitter: 0.2,
		RetryIf: func(err error) bool { return IsLocked(err) || notSent(err) },
	}
}

// RetryError is returned when an operation still failed after its retries.
// It unwraps to the last error of the operation and, when the context ended
// the retries, to the context's error.
type RetryError struct {
	// Op names the operation, e.g. "PUT /nodes/pve1/lxc/102/config".
	Op string
	// Attempts is how many attempts were made.
	Attempts int
	// Err is the last error of the operation.
	Err error
	// Cause is the context's error when the context ended the retries.
	Cause error
}

// Error implements error.
func (e *RetryError) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: gave up after %d attempts (%v): %v", e.Op, e.Attempts, e.Cause, e.Err)
	}
	return fmt.Sprintf("%s: gave up after %d attempts: %v", e.Op, e.Attempts, e.Err)
}

// Unwrap returns the last error and the context's error, if any.
func (e *RetryError) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Err, e.Cause}
	}
	return []error{e.Err}
}

// Retry calls fn until it succeeds, fails with an error policy.RetryIf
// rejects, runs out of attempts, or ctx would end before the next attempt.
// Errors that are not retried are returned as they are; exhausted retries
// return a *RetryError.
func Retry(ctx context.Context, op string, fn func() error, policy RetryPolicy) error {
	return retry(ctx, op, fn, policy, sleepCtx, rand.Float64)
}

func (c *Client) retry(ctx context.Context, op string, p RetryPolicy, fn func() error) error {
	return retry(ctx, op, fn, p, c.sleep, rand.Float64)
}

func retry(ctx context.Context, op string, fn func() error, p RetryPolicy,
	sleep func(context.Context, time.Duration) error, rnd func() float64,
) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil {
			return nil
		}
		if p.RetryIf == nil || !p.RetryIf(err) {
			return err
		}
		if ctx.Err() != nil {
			return &RetryError{Op: op, Attempts: attempt, Err: err, Cause: ctx.Err()}
		}
		if p.MaxAttempts > 0 && attempt >= p.MaxAttempts {
			return &RetryError{Op: op, Attempts: attempt, Err: err}
		}
		d := backoff(p, attempt, rnd())
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < d {
			return &RetryError{Op: op, Attempts: attempt, Err: err, Cause: context.DeadlineExceeded}
		}
		if serr := sleep(ctx, d); serr != nil {
			return &RetryError{Op: op, Attempts: attempt, Err: err, Cause: serr}
		}
	}
}

// backoff is the wait after failed attempt n (1-based) for a random draw r
// in [0,1).
func backoff(p RetryPolicy, n int, r float64) time.Duration {
	m := math.Max(p.Multiplier, 1)
	d := float64(p.Initial) * math.Pow(m, float64(n-1))
	if p.Max > 0 && d > float64(p.Max) {
		d = float64(p.Max)
	}
	j := math.Min(math.Max(p.Jitter, 0), 1)
	d *= 1 - j*r
	return time.Duration(d)
}

// sleepWakeCtx waits for d, until wake is closed or until ctx is done,
// whichever comes first.
func sleepWakeCtx(ctx context.Context, d time.Duration, wake <-chan struct{}) error {
	t := time.NewTimer(max(d, 0))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-wake:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sleepCtx waits for d or until ctx is done, whichever comes first.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
