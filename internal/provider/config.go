package provider

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/nodeexec"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/pve"
)

// Environment variables, in the order they are consulted: the PHOENIX_ name
// first, then the name the most used Proxmox provider reads.
var (
	envEndpoint             = []string{"PHOENIX_ENDPOINT", "PROXMOX_VE_ENDPOINT"}
	envAPIToken             = []string{"PHOENIX_API_TOKEN", "PROXMOX_VE_API_TOKEN"}
	envUsername             = []string{"PHOENIX_USERNAME", "PROXMOX_VE_USERNAME"}
	envPassword             = []string{"PHOENIX_PASSWORD", "PROXMOX_VE_PASSWORD"}
	envInsecure             = []string{"PHOENIX_INSECURE", "PROXMOX_VE_INSECURE"}
	envCACertificate        = []string{"PHOENIX_CA_CERTIFICATE"}
	envSSHUsername          = []string{"PHOENIX_SSH_USERNAME", "PROXMOX_VE_SSH_USERNAME"}
	envSSHPrivateKey        = []string{"PHOENIX_SSH_PRIVATE_KEY", "PROXMOX_VE_SSH_PRIVATE_KEY"}
	envSSHPassword          = []string{"PHOENIX_SSH_PASSWORD", "PROXMOX_VE_SSH_PASSWORD"}
	envSSHAgent             = []string{"PHOENIX_SSH_AGENT", "PROXMOX_VE_SSH_AGENT"}
	envSSHAgentSocket       = []string{"PHOENIX_SSH_AGENT_SOCKET", "PROXMOX_VE_SSH_AGENT_SOCKET", "SSH_AUTH_SOCK"}
	envSSHKnownHosts        = []string{"PHOENIX_SSH_KNOWN_HOSTS_FILE"}
	envSSHTrustOnFirstUse   = []string{"PHOENIX_SSH_TRUST_ON_FIRST_USE"}
	envDockerChecksNodeWide = []string{"PHOENIX_DOCKER_CHECKS_NODE_WIDE"}
)

// plainSegment is one name of a path in its plain form: no separator, no
// character PVE's property strings give a meaning, and not "." or "..".
const plainSegment = `(?:[^/,;=\s.][^/,;=\s]*|\.[^/,;=\s.][^/,;=\s]*|\.\.[^/,;=\s]+)`

var (
	bindRootPattern = regexp.MustCompile(`^/(?:` + plainSegment + `(?:/` + plainSegment + `)*)?$`)
	userPattern     = regexp.MustCompile(`^[^\s@!=:]+@[A-Za-z][A-Za-z0-9._-]*$`)
	nodeNamePattern = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)
)

func envDoc(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = "`" + n + "`"
	}
	if len(quoted) == 1 {
		return "Can be set with " + quoted[0] + "."
	}
	return "Can be set with " + strings.Join(quoted[:len(quoted)-1], ", ") + " or " + quoted[len(quoted)-1] + " (first found wins)."
}

func lookupEnv(name string) string { return os.Getenv(name) }

func known(v interface {
	IsNull() bool
	IsUnknown() bool
}) bool {
	return !v.IsNull() && !v.IsUnknown()
}

// settings is the provider configuration after environment fallback.
type settings struct {
	API pve.Config
	SSH sshSettings
	// BindMountRoots are the host directories bind mounts may come from
	// (none: anywhere the provider does not refuse).
	BindMountRoots []string
	// DockerChecksNodeWide lets a shared refresh check take in the node's
	// other Docker containers (docker_checks_node_wide, true by default).
	DockerChecksNodeWide bool
	// Sources records, per attribute path, where a value came from
	// ("config" or the name of an environment variable), for logs and tests.
	Sources map[string]string
	// Missing explains why no API client can be built (empty when one can).
	Missing string
	// Unknown is set when the configuration depends on values not known
	// until apply.
	Unknown bool
}

