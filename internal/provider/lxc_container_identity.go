package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/identityschema"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// A container's resource identity (Terraform 1.12 or newer): its node and
// its ID, which never change for the life of a phoenix_lxc_container (both
// replace it). An import block may name it instead of an import ID:
//
//	import {
//	  to       = phoenix_lxc_container.web
//	  identity = { node_name = "pve1", vmid = 101 }
//	}

// lxcContainerIdentity is the identity's model.
type lxcContainerIdentity struct {
	NodeName types.String `tfsdk:"node_name"`
	VMID     types.Int64  `tfsdk:"vmid"`
}

func identityOf(m *lxcContainerModel) *lxcContainerIdentity {
	return &lxcContainerIdentity{NodeName: m.NodeName, VMID: m.VMID}
}

func (r *lxcContainerResource) IdentitySchema(_ context.Context, _ resource.IdentitySchemaRequest, resp *resource.IdentitySchemaResponse) {
	resp.IdentitySchema = identityschema.Schema{
		Attributes: map[string]identityschema.Attribute{
			"node_name": identityschema.StringAttribute{
				Description:       "Node the container lives on. An import may leave it out: the provider then looks the container up in the cluster.",
				OptionalForImport: true,
			},
			"vmid": identityschema.Int64Attribute{
				Description:       "Container ID.",
				RequiredForImport: true,
			},
		},
	}
}
