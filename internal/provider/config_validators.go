package provider

import (
	"context"
	"errors"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"golang.org/x/crypto/ssh"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pve"
)

// stringCheck adapts a plain check function to a string validator; null and
// unknown values are left alone.
type stringCheck struct {
	summary string
	desc    string
	check   func(string) error
}

func (v stringCheck) Description(_ context.Context) string         { return v.desc }
func (v stringCheck) MarkdownDescription(_ context.Context) string { return v.desc }

func (v stringCheck) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := v.check(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, v.summary, err.Error())
	}
}

var endpointCheck = stringCheck{
	summary: "Invalid endpoint",
	desc:    "must be an https:// URL of a Proxmox VE node",
	check: func(s string) error {
		_, err := pve.ParseEndpoint(s)
		return err
	},
}

var apiTokenCheck = stringCheck{
	summary: "Invalid API token",
	desc:    "must be USER@REALM!TOKENID=SECRET",
	check: func(s string) error {
		_, _, err := pve.ParseAPIToken(s)
		return err
	},
}

var pemCheck = stringCheck{
	summary: "Invalid CA certificate",
	desc:    "must hold a PEM certificate",
	check: func(s string) error {
		_, err := pve.TLSConfig(pve.Config{CACertificatePEM: s})
		return err
	},
}

var privateKeyCheck = stringCheck{
	summary: "Invalid SSH private key",
	desc:    "must be an unencrypted private key in PEM or OpenSSH format",
	check:   checkPrivateKey,
}

// checkPrivateKey parses a key without keeping it; its errors never quote the
// key.
func checkPrivateKey(s string) error {
	if !strings.Contains(s, "PRIVATE KEY") {
		return errors.New("the value is not a private key (expected a -----BEGIN ... PRIVATE KEY----- block); pass the key's content, e.g. file(\"~/.ssh/id_ed25519\"), not its path")
	}
	_, err := ssh.ParseRawPrivateKey([]byte(s))
	var missing *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing):
		return errors.New("the key is protected by a passphrase; load it into an SSH agent and set agent = true instead")
	case err != nil:
		return errors.New("the key cannot be parsed: " + err.Error())
	}
	return nil
}