func (s settings) authMethod() string {
	switch {
	case s.API.APIToken != "":
		return "api_token"
	case s.API.Username != "":
		return "ticket"
	default:
		return "none"
	}
}

// sshSettings is the ssh block after defaults and environment fallback:
// the pool's connection settings and the node address overrides.
type sshSettings struct {
	nodeexec.Config
	Nodes []sshNode
}

// sshNode is one node address override.
type sshNode struct {
	Name    string
	Address string
	Port    int
}

func (s sshSettings) authMethods() []string {
	var m []string
	if s.PrivateKey != "" {
		m = append(m, "private_key")
	}
	if s.Agent {
		m = append(m, "agent")
	}
	if s.Password != "" {
		m = append(m, "password")
	}
	return m
}

// resolver applies "configuration, then each environment variable in turn".
type resolver struct {
	getenv  func(string) string
	sources map[string]string
	diags   diag.Diagnostics
	unknown bool
}

func (r *resolver) str(attr string, v types.String, env []string) string {
	if v.IsUnknown() {
		r.unknown = true
		return ""
	}
	if !v.IsNull() {
		r.sources[attr] = "config"
		return v.ValueString()
	}
	for _, name := range env {
		if val := r.getenv(name); val != "" {
			r.sources[attr] = name
			return val
		}
	}
	return ""
}

func (r *resolver) boolean(p path.Path, attr string, v types.Bool, env []string) bool {
	if v.IsUnknown() {
		r.unknown = true
		return false
	}
	if !v.IsNull() {
		r.sources[attr] = "config"
		return v.ValueBool()
	}
	for _, name := range env {
		val := r.getenv(name)
		if val == "" {
			continue
		}
		b, err := strconv.ParseBool(val)
		if err != nil {
			r.diags.AddAttributeError(p, "Invalid boolean in environment",
				fmt.Sprintf("%s=%q is not a boolean; use true or false (or 1 / 0).", name, val))
			return false
		}
		r.sources[attr] = name
		return b
	}
	return false
}

// resolveSettings merges the configuration with the environment and checks
// the result. Problems that make the API unusable but do not concern every
// use of the provider (no endpoint at all) are recorded in Missing rather
// than reported, so that provider functions work without a cluster.
func resolveSettings(cfg phoenixProviderModel, getenv func(string) string) (settings, diag.Diagnostics) {
	r := &resolver{getenv: getenv, sources: map[string]string{}}
	var s settings
	s.API.Endpoint = r.str("endpoint", cfg.Endpoint, envEndpoint)
	s.API.APIToken = r.str("api_token", cfg.APIToken, envAPIToken)
	s.API.Username = r.str("username", cfg.Username, envUsername)
	s.API.Password = r.str("password", cfg.Password, envPassword)
	s.API.Insecure = r.boolean(path.Root("insecure"), "insecure", cfg.Insecure, envInsecure)
	s.API.CACertificatePEM = r.str("ca_certificate", cfg.CACertificate, envCACertificate)
	nodeWide := r.boolean(path.Root("docker_checks_node_wide"), "docker_checks_node_wide", cfg.NodeWide, envDockerChecksNodeWide)
	_, set := r.sources["docker_checks_node_wide"]
	s.DockerChecksNodeWide = nodeWide || !set
	if cfg.BindRoots.IsUnknown() {
		r.unknown = true
	} else if !cfg.BindRoots.IsNull() {
		r.diags.Append(cfg.BindRoots.ElementsAs(context.Background(), &s.BindMountRoots, false)...)
	}

	ssh := cfg.SSH
	if ssh == nil {
		ssh = &sshModel{}
	}
	sp := path.Root("ssh")
	s.SSH.Username = r.str("ssh.username", ssh.Username, envSSHUsername)
	if s.SSH.Username == "" {
		s.SSH.Username = "root"
	}
	s.SSH.PrivateKey = r.str("ssh.private_key", ssh.PrivateKey, envSSHPrivateKey)
	s.SSH.Password = r.str("ssh.password", ssh.Password, envSSHPassword)
	s.SSH.Agent = r.boolean(sp.AtName("agent"), "ssh.agent", ssh.Agent, envSSHAgent)
	s.SSH.AgentSocket = r.str("ssh.agent_socket", ssh.AgentSocket, envSSHAgentSocket)
	s.SSH.KnownHostsFile = r.str("ssh.known_hosts_file", ssh.KnownHostsFile, envSSHKnownHosts)
	s.SSH.TrustOnFirstUse = r.boolean(sp.AtName("trust_on_first_use"), "ssh.trust_on_first_use", ssh.TrustOnFirstUse, envSSHTrustOnFirstUse)
	if ssh.Nodes.IsUnknown() {
		r.unknown = true
	}
	nodes, d := sshNodes(context.Background(), ssh)
	r.diags.Append(d...)
	for _, n := range nodes {
		if n.Name.IsUnknown() || n.Address.IsUnknown() || n.Port.IsUnknown() {
			r.unknown = true
			continue
		}
		port := 22
		if !n.Port.IsNull() {
			port = int(n.Port.ValueInt64())
		}
		s.SSH.Nodes = append(s.SSH.Nodes, sshNode{Name: n.Name.ValueString(), Address: n.Address.ValueString(), Port: port})
	}
	s.Sources = r.sources
	s.Unknown = r.unknown
	diags := r.diags
	if diags.HasError() || s.Unknown {
		return s, diags
	}
	diags.Append(checkSettings(&s)...)
	return s, diags
}

