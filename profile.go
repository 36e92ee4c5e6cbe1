package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
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
	cpu, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("cpu-%d.pprof", pid)), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
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
			f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("allocs-%d.pprof", pid)), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
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
