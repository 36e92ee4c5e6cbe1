package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/docker"
)

var _ function.Function = &LXCConfigsFunction{}

// LXCConfigsFunction is the provider-defined function lxc_configs: it reads a
// Phoenix Hypervisor phoenix_lxc_configs.json document and returns, for each
// container, the arguments of a phoenix_lxc_container resource.
type LXCConfigsFunction struct{}

// lxcConfigsEntryModel is one element of the function's result. Every
// attribute but ctid and unmapped is named after, and has the type of, the
// phoenix_lxc_container argument it feeds; null means the document does not
// set it.
type lxcConfigsEntryModel struct {
	CTID            types.Int64              `tfsdk:"ctid"`
	NodeName        types.String             `tfsdk:"node_name"`
	VMID            types.Int64              `tfsdk:"vmid"`
	Template        types.String             `tfsdk:"template"`
	Clone           *cloneModel              `tfsdk:"clone"`
	Hostname        types.String             `tfsdk:"hostname"`
	Description     types.String             `tfsdk:"description"`
	Tags            types.Set                `tfsdk:"tags"`
	Unprivileged    types.Bool               `tfsdk:"unprivileged"`
	OSType          types.String             `tfsdk:"os_type"`
	Cores           types.Int64              `tfsdk:"cores"`
	CPULimit        types.Float64            `tfsdk:"cpu_limit"`
	CPUUnits        types.Int64              `tfsdk:"cpu_units"`
	Memory          types.Int64              `tfsdk:"memory"`
	Swap            types.Int64              `tfsdk:"swap"`
	RootFS          *lxcConfigsRootFSModel   `tfsdk:"rootfs"`
	Network         []networkModel           `tfsdk:"network"`
	Nameserver      types.String             `tfsdk:"nameserver"`
	Searchdomain    types.String             `tfsdk:"searchdomain"`
	Features        *lxcConfigsFeaturesModel `tfsdk:"features"`
	StartOnBoot     types.Bool               `tfsdk:"start_on_boot"`
	Startup         *startupModel            `tfsdk:"startup"`
	Started         types.Bool               `tfsdk:"started"`
	Protection      types.Bool               `tfsdk:"protection"`
	ApparmorProfile types.String             `tfsdk:"apparmor_profile"`
	LXCConfig       []lxcConfigsLineModel    `tfsdk:"lxc_config"`
	Docker          *lxcConfigsDockerModel   `tfsdk:"docker"`
	Unmapped        []string                 `tfsdk:"unmapped"`
}

type lxcConfigsRootFSModel struct {
	Storage types.String `tfsdk:"storage"`
	Size    types.String `tfsdk:"size"`
}

type lxcConfigsFeaturesModel struct {
	Nesting types.Bool `tfsdk:"nesting"`
	Keyctl  types.Bool `tfsdk:"keyctl"`
	Fuse    types.Bool `tfsdk:"fuse"`
	Mknod   types.Bool `tfsdk:"mknod"`
	Mount   types.Set  `tfsdk:"mount"`
}

type lxcConfigsLineModel struct {
	Key   types.String `tfsdk:"key"`
	Value types.String `tfsdk:"value"`
}

type lxcConfigsDockerModel struct {
	PackageSource   types.String                 `tfsdk:"package_source"`
	Version         types.String                 `tfsdk:"version"`
	Compose         types.Bool                   `tfsdk:"compose"`
	StorageDriver   types.String                 `tfsdk:"storage_driver"`
	DaemonJSON      types.String                 `tfsdk:"daemon_json"`
	HealthChecks    *lxcConfigsHealthChecksModel `tfsdk:"health_checks"`
	VerifyOnRefresh types.Bool                   `tfsdk:"verify_on_refresh"`
}

type lxcConfigsHealthChecksModel struct {
	HelloWorld    types.Bool   `tfsdk:"hello_world"`
	NetworkTarget types.String `tfsdk:"network_target"`
}