// checkSettings validates values wherever they came from; errors name the
// attribute and, when the value came from the environment, the variable.
func checkSettings(s *settings) diag.Diagnostics {
	var diags diag.Diagnostics
	origin := func(attr string) string {
		if src := s.Sources[attr]; src != "" && src != "config" {
			return " (from " + src + ")"
		}
		return ""
	}
	if s.API.Endpoint != "" {
		if _, err := pve.ParseEndpoint(s.API.Endpoint); err != nil {
			diags.AddAttributeError(path.Root("endpoint"), "Invalid endpoint"+origin("endpoint"), err.Error())
		}
	}
	if s.API.APIToken != "" {
		if _, _, err := pve.ParseAPIToken(s.API.APIToken); err != nil {
			diags.AddAttributeError(path.Root("api_token"), "Invalid API token"+origin("api_token"), err.Error())
		}
		if s.API.Username != "" || s.API.Password != "" {
			other := "password"
			if s.API.Password == "" {
				other = "username"
			}
			diags.AddAttributeError(path.Root("api_token"), "Conflicting credentials",
				fmt.Sprintf("Both api_token%s and %s%s are set. Use either an API token or username and password, not both.",
					origin("api_token"), other, origin(other)))
		}
	}
	if s.API.Username != "" && !userPattern.MatchString(s.API.Username) {
		diags.AddAttributeError(path.Root("username"), "Invalid username"+origin("username"),
			fmt.Sprintf("%q must be USER@REALM, e.g. root@pam.", s.API.Username))
	}
	if s.API.APIToken == "" && (s.API.Username == "") != (s.API.Password == "") {
		if s.API.Username == "" {
			diags.AddAttributeError(path.Root("username"), "Missing username",
				"password is set but no username: set username (or PHOENIX_USERNAME / PROXMOX_VE_USERNAME).")
		} else {
			diags.AddAttributeError(path.Root("password"), "Missing password",
				"username is set but no password: set password (or PHOENIX_PASSWORD / PROXMOX_VE_PASSWORD).")
		}
	}
	if s.API.CACertificatePEM != "" {
		if _, err := pve.TLSConfig(pve.Config{CACertificatePEM: s.API.CACertificatePEM}); err != nil {
			diags.AddAttributeError(path.Root("ca_certificate"), "Invalid CA certificate"+origin("ca_certificate"), err.Error())
		}
	}
	if s.SSH.PrivateKey != "" {
		if err := checkPrivateKey(s.SSH.PrivateKey); err != nil {
			diags.AddAttributeError(path.Root("ssh").AtName("private_key"), "Invalid SSH private key"+origin("ssh.private_key"), err.Error())
		}
	}
	if diags.HasError() {
		return diags
	}
	switch {
	case s.API.Endpoint == "":
		s.Missing = "no endpoint is configured: set endpoint in the provider block, or PHOENIX_ENDPOINT / PROXMOX_VE_ENDPOINT"
	case s.API.APIToken == "" && s.API.Username == "":
		s.Missing = "no credentials are configured: set api_token (or PHOENIX_API_TOKEN / PROXMOX_VE_API_TOKEN), " +
			"or username and password"
	}
	return diags
}

