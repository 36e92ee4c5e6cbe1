package provider

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// TestAccProviderSchemaThroughCLI builds the provider, installs it through a
// dev_overrides CLI configuration and checks what "terraform providers schema
// -json" shows a user: every attribute described, secrets marked sensitive.
func TestAccProviderSchemaThroughCLI(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "main.tf"), requirePhoenix)
	out, err := runTerraform(t, dir, "providers", "schema", "-json")
	if err != nil {
		t.Fatalf("providers schema: %v\n%s", err, out)
	}
	var doc struct {
		ProviderSchemas map[string]struct {
			Provider struct {
				Block cliBlock `json:"block"`
			} `json:"provider"`
		} `json:"provider_schemas"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	var block *cliBlock
	for addr, s := range doc.ProviderSchemas {
		if strings.HasSuffix(addr, "/phoenix-hypervisor/phoenix") {
			b := s.Provider.Block
			block = &b
		}
	}
	if block == nil {
		t.Fatalf("provider not in the schema output: %s", out)
	}
	var undescribed, sensitive []string
	block.walk("", &undescribed, &sensitive)
	if len(undescribed) > 0 {
		t.Errorf("undescribed: %v", undescribed)
	}
	sort.Strings(sensitive)
	if got := strings.Join(sensitive, ","); got != "api_token,password,ssh.password,ssh.private_key" {
		t.Errorf("sensitive = %s", got)
	}
}

type cliBlock struct {
	Attributes map[string]struct {
		Description string `json:"description"`
		Sensitive   bool   `json:"sensitive"`
	} `json:"attributes"`
	BlockTypes map[string]struct {
		Block cliBlock `json:"block"`
	} `json:"block_types"`
	Description string `json:"description"`
}

func (b cliBlock) walk(prefix string, undescribed, sensitive *[]string) {
	for name, a := range b.Attributes {
		if strings.TrimSpace(a.Description) == "" {
			*undescribed = append(*undescribed, prefix+name)
		}
		if a.Sensitive {
			*sensitive = append(*sensitive, prefix+name)
		}
	}
	for name, nb := range b.BlockTypes {
		if strings.TrimSpace(nb.Block.Description) == "" {
			*undescribed = append(*undescribed, prefix+name)
		}
		nb.Block.walk(prefix+name+".", undescribed, sensitive)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

var (
	devProviderOnce sync.Once
	devProviderDir  string
	devProviderErr  error
)

// runTerraform runs the Terraform CLI in dir against the provider built from
// this tree (through a dev_overrides CLI configuration) and returns its
// standard output (and standard error on failure).
func runTerraform(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	return runTerraformWith(t, dir, nil, args...)
}

// runTerraformWith is runTerraform with more dev_overrides: provider
// source address to a directory holding its binary.
func runTerraformWith(t *testing.T, dir string, overrides map[string]string, args ...string) (string, error) {
	t.Helper()
	return runTerraformEnv(t, dir, overrides, nil, args...)
}

// runTerraformEnv is runTerraformWith with more environment variables
// (NAME=value). It may run in a goroutine once the CLI was found and the
// provider built (by an earlier call in the test's goroutine).
func runTerraformEnv(t *testing.T, dir string, overrides map[string]string, env []string, args ...string) (string, error) {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("set TF_ACC=1 to run tests that drive the Terraform CLI")
	}
	tf := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if tf == "" {
		var err error
		if tf, err = exec.LookPath("terraform"); err != nil {
			t.Skip("no Terraform CLI: set TF_ACC_TERRAFORM_PATH or put terraform on PATH")
		}
	}
	buildDevProvider(t)
	rc := filepath.Join(dir, "dev.tfrc")
	var more strings.Builder
	for addr, d := range overrides {
		fmt.Fprintf(&more, "    %q = %q\n", addr, d)
	}
	writeFile(t, rc, fmt.Sprintf("provider_installation {\n  dev_overrides {\n    \"phoenix-hypervisor/phoenix\" = %q\n%s  }\n  direct {}\n}\n", devProviderDir, more.String()))
	cmd := exec.Command(tf, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "TF_CLI_CONFIG_FILE="+rc, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1"), env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

// buildDevProvider builds the provider binary the CLI tests run, once, into
// devProviderDir.
func buildDevProvider(t *testing.T) {
	t.Helper()
	devProviderOnce.Do(func() {
		// Built once for every test of the package, so not tied to one test.
		devProviderDir, devProviderErr = os.MkdirTemp("", "phoenix-dev-provider") //nolint:usetesting // shared across tests
		if devProviderErr != nil {
			return
		}
		build := exec.Command("go", "build", "-o", filepath.Join(devProviderDir, "terraform-provider-phoenix"), ".")
		build.Dir = filepath.Join("..", "..")
		if out, err := build.CombinedOutput(); err != nil {
			devProviderErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if devProviderErr != nil {
		t.Fatal(devProviderErr)
	}
}

// planDiagnostics plans hcl offline (no endpoint: configuring the provider
// never dials) and returns everything Terraform printed.
func planDiagnostics(t *testing.T, hcl string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "main.tf"), requirePhoenix+"provider \"phoenix\" {}\n"+hcl)
	out, err := runTerraform(t, dir, "plan", "-no-color", "-input=false", "-refresh=false")
	if err != nil {
		t.Fatalf("terraform plan: %v\n%s", err, out)
	}
	return out
}
