//go:build generate

// Package tools pins the code generation tools of the provider. It is a
// module of its own so that their dependencies never reach the provider.
package tools

import (
	_ "github.com/hashicorp/terraform-plugin-docs/cmd/tfplugindocs"
)

// Format the examples that tfplugindocs copies into the documentation.
//go:generate terraform fmt -recursive ../examples/

// Generate the documentation in docs/ from the provider schema, templates/ and examples/.
//go:generate go run github.com/hashicorp/terraform-plugin-docs/cmd/tfplugindocs generate --provider-dir .. --provider-name phoenix
