package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sync"
	"syscall"
)

// profileDirEnv names a directory in which the provider process writes a
// CPU profile (cpu-<pid>.pprof, from start to exit) and an allocation
// profile (allocs-<pid>.pprof, at exit). Terraform starts the provider
// several times per command, hence one pair of files per process. The
// profiles hold function names and sample counts only: no values of the
// configuration or the state.
const profileDirEnv = "PHOENIX_PROFILE_DIR"

// startProfiles starts the CPU profile when profileDirEnv is set and returns
// the function that writes both profiles; it runs once, when the plugin
// server returns (Terraform's graceful shutdown) or on SIGTERM.
func startProfiles() (stop func()) {
	dir := os.Getenv(profileDirEnv)
	if dir == "" {
		return func() {}
	}
	pid := os.Getpid()
	cpu, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("cpu-%d.pprof", pid)), os.O_CREATE|os.O_EXCL|os.O_WRONLY|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", profileDirEnv, err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", profileDirEnv, err)
		_ = cpu.Close()
		return func() {}
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			pprof.StopCPUProfile()
			_ = cpu.Close()
			f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("allocs-%d.pprof", pid)), os.O_CREATE|os.O_EXCL|os.O_WRONLY|syscall.O_NOFOLLOW, 0o600)
			if err != nil {
				return
			}
			runtime.GC()
			_ = pprof.Lookup("allocs").WriteTo(f, 0)
			_ = f.Close()
		})
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	go func() {
		<-sigs
		stop()
		os.Exit(1)
	}()
	return stop
}

// tuneGC trades memory for CPU in the short-lived plugin process: Terraform
// starts it for one command, and at the default GOGC=100 a plan spends about
// a fifth of the provider's CPU in the garbage collector. With GOGC=200 the
// heap may grow to three times what is live before a collection; the soft
// memory limit of 96 MiB makes the collector run more often again as the
// process nears it, so that a large fleet stays within the memory target of
// make bench. GOGC and GOMEMLIMIT in the environment take precedence.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(96 << 20)
	}
}
