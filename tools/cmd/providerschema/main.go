// Command providerschema writes the provider's schema as "terraform
// providers schema -json" prints it, using a locally built provider through a
// dev_overrides CLI configuration, so that documentation is generated
// without any download. The schema is keyed by the provider's short name,
// the form tfplugindocs --providers-schema expects.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

const source = "phoenix-hypervisor/phoenix"

func main() {
	providerDir := flag.String("provider-dir", "..", "directory of the provider's main package")
	out := flag.String("out", "", "file to write the schema JSON to")
	terraform := flag.String("terraform", os.Getenv("TERRAFORM"), "Terraform-compatible CLI (default $TERRAFORM, else terraform on PATH)")
	flag.Parse()
	if err := run(*providerDir, *out, *terraform); err != nil {
		fmt.Fprintln(os.Stderr, "providerschema:", err)
		os.Exit(1)
	}
}

func run(providerDir, out, terraform string) error {
	if out == "" {
		return fmt.Errorf("-out is required")
	}
	if terraform == "" {
		terraform = "terraform"
	}
	tmp, err := os.MkdirTemp("", "providerschema")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	bin := filepath.Join(tmp, "bin")
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "terraform-provider-phoenix"), ".")
	build.Dir = providerDir
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building the provider: %w", err)
	}

	rc := filepath.Join(tmp, "dev.tfrc")
	rcText := fmt.Sprintf("provider_installation {\n  dev_overrides {\n    %q = %q\n  }\n  direct {}\n}\n", source, bin)
	if err := os.WriteFile(rc, []byte(rcText), 0o600); err != nil {
		return err
	}
	work := filepath.Join(tmp, "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	mainTF := fmt.Sprintf("terraform {\n  required_providers {\n    phoenix = { source = %q }\n  }\n}\n", source)
	if err := os.WriteFile(filepath.Join(work, "main.tf"), []byte(mainTF), 0o600); err != nil {
		return err
	}

	cmd := exec.Command(terraform, "providers", "schema", "-json")
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+rc, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1")
	cmd.Stderr = os.Stderr
	raw, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("%s providers schema -json: %w", terraform, err)
	}

	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("decoding the schema: %w", err)
	}
	var schemas map[string]json.RawMessage
	if err := json.Unmarshal(doc["provider_schemas"], &schemas); err != nil {
		return fmt.Errorf("decoding provider_schemas: %w", err)
	}
	short := map[string]json.RawMessage{}
	for addr, s := range schemas {
		if strings.HasSuffix(addr, "/"+source) {
			short["phoenix"] = s
		}
	}
	if len(short) == 0 {
		return fmt.Errorf("the schema output holds no %s provider", source)
	}
	keyed, err := json.Marshal(short)
	if err != nil {
		return err
	}
	doc["provider_schemas"] = keyed
	final, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	return os.WriteFile(out, final, 0o600)
}
