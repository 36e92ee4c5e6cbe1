package provider

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// reliabilityGuide is the template tfplugindocs renders into
// docs/guides/reliability.md.
var reliabilityGuide = filepath.Join("..", "..", "templates", "guides", "reliability.md.tmpl")

// recordCommand is the command that records the rows and renders the guide.
const recordCommand = "make testacc-faults PHOENIX_RECORD_RELIABILITY=1 && make generate"

// TestReliabilityGuide renders the recorded fault matrix
// (testdata/reliability/faults.jsonl) into the reliability guide's template
// and checks that every row is green. With PHOENIX_RECORD_RELIABILITY=1 it
// writes the template; otherwise it fails when the template is stale.
// Markdown fragments in testdata/reliability (*.md) are appended in name
// order, so other recorded figures can join the guide.
func TestReliabilityGuide(t *testing.T) {
	data, err := os.ReadFile(faultsJSONL)
	if os.IsNotExist(err) {
		t.Skipf("no recorded fault matrix in %s: run %s", faultsJSONL, recordCommand)
	}
	if err != nil {
		t.Fatal(err)
	}
	rows, err := parseFaultRows(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatalf("%s holds no rows", faultsJSONL)
	}
	for _, r := range rows {
		if !r.green() {
			t.Errorf("row %s / %s / %s is not green: %+v", r.Layer, r.Case, r.Phase, r)
		}
	}
	fragments, err := filepath.Glob(filepath.Join("testdata", "reliability", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(fragments)
	extra, err := renderRecords()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fragments {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		extra = append(extra, strings.TrimSpace(string(b)))
	}
	got := renderReliabilityGuide(rows, extra)
	if os.Getenv(recordEnv) == "1" {
		if err := os.WriteFile(reliabilityGuide, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(reliabilityGuide)
	if err != nil {
		t.Fatalf("%v: run %s", err, recordCommand)
	}
	if string(want) != got {
		t.Errorf("%s is not what %s renders: run %s", reliabilityGuide, faultsJSONL, recordCommand)
	}
}

func parseFaultRows(data []byte) ([]faultRow, error) {
	var rows []faultRow
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var r faultRow
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", faultsJSONL, n, err)
		}
		rows = append(rows, r)
	}
	slices.SortStableFunc(rows, func(a, b faultRow) int { return a.Order - b.Order })
	return rows, sc.Err()
}

// green says whether a row meets the bar: no orphan, at most one run to
// converge, an empty plan after, and a failed run that said why.
func (r faultRow) green() bool {
	return r.Orphans == 0 && r.ConvergeApplies <= 1 && r.PlanEmpty && (r.Outcome != "failed" || r.Error != "")
}

// cell escapes a value for a Markdown table cell (and keeps template
// delimiters out of the tfplugindocs template).
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "{{", "{ {")
	s = strings.ReplaceAll(s, "}}", "} }")
	return strings.ReplaceAll(s, "\n", " ")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func renderReliabilityGuide(rows []faultRow, extra []string) string {
	var b strings.Builder
	b.WriteString(`---
page_title: "Reliability: faults, retries and convergence"
subcategory: "Guides"
description: |-
  What an apply does when the Proxmox VE API, the SSH connection to a node or the install inside a container
  fails, and how many applies it takes to converge once the fault clears, measured by the fault matrix.
---

# Reliability under faults

An apply that meets a flaky network, a busy or restarting Proxmox VE, a
dropped SSH connection or a failing install must never lose track of a
container, never leave one behind that Terraform does not know, and converge
once the fault clears. The fault matrix checks that for every fault below, in
each phase it applies to, on its own simulated cluster (pvesim with per-node
SSH servers), driving the Terraform CLI as a user would.

## How the provider handles faults

- Reads are retried on 5xx answers, broken connections and locked configs,
  with capped exponential backoff and jitter, within the resource timeout.
- Writes are retried when the config is locked ("CT is locked") or when the
  request provably never reached Proxmox VE. A create, clone or destroy whose
  answer was lost (5xx, reset connection) is never repeated blindly: the
  provider first checks whether the container exists, then either carries on
  with it or sends the request again.
- A config update is guarded by the config's digest: when another client
  changed the config between the provider's read and write, the provider
  reads it again and writes what is still missing.
- A start or stop task that failed because the config was locked is started
  again with backoff.
- A container that exists once creation started is always saved in the
  state, tainted when a later step failed, so the next apply replaces it; a
  creation that Proxmox VE rolled back leaves nothing in the state.
- Waits (tasks, backoff) end when the resource timeout expires or the run is
  interrupted (Ctrl-C), with an error that names the task.

## The fault matrix

`)
	fmt.Fprintf(&b, "Generated from `internal/provider/testdata/reliability/faults.jsonl`, recorded by\n`%s`\n(the matrix alone: `make testacc-faults`). %d cases; every row is checked by the test: 0 orphans,\nat most 1 run to converge after the fault clears, an empty plan after.\n\n", recordCommand, len(rows))
	b.WriteString("Columns: **outcome** of the run while the fault is active; the **error** the user\nsaw (summary and first paragraph of the diagnostic); whether the container was\n**in state** after that run (tainted or not); **orphans**, containers on the\ncluster missing from the state; **runs to converge** after the fault cleared\n(0: the faulty run succeeded); whether the following **plan** was empty.\n\n")
	b.WriteString("| layer | fault | phase | outcome | error shown | in state | orphans | runs to converge | plan after | s |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	total := 0.0
	for _, r := range rows {
		inState := yesNo(r.InState)
		if r.Tainted {
			inState += " (tainted)"
		}
		errText := r.Error
		if errText == "" {
			errText = "—"
		}
		plan := "not empty"
		if r.PlanEmpty {
			plan = "empty"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %d | %d | %s | %.0f |\n",
			cell(r.Layer), cell(r.Case+": "+r.Fault), r.Phase, r.Outcome, cell(errText), inState, r.Orphans, r.ConvergeApplies, plan, r.Seconds)
		total += r.Seconds
	}
	fmt.Fprintf(&b, "\nThe last column is each case's wall time (its own simulator, cases in parallel);\ntheir sum is %.0f s.\n", total)
	for _, e := range extra {
		b.WriteString("\n" + e + "\n")
	}
	return b.String()
}
