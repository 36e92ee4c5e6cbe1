package provider

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pve"
)

const testToken = "root@pam!terraform=0b1c5d6e-1111-2222-3333-444455556666"

// testKey is an ed25519 key generated for these tests only.
const testKey = `-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACDqgPo2zGYjRJRGrlNCiCwVq06yahqkMbz3j0ORV+l9PgAAAJhEY5taRGOb
WgAAAAtzc2gtZWQyNTUxOQAAACDqgPo2zGYjRJRGrlNCiCwVq06yahqkMbz3j0ORV+l9Pg
AAAECE1W3USY80oNmg/YLgTHq6aB9YYGk+BpXE+KSdWmmtcOqA+jbMZiNElEauU0KILBWr
TrJqGqQxvPePQ5FX6X0+AAAAEXBob2VuaXgtdGVzdC1vbmx5AQIDBAU=
-----END OPENSSH PRIVATE KEY-----
`

func protoServer(t *testing.T, getenv func(string) string) tfprotov6.ProviderServer {
	t.Helper()
	p := &PhoenixProvider{version: "test", getenv: getenv}
	srv, err := providerserver.NewProtocol6WithError(p)()
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

func noEnv(string) string { return "" }

// configValue builds a provider configuration value from the given top-level
// attributes; everything else is null.
func configValue(t *testing.T, attrs map[string]tftypes.Value) *tfprotov6.DynamicValue {
	t.Helper()
	typ := providerSchema().Type().TerraformType(context.Background())
	obj, ok := typ.(tftypes.Object)
	if !ok {
		t.Fatalf("schema type is %T", typ)
	}
	dv, err := tfprotov6.NewDynamicValue(obj, objectWithNulls(obj, attrs))
	if err != nil {
		t.Fatal(err)
	}
	return &dv
}

func sshBlock(t *testing.T, attrs map[string]tftypes.Value) tftypes.Value {
	t.Helper()
	typ := providerSchema().Type().TerraformType(context.Background())
	obj, ok := typ.(tftypes.Object).AttributeTypes["ssh"].(tftypes.Object)
	if !ok {
		t.Fatal("ssh is not an object")
	}
	return objectWithNulls(obj, attrs)
}

// objectWithNulls is a value of obj with the given attributes, the others
// null.
func objectWithNulls(obj tftypes.Object, attrs map[string]tftypes.Value) tftypes.Value {
	vals := map[string]tftypes.Value{}
	for name, at := range obj.AttributeTypes {
		if v, ok := attrs[name]; ok {
			vals[name] = v
		} else {
			vals[name] = tftypes.NewValue(at, nil)
		}
	}
	return tftypes.NewValue(obj, vals)
}

func sshNodeList(t *testing.T, nodes ...[3]any) tftypes.Value {
	t.Helper()
	nodeType := tftypes.Object{AttributeTypes: map[string]tftypes.Type{
		"name": tftypes.String, "address": tftypes.String, "port": tftypes.Number,
	}}
	var vals []tftypes.Value
	for _, n := range nodes {
		vals = append(vals, tftypes.NewValue(nodeType, map[string]tftypes.Value{
			"name":    tftypes.NewValue(tftypes.String, n[0]),
			"address": tftypes.NewValue(tftypes.String, n[1]),
			"port":    tftypes.NewValue(tftypes.Number, n[2]),
		}))
	}
	return tftypes.NewValue(tftypes.List{ElementType: nodeType}, vals)
}

func str(s string) tftypes.Value { return tftypes.NewValue(tftypes.String, s) }

func unknownStr() tftypes.Value { return tftypes.NewValue(tftypes.String, tftypes.UnknownValue) }

// diagSummary renders diagnostics as "severity|path|summary" lines.
func diagSummary(diags []*tfprotov6.Diagnostic) []string {
	var out []string
	for _, d := range diags {
		p := ""
		if d.Attribute != nil {
			p = d.Attribute.String()
		}
		sev := "warning"
		if d.Severity == tfprotov6.DiagnosticSeverityError {
			sev = "error"
		}
		out = append(out, sev+"|"+p+"|"+d.Summary)
	}
	sort.Strings(out)
	return out
}

func TestProviderSchemaDescribedAndSensitive(t *testing.T) {
	srv := protoServer(t, noEnv)
	resp, err := srv.GetProviderSchema(t.Context(), &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var sensitive, undescribed []string
	var walk func(prefix string, b *tfprotov6.SchemaBlock)
	walk = func(prefix string, b *tfprotov6.SchemaBlock) {
		for _, a := range b.Attributes {
			name := prefix + a.Name
			if strings.TrimSpace(a.Description) == "" {
				undescribed = append(undescribed, name)
			}
			if a.Sensitive {
				sensitive = append(sensitive, name)
			}
		}
		for _, nb := range b.BlockTypes {
			if strings.TrimSpace(nb.Block.Description) == "" {
				undescribed = append(undescribed, prefix+nb.TypeName)
			}
			walk(prefix+nb.TypeName+".", nb.Block)
		}
	}
	walk("", resp.Provider.Block)
	if len(undescribed) > 0 {
		t.Errorf("attributes without a description: %v", undescribed)
	}
	sort.Strings(sensitive)
	want := []string{"api_token", "password", "ssh.password", "ssh.private_key"}
	if strings.Join(sensitive, ",") != strings.Join(want, ",") {
		t.Errorf("sensitive attributes = %v, want %v", sensitive, want)
	}
}

func TestValidateProviderConfig(t *testing.T) {
	cases := []struct {
		name  string
		attrs map[string]tftypes.Value
		want  []string // "severity|path|summary", sorted
	}{
		{
			name:  "valid token configuration",
			attrs: map[string]tftypes.Value{"endpoint": str("https://pve1.lan:8006/"), "api_token": str(testToken)},
		},
		{
			name:  "valid ticket configuration",
			attrs: map[string]tftypes.Value{"endpoint": str("https://pve1.lan:8006/"), "username": str("root@pam"), "password": str("secret")},
		},
		{
			name:  "token and password",
			attrs: map[string]tftypes.Value{"api_token": str(testToken), "username": str("root@pam"), "password": str("secret")},
			want:  errorAt("api_token", "Invalid Attribute Combination"),
		},
		{name: "malformed token", attrs: oneAttr("api_token", "root@pam:terraform:secret"), want: errorAt("api_token", "Invalid API token")},
		{name: "token without secret", attrs: oneAttr("api_token", "root@pam!terraform"), want: errorAt("api_token", "Invalid API token")},
		{name: "endpoint without scheme", attrs: oneAttr("endpoint", "pve1.lan:8006"), want: errorAt("endpoint", "Invalid endpoint")},
		{name: "endpoint with a foreign scheme", attrs: oneAttr("endpoint", "ftp://pve1.lan/"), want: errorAt("endpoint", "Invalid endpoint")},
		{
			name:  "username without realm",
			attrs: map[string]tftypes.Value{"username": str("root"), "password": str("x")},
			want:  errorAt("username", "Invalid Attribute Value Match"),
		},
		{name: "username without password warns", attrs: oneAttr("username", "root@pam"), want: warningAt("password", "Password not set in configuration")},
		{name: "not a certificate", attrs: oneAttr("ca_certificate", "not a pem"), want: errorAt("ca_certificate", "Invalid CA certificate")},
		{
			name:  "unknown values are tolerated",
			attrs: map[string]tftypes.Value{"endpoint": unknownStr(), "api_token": unknownStr(), "password": unknownStr()},
		},
		{
			name: "ssh key path instead of content",
			attrs: map[string]tftypes.Value{"ssh": sshBlock(t, map[string]tftypes.Value{
				"private_key": str("~/.ssh/id_ed25519"),
			})},
			want: []string{"error|AttributeName(\"ssh\").AttributeName(\"private_key\")|Invalid SSH private key"},
		},
		{
			name: "valid ssh key",
			attrs: map[string]tftypes.Value{"ssh": sshBlock(t, map[string]tftypes.Value{
				"private_key": str(testKey),
			})},
		},
		{
			name: "ssh node port out of range and duplicate node",
			attrs: map[string]tftypes.Value{"ssh": sshBlock(t, map[string]tftypes.Value{
				"node": sshNodeList(t, [3]any{"pve1", "10.0.0.1", 0}, [3]any{"pve1", "10.0.0.2", 22}),
			})},
			want: []string{
				"error|AttributeName(\"ssh\").AttributeName(\"node\").ElementKeyInt(0).AttributeName(\"port\")|Invalid Attribute Value",
				"error|AttributeName(\"ssh\").AttributeName(\"node\").ElementKeyInt(1).AttributeName(\"name\")|Duplicate node override",
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := protoServer(t, noEnv)
			resp, err := srv.ValidateProviderConfig(t.Context(), &tfprotov6.ValidateProviderConfigRequest{Config: configValue(t, tc.attrs)})
			if err != nil {
				t.Fatal(err)
			}
			got := diagSummary(resp.Diagnostics)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("diagnostics:\n got: %q\nwant: %q", got, tc.want)
			}
		})
	}
}

// oneAttr is a provider configuration that sets one string attribute.
func oneAttr(name, value string) map[string]tftypes.Value {
	return map[string]tftypes.Value{name: str(value)}
}

// errorAt and warningAt are the diagnostics summary (see diagSummary) of
// one error or warning at a top-level attribute.
func errorAt(attr, summary string) []string {
	return []string{fmt.Sprintf("error|AttributeName(%q)|%s", attr, summary)}
}

func warningAt(attr, summary string) []string {
	return []string{fmt.Sprintf("warning|AttributeName(%q)|%s", attr, summary)}
}

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestResolveSettingsEnvironmentOrder(t *testing.T) {
	t.Run("PHOENIX_ wins over PROXMOX_VE_", func(t *testing.T) {
		s, diags := resolveSettings(phoenixProviderModel{}, envMap(map[string]string{
			"PHOENIX_ENDPOINT":           "https://a:8006/",
			"PROXMOX_VE_ENDPOINT":        "https://b:8006/",
			"PROXMOX_VE_API_TOKEN":       testToken,
			"PROXMOX_VE_INSECURE":        "true",
			"PROXMOX_VE_SSH_USERNAME":    "admin",
			"PROXMOX_VE_SSH_PRIVATE_KEY": testKey,
			"PROXMOX_VE_SSH_AGENT":       "1",
			"SSH_AUTH_SOCK":              "/run/agent.sock",
		}))
		if diags.HasError() {
			t.Fatal(diags)
		}
		checks := map[string][2]string{
			"endpoint":         {s.API.Endpoint, "https://a:8006/"},
			"endpoint source":  {s.Sources["endpoint"], "PHOENIX_ENDPOINT"},
			"api_token":        {s.API.APIToken, testToken},
			"api_token source": {s.Sources["api_token"], "PROXMOX_VE_API_TOKEN"},
			"ssh.username":     {s.SSH.Username, "admin"},
			"ssh.agent_socket": {s.SSH.AgentSocket, "/run/agent.sock"},
		}
		for name, c := range checks {
			if c[0] != c[1] {
				t.Errorf("%s = %q, want %q", name, c[0], c[1])
			}
		}
		if !s.API.Insecure || !s.SSH.Agent || s.SSH.PrivateKey != testKey {
			t.Errorf("booleans or key not taken from PROXMOX_VE_*: %+v", s.SSH)
		}
	})
	t.Run("configuration wins over the environment", func(t *testing.T) {
		s, diags := resolveSettings(phoenixProviderModel{
			Endpoint: types.StringValue("https://cfg:8006/"),
			Insecure: types.BoolValue(false),
			SSH:      &sshModel{AgentSocket: types.StringValue("/cfg.sock")},
		}, envMap(map[string]string{
			"PHOENIX_ENDPOINT":         "https://env:8006/",
			"PHOENIX_INSECURE":         "true",
			"PHOENIX_API_TOKEN":        testToken,
			"PHOENIX_SSH_AGENT_SOCKET": "/env.sock",
		}))
		if diags.HasError() {
			t.Fatal(diags)
		}
		if s.API.Endpoint != "https://cfg:8006/" || s.API.Insecure || s.SSH.AgentSocket != "/cfg.sock" {
			t.Errorf("config not preferred: endpoint %q insecure %v socket %q", s.API.Endpoint, s.API.Insecure, s.SSH.AgentSocket)
		}
		if s.Sources["endpoint"] != "config" || s.Sources["api_token"] != "PHOENIX_API_TOKEN" {
			t.Errorf("sources = %v", s.Sources)
		}
	})
	t.Run("defaults", func(t *testing.T) {
		s, diags := resolveSettings(phoenixProviderModel{}, noEnv)
		if diags.HasError() {
			t.Fatal(diags)
		}
		if s.SSH.Username != "root" || s.SSH.TrustOnFirstUse || s.API.Insecure {
			t.Errorf("defaults wrong: %+v %+v", s.SSH, s.API)
		}
		if !strings.Contains(s.Missing, "PHOENIX_ENDPOINT") {
			t.Errorf("Missing = %q, want a pointer to PHOENIX_ENDPOINT", s.Missing)
		}
	})
}

func TestResolveSettingsErrors(t *testing.T) {
	cases := []struct {
		name     string
		cfg      phoenixProviderModel
		env      map[string]string
		wantPath string
		wantText string
	}{
		{
			name:     "invalid boolean in environment",
			env:      map[string]string{"PROXMOX_VE_INSECURE": "maybe"},
			wantPath: "insecure",
			wantText: "PROXMOX_VE_INSECURE",
		},
		{
			name:     "malformed token from environment names the variable",
			env:      map[string]string{"PHOENIX_ENDPOINT": "https://a:8006/", "PROXMOX_VE_API_TOKEN": "nope"},
			wantPath: "api_token",
			wantText: "PROXMOX_VE_API_TOKEN",
		},
		{
			name:     "token in config, password in environment",
			cfg:      phoenixProviderModel{APIToken: types.StringValue(testToken)},
			env:      map[string]string{"PHOENIX_USERNAME": "root@pam", "PHOENIX_PASSWORD": "pw"},
			wantPath: "api_token",
			wantText: "PHOENIX_PASSWORD",
		},
		{
			name:     "endpoint from environment without scheme",
			env:      map[string]string{"PROXMOX_VE_ENDPOINT": "pve1:8006"},
			wantPath: "endpoint",
			wantText: "PROXMOX_VE_ENDPOINT",
		},
		{
			name:     "username without password anywhere",
			cfg:      phoenixProviderModel{Username: types.StringValue("root@pam")},
			wantPath: "password",
			wantText: "no password",
		},
		{
			name:     "passphrase-protected key from environment",
			env:      map[string]string{"PHOENIX_SSH_PRIVATE_KEY": "just some text"},
			wantPath: "ssh.private_key",
			wantText: "PHOENIX_SSH_PRIVATE_KEY",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := resolveSettings(tc.cfg, envMap(tc.env))
			if !diags.HasError() {
				t.Fatal("no error")
			}
			var found bool
			for _, d := range diags.Errors() {
				wp, ok := d.(diag.DiagnosticWithPath)
				if !ok {
					continue
				}
				text := d.Summary() + " " + d.Detail()
				if wp.Path().String() == tc.wantPath && strings.Contains(text, tc.wantText) {
					found = true
				}
			}
			if !found {
				t.Errorf("no error at %s mentioning %q in %v", tc.wantPath, tc.wantText, diags)
			}
			for _, d := range diags {
				if strings.Contains(d.Detail(), "=pw") || strings.Contains(d.Detail(), "\"pw\"") {
					t.Errorf("a diagnostic reveals the password: %s", d.Detail())
				}
			}
		})
	}
}

