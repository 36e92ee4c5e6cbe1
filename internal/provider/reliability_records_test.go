package provider

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// The bad-input, secrets and concurrency tests record their figures as JSON
// in testdata/reliability when PHOENIX_RECORD_RELIABILITY=1; these functions
// render them into the reliability guide next to the fault matrix.

type badInputRecord struct {
	Command          string  `json:"command"`
	TerraformVersion string  `json:"terraform_version"`
	Cases            int     `json:"cases"`
	AtValidate       int     `json:"caught_at_validate"`
	AtPlan           int     `json:"caught_at_plan"`
	Runs             int     `json:"terraform_runs"`
	Parallel         int     `json:"parallel"`
	APICalls         int     `json:"api_calls"`
	WallSeconds      float64 `json:"wall_seconds"`
	Rows             []struct {
		Group string `json:"group"`
	} `json:"rows"`
}

type concurrencyRecord struct {
	Command     string `json:"command"`
	Containers  int    `json:"containers"`
	Parallelism int    `json:"parallelism"`
	Docker      bool   `json:"docker"`
	Scenarios   []struct {
		Name   string   `json:"name"`
		Nodes  []string `json:"nodes"`
		Phases []struct {
			Phase          string  `json:"phase"`
			Seconds        float64 `json:"seconds"`
			OK             bool    `json:"ok"`
			InState        int     `json:"in_state"`
			Orphans        int     `json:"orphans"`
			APIRequests    int     `json:"api_requests"`
			SSHCommands    int     `json:"ssh_commands"`
			SSHConnections map[string]struct {
				Accepted int `json:"accepted"`
				Peak     int `json:"peak"`
			} `json:"ssh_connections"`
		} `json:"phases"`
	} `json:"scenarios"`
}

type secretsRecord struct {
	Command  string   `json:"command"`
	Secrets  []string `json:"secrets"`
	Runs     []string `json:"runs"`
	Searched []struct {
		What string `json:"what"`
	} `json:"searched"`
	Leaks int `json:"leaks"`
}

func readRecord(name string, v any) (bool, error) {
	b, err := os.ReadFile(filepath.Join("testdata", "reliability", name))
	if os.IsNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, json.Unmarshal(b, v)
}

// renderRecords returns the guide sections for the recorded figures.
func renderRecords() ([]string, error) {
	var out []string
	var bi badInputRecord
	if ok, err := readRecord("badinput.json", &bi); err != nil {
		return nil, err
	} else if ok {
		groups := map[string]int{}
		for _, r := range bi.Rows {
			groups[r.Group]++
		}
		var names []string
		for g := range groups {
			names = append(names, g)
		}
		sort.Strings(names)
		var parts []string
		for _, g := range names {
			parts = append(parts, fmt.Sprintf("%s (%d)", g, groups[g]))
		}
		var b strings.Builder
		fmt.Fprintf(&b, "## Bad input\n\n%d invalid configurations, each failing before any API call: %d at `terraform validate`, "+
			"%d at `terraform plan`, in %d Terraform runs (Terraform %s, %d in parallel, %.0f s), with %d API calls in all "+
			"(the simulator's request log). Every error names the attribute, by source line or by path.\n\n",
			bi.Cases, bi.AtValidate, bi.AtPlan, bi.Runs, bi.TerraformVersion, bi.Parallel, bi.WallSeconds, bi.APICalls)
		fmt.Fprintf(&b, "Cases per attribute group: %s.\n\nReproduce with `%s`.", strings.Join(parts, ", "), bi.Command)
		out = append(out, b.String())
	}
	var sec secretsRecord
	if ok, err := readRecord("secrets.json", &sec); err != nil {
		return nil, err
	} else if ok {
		out = append(out, fmt.Sprintf("## Secrets\n\nSearched %d outputs (trace logs with `TF_LOG=trace`, outputs, the state file and "+
			"`terraform show -json`) of %d runs (%s) for %d secrets (%s): %d leaks.\n\nReproduce with `%s`.",
			len(sec.Searched), len(sec.Runs), strings.Join(sec.Runs, ", "), len(sec.Secrets), strings.Join(sec.Secrets, ", "),
			sec.Leaks, sec.Command))
	}
	var cc concurrencyRecord
	if ok, err := readRecord("concurrency.json", &cc); err != nil {
		return nil, err
	} else if ok {
		var b strings.Builder
		fmt.Fprintf(&b, "## Concurrency\n\n%d containers per scenario, each with a docker block, at `-parallelism=%d`.\n\n", cc.Containers, cc.Parallelism)
		b.WriteString("| scenario | phase | ok | seconds | in state | orphans | API requests | SSH commands | SSH connections per node (accepted / peak) |\n")
		b.WriteString("|---|---|---|---:|---:|---:|---:|---:|---|\n")
		for _, s := range cc.Scenarios {
			for _, p := range s.Phases {
				var conns []string
				for _, n := range s.Nodes {
					c := p.SSHConnections[n]
					conns = append(conns, fmt.Sprintf("%s: %d / %d", n, c.Accepted, c.Peak))
				}
				fmt.Fprintf(&b, "| %s | %s | %s | %.0f | %d | %d | %d | %d | %s |\n", s.Name, p.Phase, yesNo(p.OK), p.Seconds,
					p.InState, p.Orphans, p.APIRequests, p.SSHCommands, strings.Join(conns, ", "))
			}
		}
		fmt.Fprintf(&b, "\nReproduce with `%s`.", cc.Command)
		out = append(out, b.String())
	}
	return out, nil
}