// lxcConfigsEntryType is the static type of one element of the result.
func lxcConfigsEntryType() types.ObjectType {
	str, num, flt, boolean := types.StringType, types.Int64Type, types.Float64Type, types.BoolType
	return types.ObjectType{AttrTypes: map[string]attr.Type{
		"ctid":      num,
		"node_name": str,
		"vmid":      num,
		"template":  str,
		"clone": types.ObjectType{AttrTypes: map[string]attr.Type{
			"source_vmid": num, "source_node": str, "snapshot": str, "full": boolean, "storage": str,
		}},
		"hostname":     str,
		"description":  str,
		"tags":         types.SetType{ElemType: str},
		"unprivileged": boolean,
		"os_type":      str,
		"cores":        num,
		"cpu_limit":    flt,
		"cpu_units":    num,
		"memory":       num,
		"swap":         num,
		"rootfs":       types.ObjectType{AttrTypes: map[string]attr.Type{"storage": str, "size": str}},
		"network": types.ListType{ElemType: types.ObjectType{AttrTypes: map[string]attr.Type{
			"name": str, "bridge": str, "ip": str, "gw": str, "ip6": str, "gw6": str, "hwaddr": str,
			"firewall": boolean, "vlan": num, "mtu": num, "rate": flt,
		}}},
		"nameserver":   str,
		"searchdomain": str,
		"features": types.ObjectType{AttrTypes: map[string]attr.Type{
			"nesting": boolean, "keyctl": boolean, "fuse": boolean, "mknod": boolean, "mount": types.SetType{ElemType: str},
		}},
		"start_on_boot":    boolean,
		"startup":          types.ObjectType{AttrTypes: map[string]attr.Type{"order": num, "up_delay": num, "down_delay": num}},
		"started":          boolean,
		"protection":       boolean,
		"apparmor_profile": str,
		"lxc_config":       types.ListType{ElemType: types.ObjectType{AttrTypes: map[string]attr.Type{"key": str, "value": str}}},
		"docker": types.ObjectType{AttrTypes: map[string]attr.Type{
			"package_source": str, "version": str, "compose": boolean, "storage_driver": str, "daemon_json": str,
			"health_checks":     types.ObjectType{AttrTypes: map[string]attr.Type{"hello_world": boolean, "network_target": str}},
			"verify_on_refresh": boolean,
		}},
		"unmapped": types.ListType{ElemType: str},
	}}
}

// NewLXCConfigsFunction returns the lxc_configs provider-defined function.
func NewLXCConfigsFunction() function.Function { return &LXCConfigsFunction{} }

// Metadata returns the function name.
func (f *LXCConfigsFunction) Metadata(_ context.Context, _ function.MetadataRequest, resp *function.MetadataResponse) {
	resp.Name = "lxc_configs"
}

// Definition returns the parameter and the return type.
func (f *LXCConfigsFunction) Definition(_ context.Context, _ function.DefinitionRequest, resp *function.DefinitionResponse) {
	resp.Definition = function.Definition{
		Summary: "Convert a Phoenix Hypervisor phoenix_lxc_configs.json document into phoenix_lxc_container arguments",
		MarkdownDescription: "Validates a `phoenix_lxc_configs.json` document of the Phoenix Hypervisor scripts and returns a map " +
			"keyed by CTID (a string, as in the file) whose values hold the arguments of a `phoenix_lxc_container`, so that " +
			"the file can stay the single source of truth with `for_each`. It needs no reachable cluster.\n\n" +
			"Each value is an object with `ctid` (number), `unmapped` (list of strings) and one attribute per resource " +
			"argument, of the argument's type: `node_name`, `vmid`, `template`, `clone`, `hostname`, `description`, `tags`, " +
			"`unprivileged`, `os_type`, `cores`, `cpu_limit`, `cpu_units`, `memory`, `swap`, `rootfs`, `network`, " +
			"`nameserver`, `searchdomain`, `features`, `start_on_boot`, `startup`, `started`, `protection`, " +
			"`apparmor_profile`, `lxc_config` and `docker`. An attribute the document does not set is `null`, so the " +
			"resource's default applies; `node_name` is always `null` (the file does not name nodes).\n\n" +
			"Mapping: `name` → `hostname`; `memory_mb` → `memory`; `swap_mb` → `swap`; `cores` → `cores`; " +
			"`storage_pool`, `storage_size_gb` → `rootfs { storage, size = \"<n>G\" }`; `network_config` and `mac_address` → " +
			"`network[0] { name, bridge, ip, gw, hwaddr }`, with `firewall.enabled` → `network[0].firewall`; " +
			"`template` → `template` (verbatim: a file path must be changed into a `storage:vztmpl/...` volume); " +
			"`clone_from_ctid` → `clone.source_vmid`, and the source's `template_snapshot_name` → `clone.snapshot`; " +
			"`unprivileged` → `unprivileged`; `apparmor_profile` → `apparmor_profile`; `lxc_options` (`lxc.key=value` or " +
			"`lxc.key: value`) → `lxc_config { key, value }`, except `lxc.apparmor.*` lines, which belong to `apparmor_profile`: " +
			"`lxc.apparmor.profile` with the value of `apparmor_profile` is covered by it, any other is listed in `unmapped`; `pct_options` feature flags (`nesting=1`, `keyctl=1`, `fuse=1`, " +
			"`mknod=1`, `mount=nfs;cifs`) → `features`; `start_at_boot` → `start_on_boot`; `boot_order`, `boot_delay` → " +
			"`startup { order, up_delay }`; the feature `docker` → a `docker` object with the block's defaults, whose " +
			"`health_checks.hello_world` is `false` only when `tests.integration_tests` lists no `test_docker_hello_world.sh`.\n\n" +
			"Nothing is dropped silently: every field without a counterpart (`gpu_assignment`, `portainer_role`, `ports`, " +
			"`volumes`, `dependencies`, `firewall.rules`, features other than `docker`, `vllm_*`, the container's own " +
			"`template_snapshot_name`, fields the schema does not know, ...) is listed in `unmapped` as " +
			"`<path>: <JSON value>`, e.g. `gpu_assignment: \"0\"`. For a Docker container the `tests` entries running " +
			"`check_docker_service.sh`, `check_network_access.sh` and `test_docker_hello_world.sh` are covered by the " +
			"docker block's own checks; the other entries are listed.\n\n" +
			"Validation follows the document's JSON schema for structure and types (an error names the CTID and the JSON " +
			"path, e.g. `lxc_configs[\"950\"].memory_mb: expected an integer, got \"2G\"`), the schema's required fields, " +
			"and the value rules of every field that reaches a resource argument. Fields that reach no argument are only " +
			"type-checked, and unknown fields and feature names are listed in `unmapped` rather than refused, as real " +
			"files carry them. An empty `lxc_options` is returned as `null`.",
		Parameters: []function.Parameter{
			function.StringParameter{
				Name:                "json",
				MarkdownDescription: "Text of a `phoenix_lxc_configs.json` document, e.g. `file(\"phoenix_lxc_configs.json\")`.",
			},
		},
		Return: function.MapReturn{ElementType: lxcConfigsEntryType()},
	}
}

