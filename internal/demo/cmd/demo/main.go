// Command demo is what make demo runs: the provider built from this tree
// applies examples/demo to the Proxmox VE simulator, a second apply shows
// "No changes", the containers are destroyed, and everything the demo
// started is stopped and removed on exit, also after Ctrl-C (a second
// Ctrl-C stops Terraform at once).
//
//	go run ./internal/demo/cmd/demo [-terraform PATH] [-task-delay 300ms]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/demo"
)

func main() {
	tf := flag.String("terraform", os.Getenv("TERRAFORM"), "Terraform-compatible CLI; terraform, else tofu, from PATH when empty")
	delay := flag.Duration("task-delay", 0, "how long each simulated Proxmox VE task runs (default 300ms)")
	flag.Parse()

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(context.Background())
	abort := make(chan struct{})
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "\n%v: stopping Terraform, then the simulator (again to stop at once)\n", s)
		cancel()
		<-sigs
		close(abort)
	}()

	code := 0
	if err := run(ctx, abort, *tf, *delay); err != nil {
		if errors.Is(err, demo.ErrInterrupted) {
			fmt.Fprintln(os.Stderr, "demo interrupted: the simulator is stopped and the temporary directory removed")
			code = 130
		} else {
			fmt.Fprintln(os.Stderr, "demo failed:", err)
			code = 1
		}
	}
	cancel()
	os.Exit(code)
}

func run(ctx context.Context, abort <-chan struct{}, tf string, delay time.Duration) error {
	if err := demo.CheckBubblewrap(); err != nil {
		return err
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	repo, err := demo.FindRepo(wd)
	if err != nil {
		return err
	}
	cli, err := demo.FindTerraform(tf)
	if err != nil {
		return err
	}
	return demo.Run(ctx, demo.Options{
		RepoDir:   repo,
		Terraform: cli,
		TaskDelay: delay,
		Out:       os.Stdout,
		Abort:     abort,
	})
}
