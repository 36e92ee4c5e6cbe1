// Command terraform-provider-phoenix serves the Phoenix provider, which
// manages Proxmox VE LXC containers running Docker, over Terraform's plugin
// protocol version 6.
package main

import (
	"context"
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/provider"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/sdklog"
)

// version is set at build time by goreleaser (-X main.version=...).
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers like delve")
	flag.Parse()
	sdklog.Quiet()
	tuneGC()
	stopProfiles := startProfiles()

	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address: "registry.terraform.io/phoenix-hypervisor/phoenix",
		Debug:   debug,
	})
	stopProfiles()
	if err != nil {
		log.Fatal(err.Error())
	}
}