// Run validates the document and returns the converted containers.
func (f *LXCConfigsFunction) Run(ctx context.Context, req function.RunRequest, resp *function.RunResponse) {
	var doc string
	resp.Error = req.Arguments.Get(ctx, &doc)
	if resp.Error != nil {
		return
	}
	entries, err := convertLXCConfigs([]byte(doc))
	if err != nil {
		resp.Error = function.NewArgumentFuncError(0, err.Error())
		return
	}
	result, diags := types.MapValueFrom(ctx, lxcConfigsEntryType(), entries)
	if diags.HasError() {
		resp.Error = function.FuncErrorFromDiags(ctx, diags)
		return
	}
	resp.Error = resp.Result.Set(ctx, result)
}

// lxcConfigsMaxErrors bounds the problems reported at once.
const lxcConfigsMaxErrors = 25

// lxcConfigsParser collects the problems found in a document.
type lxcConfigsParser struct {
	problems []string
}

func (p *lxcConfigsParser) fail(at, format string, args ...any) {
	p.problems = append(p.problems, at+": "+fmt.Sprintf(format, args...))
}

func (p *lxcConfigsParser) err() error {
	if len(p.problems) == 0 {
		return nil
	}
	shown := p.problems
	more := ""
	if len(shown) > lxcConfigsMaxErrors {
		more = fmt.Sprintf("\n... and %d more problems", len(shown)-lxcConfigsMaxErrors)
		shown = shown[:lxcConfigsMaxErrors]
	}
	return errors.New(strings.Join(shown, "\n") + more)
}

// lxcConfigsMember is one member of a JSON object, in document order.
type lxcConfigsMember struct {
	key string
	raw json.RawMessage
}

// jsonKind names the JSON type of a syntactically valid value.
func jsonKind(raw json.RawMessage) string {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

// compactJSON returns raw on one line, keys in document order.
func compactJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(bytes.TrimSpace(raw))
	}
	return b.String()
}

// jsonString encodes s as a JSON string, leaving <, > and & as they are.
func jsonString(s string) json.RawMessage {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // A string always encodes.
	return bytes.TrimSpace(b.Bytes())
}

// shortJSON is compactJSON cut to a length fit for an error message.
func shortJSON(raw json.RawMessage) string {
	s := compactJSON(raw)
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}

// object decodes a JSON object keeping the order of its members. It reports
// a non-object value or a duplicate key and returns ok false.
func (p *lxcConfigsParser) object(at string, raw json.RawMessage) ([]lxcConfigsMember, bool) {
	if k := jsonKind(raw); k != "object" {
		p.fail(at, "expected an object, got %s", shortJSON(raw))
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		p.fail(at, "%v", err)
		return nil, false
	}
	var members []lxcConfigsMember
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			p.fail(at, "%v", err)
			return nil, false
		}
		key, isString := tok.(string)
		if !isString {
			p.fail(at, "unexpected %v", tok)
			return nil, false
		}
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			p.fail(at, "%v", err)
			return nil, false
		}
		if seen[key] {
			p.fail(at, "duplicate key %q", key)
			return nil, false
		}
		seen[key] = true
		members = append(members, lxcConfigsMember{key: key, raw: value})
	}
	return members, true
}

func (p *lxcConfigsParser) array(at string, raw json.RawMessage) ([]json.RawMessage, bool) {
	if jsonKind(raw) != "array" {
		p.fail(at, "expected an array, got %s", shortJSON(raw))
		return nil, false
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		p.fail(at, "%v", err)
		return nil, false
	}
	return items, true
}

func (p *lxcConfigsParser) str(at string, raw json.RawMessage) (string, bool) {
	if jsonKind(raw) != "string" {
		p.fail(at, "expected a string, got %s", shortJSON(raw))
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		p.fail(at, "%v", err)
		return "", false
	}
	return s, true
}