// providerData is what resources, data sources and functions receive.
type providerData struct {
	Settings settings
	Version  string
	client   *pve.Client
	noClient error
	// node is the SSH access to the nodes, built on first use (nodeops.go).
	node nodeAccess
	// fleet caches the run state of every container (fleet.go).
	fleet fleetStatus
	// ha caches the cluster's HA resources (lxc_container_ha.go).
	ha haCache
	// cloneLocks serializes the clones of one source (fleet.go).
	cloneLocks sync.Map
	// perms are the API identity's privileges, asked once (permissions.go).
	perms permissionsCache
}

func newProviderData(s settings, version string) (*providerData, diag.Diagnostics) {
	var diags diag.Diagnostics
	d := &providerData{Settings: s, Version: version}
	if s.API.Insecure {
		diags.AddAttributeWarning(path.Root("insecure"), "TLS verification is disabled",
			"insecure = true: the provider does not verify the certificate of "+orNone(s.API.Endpoint)+
				", so anyone on the network path can read the API token or password. Set ca_certificate to the cluster's CA "+
				"(/etc/pve/pve-root-ca.pem on any node) and remove insecure.")
	}
	if strings.HasPrefix(strings.ToLower(s.API.Endpoint), "http://") {
		diags.AddAttributeWarning(path.Root("endpoint"), "Endpoint without TLS",
			s.API.Endpoint+" is plain http: the API token or password crosses the network unencrypted. "+
				"Proxmox VE serves https on port 8006; use https://HOST:8006/.")
	}
	if s.SSH.TrustOnFirstUse {
		diags.AddAttributeWarning(path.Root("ssh").AtName("trust_on_first_use"), "SSH host keys are trusted on first use",
			"trust_on_first_use = true: the host key of a node not yet in the known_hosts file is accepted and recorded without "+
				"verification. Add the nodes' keys to known_hosts_file instead where you can. A changed key is still refused.")
	}
	switch {
	case s.Unknown:
		d.noClient = errors.New("the provider configuration depends on values that are not known until apply")
	case s.Missing != "":
		d.noClient = errors.New(s.Missing)
	default:
		api := s.API
		api.UserAgent = "terraform-provider-phoenix/" + version
		c, err := pve.New(api)
		if err != nil {
			diags.AddError("Cannot build the Proxmox VE API client", err.Error())
			return nil, diags
		}
		d.client = c
	}
	return d, diags
}

func orNone(s string) string {
	if s == "" {
		return "the endpoint"
	}
	return s
}

// configuredData is what Configure of a resource or data source receives:
// nil before the provider is configured (validation runs), an error for
// anything else than the provider's data.
func configuredData(v any, diags *diag.Diagnostics) *providerData {
	if v == nil {
		return nil
	}
	d, ok := v.(*providerData)
	if !ok {
		diags.AddError("Unexpected provider data", fmt.Sprintf("got %T", v))
	}
	return d
}

// Client returns the API client, or an error that says what is missing.
func (d *providerData) Client() (*pve.Client, error) {
	if d.client == nil {
		return nil, fmt.Errorf("the Proxmox VE API is not usable: %w", d.noClient)
	}
	return d.client, nil
}