func TestConfigureNeverDials(t *testing.T) {
	// A listener that counts connections: Configure must not open any.
	var hits int
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits++ }))
	defer srv.Close()

	for _, tc := range []struct {
		name       string
		env        map[string]string
		wantClient bool
		wantErr    string
	}{
		{name: "full configuration", env: map[string]string{"PHOENIX_ENDPOINT": srv.URL + "/", "PHOENIX_API_TOKEN": testToken}, wantClient: true},
		{name: "no endpoint", env: map[string]string{"PHOENIX_API_TOKEN": testToken}, wantErr: "no endpoint is configured"},
		{name: "no credentials", env: map[string]string{"PHOENIX_ENDPOINT": srv.URL + "/"}, wantErr: "no credentials are configured"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, diags := resolveSettings(phoenixProviderModel{}, envMap(tc.env))
			if diags.HasError() {
				t.Fatal(diags)
			}
			d, diags := newProviderData(s, "test")
			if diags.HasError() {
				t.Fatal(diags)
			}
			c, err := d.Client()
			if tc.wantClient != (c != nil) {
				t.Fatalf("client = %v, err = %v", c, err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("err = %v, want it to say %q", err, tc.wantErr)
			}
		})
	}
	if hits != 0 {
		t.Errorf("Configure made %d requests", hits)
	}
}