// nonEmpty is str with the schema's minLength 1.
func (p *lxcConfigsParser) nonEmpty(at string, raw json.RawMessage) (string, bool) {
	s, ok := p.str(at, raw)
	if ok && s == "" {
		p.fail(at, "must not be empty")
		return "", false
	}
	return s, ok
}

func (p *lxcConfigsParser) boolean(at string, raw json.RawMessage) (bool, bool) {
	if jsonKind(raw) != "boolean" {
		p.fail(at, "expected a boolean, got %s", shortJSON(raw))
		return false, false
	}
	return bytes.HasPrefix(bytes.TrimSpace(raw), []byte("true")), true
}

// integer accepts an integral JSON number within [lo, hi].
func (p *lxcConfigsParser) integer(at string, raw json.RawMessage, lo, hi int64) (int64, bool) {
	if jsonKind(raw) != "number" {
		p.fail(at, "expected an integer, got %s", shortJSON(raw))
		return 0, false
	}
	text := string(bytes.TrimSpace(raw))
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(text, 64)
		if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			p.fail(at, "expected an integer, got %s", text)
			return 0, false
		}
		n = int64(f)
	}
	if n < lo || n > hi {
		if hi == math.MaxInt64 {
			p.fail(at, "must be at least %d, got %d", lo, n)
		} else {
			p.fail(at, "must be between %d and %d, got %d", lo, hi, n)
		}
		return 0, false
	}
	return n, true
}

// stringList decodes an array of strings; element errors name the index.
// It returns nil after a problem.
func (p *lxcConfigsParser) stringList(at string, raw json.RawMessage) []string {
	items, ok := p.array(at, raw)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(items))
	for i, item := range items {
		s, ok := p.str(fmt.Sprintf("%s[%d]", at, i), item)
		if !ok {
			return nil
		}
		out = append(out, s)
	}
	return out
}

// check verifies the JSON type of a field that reaches no argument.
func (p *lxcConfigsParser) check(at, kind string, raw json.RawMessage) {
	switch kind {
	case "string", "boolean", "object", "array":
		if jsonKind(raw) != kind {
			article := "a"
			if kind == "array" || kind == "object" {
				article = "an"
			}
			p.fail(at, "expected %s %s, got %s", article, kind, shortJSON(raw))
		}
	case "string|null":
		if k := jsonKind(raw); k != "string" && k != "null" {
			p.fail(at, "expected a string or null, got %s", shortJSON(raw))
		}
	case "integer":
		p.integer(at, raw, math.MinInt64, math.MaxInt64)
	case "number":
		if jsonKind(raw) != "number" {
			p.fail(at, "expected a number, got %s", shortJSON(raw))
		}
	case "array<string>":
		p.stringList(at, raw)
	case "array<object>":
		if items, ok := p.array(at, raw); ok {
			for i, item := range items {
				if jsonKind(item) != "object" {
					p.fail(fmt.Sprintf("%s[%d]", at, i), "expected an object, got %s", shortJSON(item))
				}
			}
		}
	}
}

// lxcConfigsUnmappedKinds holds the JSON types, from the document's schema,
// of the container fields that reach no resource argument.
var lxcConfigsUnmappedKinds = map[string]string{
	"gpu_assignment":              "string",
	"portainer_role":              "string",
	"vllm_model":                  "string|null",
	"vllm_served_model_name":      "string",
	"vllm_model_type":             "string",
	"vllm_port":                   "integer",
	"vllm_tensor_parallel_size":   "integer",
	"vllm_gpu_memory_utilization": "number",
	"vllm_max_model_len":          "integer",
	"vllm_args":                   "array<string>",
	"application_script":          "string",
	"ports":                       "array<string>",
	"health_check":                "object",
	"dependencies":                "array<string>",
	"run_integration_tests":       "boolean",
	"volumes":                     "array<object>",
	"apparmor_manages_nesting":    "boolean",
}

// lxcConfigsRequired lists the container fields the schema requires.
var lxcConfigsRequired = []string{
	"name", "memory_mb", "cores", "storage_pool", "storage_size_gb", "network_config",
	"portainer_role", "unprivileged", "apparmor_profile", "apparmor_manages_nesting",
}

// lxcConfigsTopLevel lists the document-level fields besides lxc_configs.
// They describe the host (NVIDIA driver) and reach no container argument.
var lxcConfigsTopLevel = []string{"$schema", "nvidia_driver_version", "nvidia_repo_url", "nvidia_runfile_url"}

var (
	lxcOptionKeyPattern = regexp.MustCompile(`^lxc\.[A-Za-z0-9_.\-]+$`)
	ctidKeyPattern      = regexp.MustCompile(`^[0-9]+$`)
)

// Docker tests of the Phoenix scripts that the docker block's own checks
// cover, by script file name.
var (
	lxcConfigsDockerHealthChecks = []string{"check_docker_service.sh", "check_network_access.sh"}
	lxcConfigsDockerHelloWorld   = "test_docker_hello_world.sh"
)

// lxcConfigsConverted is one container while the document is read.
type lxcConfigsConverted struct {
	key            string
	entry          lxcConfigsEntryModel
	cloneFrom      int64
	snapshotToMake string
}

