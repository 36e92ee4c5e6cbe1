// Command bench measures the provider against pvesim with the Terraform
// CLI (make bench): refresh cost, plan time against terraform_data, apply
// overhead, re-apply writes and peak memory, for fleets of N containers.
//
//	go run ./internal/bench/cmd/bench -n 1,10,100 -out bench-results.json
//
// Environment: BENCH_N (fleet sizes, e.g. 1,10,100,500), BENCH_OUT (JSON
// output), BENCH_REPS (plan repetitions), BENCH_EXEC_LATENCY (the wait of
// each pct exec outside the verify-on plans, default 0), BENCH_GUIDE (guide template whose
// figures to rewrite), TERRAFORM (the CLI). It exits 1 when a target is
// missed and 2 when the run fails.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/bench"
)

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func main() {
	os.Exit(run())
}

func run() int {
	d := bench.Defaults()
	reps, _ := strconv.Atoi(envOr("BENCH_REPS", strconv.Itoa(d.Reps)))
	ns := flag.String("n", envOr("BENCH_N", "1,10,100"), "comma-separated fleet sizes (add 500 for the memory target)")
	out := flag.String("out", os.Getenv("BENCH_OUT"), "JSON output (default bench-results.json in the repository root)")
	tf := flag.String("terraform", os.Getenv("TERRAFORM"), "Terraform CLI (default terraform on PATH)")
	nodes := flag.String("nodes", strings.Join(d.Nodes, ","), "simulated nodes")
	flag.DurationVar(&d.TaskDelay, "task-delay", d.TaskDelay, "simulated task duration")
	flag.DurationVar(&d.APILatency, "api-latency", d.APILatency, "latency added to every simulated API call")
	if v := os.Getenv("BENCH_EXEC_LATENCY"); v != "" {
		el, err := time.ParseDuration(v)
		if err != nil || el < 0 {
			fmt.Fprintf(os.Stderr, "bench: BENCH_EXEC_LATENCY=%q: want a duration such as 200ms\n", v)
			return 2
		}
		d.ExecLatency = el
	}
	flag.DurationVar(&d.ExecLatency, "exec-latency", d.ExecLatency, "how long each pct exec waits on the simulated nodes (pvesim --exec-latency), except in the verify-on plans")
	flag.DurationVar(&d.VerifyExecLatency, "verify-exec-latency", d.VerifyExecLatency, "how long each pct exec waits in the verify-on plans of the plan rotation")
	flag.IntVar(&d.Parallelism, "parallelism", d.Parallelism, "terraform -parallelism of the applies")
	flag.IntVar(&d.Reps, "reps", reps, "interleaved plan repetitions for the plan time ratio")
	flag.IntVar(&d.FullInstallMax, "full-install-max", d.FullInstallMax, "largest N created from the template with a full Docker install; larger fleets are cloned")
	guide := flag.String("guide", os.Getenv("BENCH_GUIDE"), "guide template whose figures to rewrite (templates/guides/performance.md.tmpl)")
	from := flag.String("from", "", "print the table of (and with -guide, write the guide from) an earlier JSON result instead of running")
	flag.BoolVar(&d.Keep, "keep", false, "keep the work directory")
	flag.StringVar(&d.ProfileDir, "pprof", os.Getenv("BENCH_PPROF"), "directory for pprof CPU and allocation profiles of the provider during the timed plans (read with go tool pprof -top DIR/n100/plan/cpu-*.pprof)")
	flag.Parse()

	if *from != "" {
		rep, err := bench.ReadReport(*from)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 2
		}
		rep.WriteTable(os.Stdout)
		if *guide != "" {
			if err := bench.UpdateGuide(*guide, rep, rep.Command); err != nil {
				fmt.Fprintln(os.Stderr, "bench:", err)
				return 2
			}
		}
		return 0
	}

	var err error
	if d.Ns, err = bench.ParseNs(*ns); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	if d.ExecLatency < 0 || d.VerifyExecLatency < 0 {
		fmt.Fprintln(os.Stderr, "bench: -exec-latency and -verify-exec-latency must not be negative")
		return 2
	}
	d.Nodes = strings.Split(*nodes, ",")
	d.Terraform = *tf
	d.Progress = os.Stderr

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := bench.Run(ctx, d)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	rep.Command = command(d)
	path := *out
	if path == "" {
		path = filepath.Join(repoRoot(), "bench-results.json")
	}
	if err := rep.WriteJSON(path); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	fmt.Println()
	rep.WriteTable(os.Stdout)
	fmt.Println()
	rep.WriteBreakdown(os.Stdout)
	fmt.Printf("\nresults written to %s (%.0f s)\n", path, rep.Seconds)
	if *guide != "" {
		if err := bench.UpdateGuide(*guide, rep, rep.Command); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 2
		}
		fmt.Printf("figures written to %s: run make generate to render docs/\n", *guide)
	}
	if !rep.OK {
		return 1
	}
	return 0
}

// command is the make invocation that reproduces the run.
func command(o bench.Options) string {
	ns := make([]string, len(o.Ns))
	for i, n := range o.Ns {
		ns[i] = strconv.Itoa(n)
	}
	s := "make bench"
	if j := strings.Join(ns, ","); j != "1,10,100" {
		s = "BENCH_N=" + j + " " + s
	}
	if o.ExecLatency > 0 {
		s = "BENCH_EXEC_LATENCY=" + o.ExecLatency.String() + " " + s
	}
	return s
}

func repoRoot() string {
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return wd
		}
	}
}
