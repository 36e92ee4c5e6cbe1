//go:build generate

// Package tools pins the code generation tools of the provider. It is a
// module of its own so that their dependencies never reach the provider.
package tools

import (
	_ "github.com/hashicorp/terraform-plugin-docs/cmd/tfplugindocs"
)

// Format the examples that tfplugindocs copies into the documentation.
//go:generate $TERRAFORM fmt -recursive ../examples/

// Export the schema through the local CLI (no download), then render docs/.
//go:generate go run ./cmd/providerschema -provider-dir .. -out ../.cache/providers-schema.json
//go:generate go run github.com/hashicorp/terraform-plugin-docs/cmd/tfplugindocs generate --provider-dir .. --provider-name phoenix --providers-schema ../.cache/providers-schema.json