// convertLXCConfigs validates a phoenix_lxc_configs.json document and returns
// its containers keyed by CTID.
func convertLXCConfigs(doc []byte) (map[string]lxcConfigsEntryModel, error) {
	if !json.Valid(doc) {
		var v any
		err := json.Unmarshal(doc, &v)
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			line, col := lineColumn(doc, syn.Offset)
			return nil, fmt.Errorf("invalid JSON at line %d, column %d: %s", line, col, syn.Error())
		}
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	p := &lxcConfigsParser{}
	top, ok := p.object("(document)", doc)
	if !ok {
		return nil, p.err()
	}
	var configs json.RawMessage
	for _, m := range top {
		switch {
		case m.key == "lxc_configs":
			configs = m.raw
		case slices.Contains(lxcConfigsTopLevel, m.key):
			p.check(m.key, "string", m.raw)
		default:
			p.fail(m.key, "unknown top-level field (a phoenix_lxc_configs.json document holds %s and lxc_configs)",
				strings.Join(lxcConfigsTopLevel, ", "))
		}
	}
	if configs == nil {
		p.fail("lxc_configs", "required field is missing")
		return nil, p.err()
	}
	containers, ok := p.object("lxc_configs", configs)
	if !ok {
		return nil, p.err()
	}
	converted := make([]*lxcConfigsConverted, 0, len(containers))
	byID := map[int64]*lxcConfigsConverted{}
	for _, m := range containers {
		at := fmt.Sprintf("lxc_configs[%q]", m.key)
		if !ctidKeyPattern.MatchString(m.key) {
			p.fail(at, "a CTID must be a decimal number, got %q", m.key)
			continue
		}
		ctid, err := strconv.ParseInt(m.key, 10, 64)
		if err != nil || ctid < 100 || ctid > 999999999 || strconv.FormatInt(ctid, 10) != m.key {
			p.fail(at, "a CTID must be a number from 100 to 999999999 without leading zeros, got %q", m.key)
			continue
		}
		c := p.container(at, ctid, m.raw)
		if c == nil {
			continue
		}
		c.key = m.key
		converted = append(converted, c)
		byID[ctid] = c
	}
	// Clones: a source in the document lends its snapshot; chains must end.
	for _, c := range converted {
		if c.cloneFrom == 0 {
			continue
		}
		at := fmt.Sprintf("lxc_configs[%q].clone_from_ctid", c.key)
		if src := byID[c.cloneFrom]; src != nil && src.snapshotToMake != "" {
			c.entry.Clone.Snapshot = types.StringValue(src.snapshotToMake)
		}
		seen := map[int64]bool{c.entry.CTID.ValueInt64(): true}
		for next := c.cloneFrom; next != 0; {
			if seen[next] {
				p.fail(at, "clone chain loops back to %d", next)
				break
			}
			seen[next] = true
			src := byID[next]
			if src == nil {
				break
			}
			next = src.cloneFrom
		}
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	out := make(map[string]lxcConfigsEntryModel, len(converted))
	for _, c := range converted {
		out[c.key] = c.entry
	}
	return out, nil
}

// lineColumn returns the 1-based line and column of the byte a
// json.SyntaxError stopped at (its Offset counts the bytes read, that byte
// included).
func lineColumn(doc []byte, offset int64) (int, int) {
	at := int(min(max(offset-1, 0), int64(len(doc))))
	before := doc[:at]
	line := bytes.Count(before, []byte("\n")) + 1
	col := at - bytes.LastIndexByte(before, '\n')
	return line, col
}

// container converts one lxc_configs entry; nil when it is not an object.
func (p *lxcConfigsParser) container(at string, ctid int64, raw json.RawMessage) *lxcConfigsConverted {
	members, ok := p.object(at, raw)
	if !ok {
		return nil
	}
	e := lxcConfigsEntryModel{
		CTID:         types.Int64Value(ctid),
		VMID:         types.Int64Value(ctid),
		Tags:         types.SetNull(types.StringType),
		CPULimit:     types.Float64Null(),
		CPUUnits:     types.Int64Null(),
		Unmapped:     []string{},
		Network:      []networkModel{lxcConfigsNullNetwork()},
		Nameserver:   types.StringNull(),
		Searchdomain: types.StringNull(),
	}
	c := &lxcConfigsConverted{}
	field := func(key string) string { return at + "." + key }
	unmapped := func(rel string, value json.RawMessage) {
		e.Unmapped = append(e.Unmapped, rel+": "+compactJSON(value))
	}
	seen := map[string]bool{}
	// Fields that decide how others are read; their own errors are reported
	// in the loop below.
	hasDocker, profile := false, ""
	for _, m := range members {
		var names []string
		if m.key == "features" && json.Unmarshal(m.raw, &names) == nil {
			hasDocker = slices.Contains(names, "docker")
		}
		if m.key == "apparmor_profile" {
			_ = json.Unmarshal(m.raw, &profile) // A non-string is reported below.
		}
	}
	var startup startupModel
	startup.Order, startup.UpDelay, startup.DownDelay = types.Int64Null(), types.Int64Null(), types.Int64Null()
	var rootfs lxcConfigsRootFSModel
	rootfs.Storage, rootfs.Size = types.StringNull(), types.StringNull()
	var features *lxcConfigsFeaturesModel
	for _, m := range members {
		seen[m.key] = true
		fa := field(m.key)
		switch m.key {
		case "name":
			if s, ok := p.nonEmpty(fa, m.raw); ok {
				if len(s) > 253 || !hostnamePattern.MatchString(s) {
					p.fail(fa, "must be a valid host name (letters, digits and '-', labels separated by '.'), got %q", s)
				}
				e.Hostname = types.StringValue(s)
			}
		case "memory_mb":
			if n, ok := p.integer(fa, m.raw, 512, 131072); ok {
				e.Memory = types.Int64Value(n)
			}
		case "swap_mb":
			if n, ok := p.integer(fa, m.raw, 0, math.MaxInt64); ok {
				e.Swap = types.Int64Value(n)
			}
		case "cores":
			if n, ok := p.integer(fa, m.raw, 1, 32); ok {
				e.Cores = types.Int64Value(n)
			}
		case "template":
			if s, ok := p.nonEmpty(fa, m.raw); ok {
				e.Template = types.StringValue(s)
			}
		case "storage_pool":
			if s, ok := p.nonEmpty(fa, m.raw); ok {
				if !storageIDPattern.MatchString(s) {
					p.fail(fa, "must be a Proxmox VE storage ID such as local-lvm, got %q", s)
				}
				rootfs.Storage = types.StringValue(s)
			}
		case "storage_size_gb":
			if n, ok := p.integer(fa, m.raw, 10, 1024); ok {
				rootfs.Size = types.StringValue(strconv.FormatInt(n, 10) + "G")
			}
		case "network_config":
			p.network(fa, m.raw, &e.Network[0], unmapped)
		case "mac_address":
			if s, ok := p.str(fa, m.raw); ok {
				if !macPattern.MatchString(s) {
					p.fail(fa, "must be a unicast MAC address such as 52:54:00:12:34:56, got %q", s)
				}
				e.Network[0].HWAddr = types.StringValue(s)
			}
		case "firewall":
			p.firewall(fa, m.raw, &e.Network[0], unmapped)
		case "features":
			items := p.stringList(fa, m.raw)
			for i, name := range items {
				if name != "docker" {
					unmapped(fmt.Sprintf("features[%d]", i), jsonString(name))
				}
			}
		case "pct_options":
			items := p.stringList(fa, m.raw)
			for i, opt := range items {
				if features == nil {
					features = &lxcConfigsFeaturesModel{
						Nesting: types.BoolNull(), Keyctl: types.BoolNull(), Fuse: types.BoolNull(), Mknod: types.BoolNull(),
						Mount: types.SetNull(types.StringType),
					}
				}
				if !applyPctFeatures(opt, features) {
					unmapped(fmt.Sprintf("pct_options[%d]", i), jsonString(opt))
				}
			}
		case "lxc_options":
			items := p.stringList(fa, m.raw)
			for i, opt := range items {
				key, value, ok := splitLXCOption(opt)
				if !ok {
					p.fail(fmt.Sprintf("%s[%d]", fa, i), `expected "lxc.<key>=<value>" or "lxc.<key>: <value>", got %q`, opt)
					continue
				}
				if strings.HasPrefix(key, "lxc.apparmor.") {
					// AppArmor lines belong to apparmor_profile (and the
					// docker block), never to lxc_config: the same profile
					// as apparmor_profile is covered by it, others are listed.
					if key != "lxc.apparmor.profile" || value != profile {
						unmapped(fmt.Sprintf("lxc_options[%d]", i), jsonString(opt))
					}
					continue
				}
				e.LXCConfig = append(e.LXCConfig, lxcConfigsLineModel{Key: types.StringValue(key), Value: types.StringValue(value)})
			}
		case "clone_from_ctid":
			if s, ok := p.str(fa, m.raw); ok {
				n, err := strconv.ParseInt(s, 10, 64)
				switch {
				case !ctidKeyPattern.MatchString(s) || err != nil || n < 100 || n > 999999999:
					p.fail(fa, "must be a CTID from 100 to 999999999 as a string, got %q", s)
				case n == ctid:
					p.fail(fa, "a container cannot be cloned from itself")
				default:
					c.cloneFrom = n
					e.Clone = &cloneModel{
						SourceVMID: types.Int64Value(n), SourceNode: types.StringNull(), Snapshot: types.StringNull(),
						Full: types.BoolNull(), Storage: types.StringNull(),
					}
				}
			}
		case "template_snapshot_name":
			if s, ok := p.nonEmpty(fa, m.raw); ok {
				if !snapshotPattern.MatchString(s) {
					p.fail(fa, "must be a Proxmox VE snapshot name (a letter, then 1 to 39 letters, digits, '_' or '-'), got %q", s)
				}
				c.snapshotToMake = s
				unmapped(m.key, m.raw)
			}
		case "apparmor_profile":
			if s, ok := p.str(fa, m.raw); ok {
				e.ApparmorProfile = types.StringValue(s)
			}
		case "unprivileged":
			if b, ok := p.boolean(fa, m.raw); ok {
				e.Unprivileged = types.BoolValue(b)
			}
		case "start_at_boot":
			if b, ok := p.boolean(fa, m.raw); ok {
				e.StartOnBoot = types.BoolValue(b)
			}
		case "boot_order":
			if n, ok := p.integer(fa, m.raw, 0, math.MaxInt64); ok {
				startup.Order = types.Int64Value(n)
			}
		case "boot_delay":
			if n, ok := p.integer(fa, m.raw, 0, math.MaxInt64); ok {
				startup.UpDelay = types.Int64Value(n)
			}
		case "tests":
			if hasDocker {
				e.Docker = p.dockerBlock(fa, m.raw, unmapped)
			} else {
				unmapped(m.key, m.raw)
			}
		default:
			if kind, known := lxcConfigsUnmappedKinds[m.key]; known {
				p.check(fa, kind, m.raw)
			}
			unmapped(m.key, m.raw)
		}
	}
	for _, key := range lxcConfigsRequired {
		if !seen[key] {
			p.fail(field(key), "required field is missing")
		}
	}
	if seen["template"] && seen["clone_from_ctid"] {
		p.fail(field("template"), "template and clone_from_ctid cannot both be set: a container is created from one source")
	}
	if hasDocker && e.Docker == nil {
		e.Docker = p.dockerBlock(field("tests"), nil, unmapped)
	}
	if !rootfs.Storage.IsNull() || !rootfs.Size.IsNull() {
		e.RootFS = &rootfs
	}
	if !startup.Order.IsNull() || !startup.UpDelay.IsNull() {
		e.Startup = &startup
	}
	if features != nil && (!features.Nesting.IsNull() || !features.Keyctl.IsNull() || !features.Fuse.IsNull() ||
		!features.Mknod.IsNull() || !features.Mount.IsNull()) {
		e.Features = features
	}
	c.entry = e
	return c
}

func lxcConfigsNullNetwork() networkModel {
	return networkModel{
		Name: types.StringNull(), Bridge: types.StringNull(), IP: types.StringNull(), Gw: types.StringNull(),
		IP6: types.StringNull(), Gw6: types.StringNull(), HWAddr: types.StringNull(), Firewall: types.BoolNull(),
		VLAN: types.Int64Null(), MTU: types.Int64Null(), Rate: types.Float64Null(),
	}
}

// network maps network_config onto the first network interface.
func (p *lxcConfigsParser) network(at string, raw json.RawMessage, n *networkModel, unmapped func(string, json.RawMessage)) {
	members, ok := p.object(at, raw)
	if !ok {
		return
	}
	seen := map[string]bool{}
	for _, m := range members {
		seen[m.key] = true
		fa := at + "." + m.key
		switch m.key {
		case "name":
			if s, ok := p.nonEmpty(fa, m.raw); ok {
				if !ifaceNamePattern.MatchString(s) {
					p.fail(fa, "must be an interface name of at most 15 letters, digits, '-', '_' or '.', got %q", s)
				}
				n.Name = types.StringValue(s)
			}
		case "bridge":
			if s, ok := p.nonEmpty(fa, m.raw); ok {
				if !bridgePattern.MatchString(s) {
					p.fail(fa, "must be a bridge name such as vmbr0, got %q", s)
				}
				n.Bridge = types.StringValue(s)
			}
		case "ip":
			if s, ok := p.str(fa, m.raw); ok {
				if pfx, err := netip.ParsePrefix(s); err != nil || !pfx.Addr().Is4() {
					p.fail(fa, "must be an IPv4 address with a prefix length such as 10.0.0.5/24, got %q", s)
				}
				n.IP = types.StringValue(s)
			}
		case "gw":
			if s, ok := p.str(fa, m.raw); ok {
				if addr, err := netip.ParseAddr(s); err != nil || !addr.Is4() {
					p.fail(fa, "must be an IPv4 address such as 10.0.0.1, got %q", s)
				}
				n.Gw = types.StringValue(s)
			}
		default:
			unmapped("network_config."+m.key, m.raw)
		}
	}
	for _, key := range []string{"name", "bridge", "ip", "gw"} {
		if !seen[key] {
			p.fail(at+"."+key, "required field is missing")
		}
	}
}

// firewall maps firewall.enabled onto the interface's firewall flag; the
// rules belong to the Proxmox VE firewall configuration and are listed.
func (p *lxcConfigsParser) firewall(at string, raw json.RawMessage, n *networkModel, unmapped func(string, json.RawMessage)) {
	members, ok := p.object(at, raw)
	if !ok {
		return
	}
	for _, m := range members {
		switch m.key {
		case "enabled":
			if b, ok := p.boolean(at+".enabled", m.raw); ok {
				n.Firewall = types.BoolValue(b)
			}
		case "rules":
			p.check(at+".rules", "array<object>", m.raw)
			unmapped("firewall.rules", m.raw)
		default:
			unmapped("firewall."+m.key, m.raw)
		}
	}
}

// dockerBlock returns the docker block of a container with the "docker"
// feature: the block's defaults, with hello_world following the Phoenix
// tests when they list integration tests. Test entries the block's checks do
// not cover are listed as unmapped.
func (p *lxcConfigsParser) dockerBlock(at string, tests json.RawMessage, unmapped func(string, json.RawMessage)) *lxcConfigsDockerModel {
	def := docker.DefaultOptions()
	helloWorld := def.HelloWorld
	switch {
	case tests == nil:
	case jsonKind(tests) != "object":
		unmapped("tests", tests)
	default:
		if members, ok := p.object(at, tests); ok {
			for _, m := range members {
				var covered []string
				switch m.key {
				case "health_checks":
					covered = lxcConfigsDockerHealthChecks
				case "integration_tests":
					covered = []string{lxcConfigsDockerHelloWorld}
				default:
					unmapped("tests."+m.key, m.raw)
					continue
				}
				var items []json.RawMessage
				if jsonKind(m.raw) != "array" || json.Unmarshal(m.raw, &items) != nil {
					unmapped("tests."+m.key, m.raw)
					continue
				}
				hello := false
				for i, item := range items {
					script := lxcConfigsTestScript(item)
					if script != "" && slices.Contains(covered, script) {
						hello = hello || script == lxcConfigsDockerHelloWorld
						continue
					}
					unmapped(fmt.Sprintf("tests.%s[%d]", m.key, i), item)
				}
				if m.key == "integration_tests" {
					helloWorld = hello
				}
			}
		}
	}
	return &lxcConfigsDockerModel{
		PackageSource:   types.StringValue(def.PackageSource),
		Version:         types.StringNull(),
		Compose:         types.BoolValue(def.Compose),
		StorageDriver:   types.StringValue(def.StorageDriver),
		DaemonJSON:      types.StringNull(),
		VerifyOnRefresh: types.BoolNull(),
		HealthChecks: &lxcConfigsHealthChecksModel{
			HelloWorld:    types.BoolValue(helloWorld),
			NetworkTarget: types.StringValue(def.NetworkTarget),
		},
	}
}

// lxcConfigsTestScript returns the file name of the script a Phoenix test
// entry runs, or "" when the entry is not a script object.
func lxcConfigsTestScript(raw json.RawMessage) string {
	var t struct {
		Type string `json:"type"`
		Path string `json:"path"`
	}
	if jsonKind(raw) != "object" || json.Unmarshal(raw, &t) != nil || t.Path == "" {
		return ""
	}
	if t.Type != "" && t.Type != "script" {
		return ""
	}
	return t.Path[strings.LastIndexByte(t.Path, '/')+1:]
}

// applyPctFeatures applies a pct option made only of container feature
// flags ("nesting=1", "keyctl=1,fuse=1", "mount=nfs;cifs") and reports
// whether it was one. Other options change nothing.
func applyPctFeatures(opt string, f *lxcConfigsFeaturesModel) bool {
	type flag struct {
		target *types.Bool
		value  bool
	}
	var flags []flag
	var mounts []string
	for part := range strings.SplitSeq(opt, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return false
		}
		var target *types.Bool
		switch k {
		case "nesting":
			target = &f.Nesting
		case "keyctl":
			target = &f.Keyctl
		case "fuse":
			target = &f.Fuse
		case "mknod":
			target = &f.Mknod
		case "mount":
			for fs := range strings.SplitSeq(v, ";") {
				if fs == "" {
					return false
				}
				mounts = append(mounts, fs)
			}
			continue
		default:
			return false
		}
		b, ok := parsePVEBool(v)
		if !ok {
			return false
		}
		flags = append(flags, flag{target, b})
	}
	for _, fl := range flags {
		*fl.target = types.BoolValue(fl.value)
	}
	if mounts != nil {
		elems := make([]attr.Value, 0, len(mounts))
		for _, m := range mounts {
			elems = append(elems, types.StringValue(m))
		}
		f.Mount = types.SetValueMust(types.StringType, elems)
	}
	return true
}

// parsePVEBool reads a boolean as Proxmox VE property strings write it.
func parsePVEBool(v string) (bool, bool) {
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on":
		return true, true
	case "0", "false", "no", "off":
		return false, true
	}
	return false, false
}

// splitLXCOption splits "lxc.key=value" or "lxc.key: value" (spaces around
// the separator allowed) at the first ':' or '='.
func splitLXCOption(opt string) (string, string, bool) {
	i := strings.IndexAny(opt, ":=")
	if i < 0 {
		return "", "", false
	}
	key := strings.TrimSpace(opt[:i])
	value := strings.TrimSpace(opt[i+1:])
	if !lxcOptionKeyPattern.MatchString(key) {
		return "", "", false
	}
	return key, value, true
}