func TestConfigureWarnsAboutInsecureOptions(t *testing.T) {
	s, diags := resolveSettings(phoenixProviderModel{
		Endpoint: types.StringValue("https://pve1:8006/"), APIToken: types.StringValue(testToken), Insecure: types.BoolValue(true),
		SSH: &sshModel{TrustOnFirstUse: types.BoolValue(true)},
	}, noEnv)
	if diags.HasError() {
		t.Fatal(diags)
	}
	_, diags = newProviderData(s, "test")
	if diags.HasError() || diags.WarningsCount() != 2 {
		t.Fatalf("want exactly two warnings, got %v", diags)
	}
	for _, d := range diags {
		if strings.Contains(d.Detail(), "0b1c5d6e") {
			t.Errorf("warning reveals the token secret: %s", d.Detail())
		}
	}
}

func TestTLSSettings(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer srv.Close()
	caPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))

	get := func(cfg pve.Config) error {
		tc, err := pve.TLSConfig(cfg)
		if err != nil {
			return err
		}
		if tc.MinVersion < tls.VersionTLS12 {
			t.Errorf("MinVersion = %x, want at least TLS 1.2", tc.MinVersion)
		}
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
		resp, err := c.Get(srv.URL)
		if err != nil {
			return err
		}
		return resp.Body.Close()
	}
	if err := get(pve.Config{}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("verification is not on by default: err = %v", err)
	}
	if err := get(pve.Config{CACertificatePEM: caPEM}); err != nil {
		t.Errorf("ca_certificate not honored: %v", err)
	}
	if err := get(pve.Config{Insecure: true}); err != nil {
		t.Errorf("insecure not honored: %v", err)
	}
}

// docker_checks_node_wide is on unless the configuration or its
// environment variable turns it off, and only then does a shared check
// take in the node's other containers.
func TestDockerChecksNodeWideSetting(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  types.Bool
		env  map[string]string
		want bool
	}{
		{"default", types.BoolNull(), nil, true},
		{"off in the configuration", types.BoolValue(false), nil, false},
		{"off in the environment", types.BoolNull(), map[string]string{"PHOENIX_DOCKER_CHECKS_NODE_WIDE": "false"}, false},
		{"the configuration wins", types.BoolValue(true), map[string]string{"PHOENIX_DOCKER_CHECKS_NODE_WIDE": "0"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, diags := resolveSettings(phoenixProviderModel{NodeWide: tt.cfg}, envMap(tt.env))
			if diags.HasError() {
				t.Fatal(diags)
			}
			if s.DockerChecksNodeWide != tt.want {
				t.Fatalf("DockerChecksNodeWide = %v, want %v", s.DockerChecksNodeWide, tt.want)
			}
			d := &providerData{Settings: s, client: &pve.Client{}}
			if got := d.NodeOps().sweepCandidates != nil; got != tt.want {
				t.Errorf("shared checks take in the node's other containers: %v, want %v", got, tt.want)
			}
		})
	}
}
