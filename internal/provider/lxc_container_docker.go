package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-jsontypes/jsontypes"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/apparmor"
	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/docker"
)

// dockerProfile is the AppArmor profile that a docker block runs its
// container under: EnsureProfile installs it on the node, its name goes to
// lxc.apparmor.profile and its hash to docker.apparmor_profile_sha256.
var dockerProfile = apparmor.DockerSecure

// apparmorGenerated names Proxmox VE's own profile, used when the
// configuration file carries no lxc.apparmor.profile line.
const apparmorGenerated = "generated"

type dockerModel struct {
	PackageSource    types.String         `tfsdk:"package_source"`
	Version          types.String         `tfsdk:"version"`
	Compose          types.Bool           `tfsdk:"compose"`
	StorageDriver    types.String         `tfsdk:"storage_driver"`
	DaemonJSON       jsontypes.Normalized `tfsdk:"daemon_json"`
	HealthChecks     *healthChecksModel   `tfsdk:"health_checks"`
	VerifyOnRefresh  types.Bool           `tfsdk:"verify_on_refresh"`
	InstalledVersion types.String         `tfsdk:"installed_version"`
	ServiceActive    types.Bool           `tfsdk:"service_active"`
	Tests            types.Map            `tfsdk:"tests"`
	TestsFingerprint types.String         `tfsdk:"tests_fingerprint"`
	AppArmorSHA256   types.String         `tfsdk:"apparmor_profile_sha256"`
	// What the check reads back from the container (see docker.CheckResult).
	Fingerprint       types.String `tfsdk:"fingerprint"`
	ContainerdVersion types.String `tfsdk:"containerd_version"`
	ComposeVersion    types.String `tfsdk:"compose_version"`
	DaemonJSONSHA256  types.String `tfsdk:"daemon_json_sha256"`
	AptKeySHA256      types.String `tfsdk:"apt_key_sha256"`
	AptSourceSHA256   types.String `tfsdk:"apt_source_sha256"`
	StorageDriverUsed types.String `tfsdk:"storage_driver_in_use"`
}

type healthChecksModel struct {
	HelloWorld      types.Bool   `tfsdk:"hello_world"`
	HelloWorldImage types.String `tfsdk:"hello_world_image"`
	NetworkTarget   types.String `tfsdk:"network_target"`
	NetworkImage    types.String `tfsdk:"network_image"`
}

// dockerTestType is an element of docker.tests: one test case's result.
var dockerTestType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"result":      types.StringType,
	"duration_ms": types.Int64Type,
	"ran_at":      types.StringType,
}}

// dockerTests turns the test script's report into docker.tests.
func dockerTests(r docker.TestReport) (types.Map, diag.Diagnostics) {
	var diags diag.Diagnostics
	elems := make(map[string]attr.Value, len(r.Cases))
	for name, result := range r.Cases {
		run := r.Runs[name]
		obj, d := types.ObjectValue(dockerTestType.AttrTypes, map[string]attr.Value{
			"result":      types.StringValue(result),
			"duration_ms": types.Int64Value(run.DurationMS),
			"ran_at":      types.StringValue(run.RanAt.UTC().Format(time.RFC3339)),
		})
		diags.Append(d...)
		elems[name] = obj
	}
	m, d := types.MapValue(dockerTestType, elems)
	diags.Append(d...)
	return m, diags
}

// dockerTestResults maps each case in docker.tests to its result; nil when
// the map is null or unknown.
func dockerTestResults(m types.Map) map[string]string {
	if !known(m) {
		return nil
	}
	out := map[string]string{}
	for name, v := range m.Elements() {
		if o, ok := v.(types.Object); ok && known(o) {
			if s, ok := o.Attributes()["result"].(types.String); ok {
				out[name] = s.ValueString()
			}
		}
	}
	return out
}

func dockerBlock() schema.SingleNestedBlock {
	return schema.SingleNestedBlock{
		MarkdownDescription: "Docker inside the container. Its presence enforces the hardened AppArmor profile `" +
			dockerProfile.Name + "` (with `nesting`, and `keyctl` when unprivileged), installs Docker idempotently over SSH " +
			"(`pct exec` of `" + docker.InstallScriptName + "`), checks that the service is active and runs the tests " +
			"(service running, `hello-world`, network access). Removing the block restores Proxmox VE's profile and leaves Docker installed.",
		Attributes: map[string]schema.Attribute{
			"package_source": defaultString("`docker-ce` (Docker's apt repository, the default) or `distro` (the OS's `docker.io`).",
				docker.PackageSourceDockerCE, stringvalidator.OneOf(docker.PackageSources()...)),
			"version": optString("Package version to pin, e.g. `27.3.1` or the full Debian version; the newest when unset.",
				checkWith("Invalid Docker version", "a package version", docker.ValidateVersion)),
			"compose": defaultBool("Install the Compose plugin. Defaults to `true`.", true),
			"storage_driver": defaultString("`overlay2` (the default) or `fuse-overlayfs`, which needs `features.fuse = true`.",
				docker.StorageDriverOverlay2, stringvalidator.OneOf(docker.StorageDrivers()...)),
			"daemon_json": schema.StringAttribute{
				MarkdownDescription: "Content of `/etc/docker/daemon.json` as JSON (`jsonencode({...})`); key order and white space never " +
					"cause a difference. The storage driver's setting is merged in; a conflicting `storage-driver` is an error. " +
					"A change restarts Docker without reinstalling it.",
				Optional:   true,
				CustomType: jsontypes.NormalizedType{},
			},
			"verify_on_refresh": schema.BoolAttribute{
				MarkdownDescription: "On refresh, check inside the container (one read-only `pct exec`; the Docker containers of a node refreshed in one plan share one SSH command) that Docker is installed and " +
					"active and read back the versions, file digests and fingerprint; a stopped or missing Docker or a drifted file, key, " +
					"source list or pinned version then shows as a planned update that reruns the idempotent install, which repairs only " +
					"what differs. Defaults to `true`.",
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(true),
			},
			"installed_version": schema.StringAttribute{
				MarkdownDescription: "Version of the Docker engine package (`docker-ce` or `docker.io`) found in the container. " +
					"With `version` set, a package upgraded or downgraded by hand shows as a planned change; the apply puts the " +
					"pinned version back.",
				Computed: true,
			},
			"service_active": schema.BoolAttribute{
				MarkdownDescription: "Whether the docker service was active when last checked.",
				Computed:            true,
			},
			"tests": schema.MapAttribute{
				MarkdownDescription: "The last run of each test case (`" + strings.Join(docker.Cases(), "`, `") + "`), keyed by its name: " +
					"`result` (`passed`, `failed` or `skipped`), `duration_ms` (its wall time in milliseconds, 0 when skipped) and " +
					"`ran_at` (when it started, RFC 3339 in UTC, to the second). The tests run after each install and when " +
					"`health_checks` changes; a failed case reruns the install and the tests on the next apply.",
				Computed:    true,
				ElementType: dockerTestType,
			},
			"tests_fingerprint": schema.StringAttribute{
				MarkdownDescription: "SHA-256 of the `health_checks` options the tests in `tests` ran with. A change of `health_checks` " +
					"alone shows here and in `tests` as a planned update that reruns the tests, never the install.",
				Computed: true,
			},
			"fingerprint": schema.StringAttribute{
				MarkdownDescription: "SHA-256 of the whole block's options (daemon.json merged and normalized) that the last successful " +
					"install applied, as recorded in the container (`" + docker.FingerprintPath + "`). The install runs again when the " +
					"configuration's fingerprint differs; empty when the container records none.",
				Computed: true,
			},
			"containerd_version": schema.StringAttribute{
				MarkdownDescription: "Version of the containerd package found in the container.",
				Computed:            true,
			},
			"compose_version": schema.StringAttribute{
				MarkdownDescription: "Version of the Compose plugin package found in the container, empty when none is installed.",
				Computed:            true,
			},
			"daemon_json_sha256": schema.StringAttribute{
				MarkdownDescription: "SHA-256 of `/etc/docker/daemon.json` in the container. An edit made inside the container shows " +
					"as a planned change back to the configured content; the apply rewrites the file and restarts Docker.",
				Computed: true,
			},
			"apt_key_sha256": schema.StringAttribute{
				MarkdownDescription: "SHA-256 of Docker's apt key file `/etc/apt/keyrings/docker.asc` (`docker-ce` source). A changed " +
					"file shows as a planned change; the apply restores Docker's release key.",
				Computed: true,
			},
			"apt_source_sha256": schema.StringAttribute{
				MarkdownDescription: "SHA-256 of Docker's apt source list `/etc/apt/sources.list.d/docker.list` (`docker-ce` source). " +
					"A changed file shows as a planned change; the apply writes it again.",
				Computed: true,
			},
			"storage_driver_in_use": schema.StringAttribute{
				MarkdownDescription: "Storage driver of the running Docker daemon (`docker info`), empty when the service is not active. " +
					"A daemon running with another driver than `storage_driver` (daemon.json changed without a restart, a driver set " +
					"elsewhere) shows as a planned change; the apply restarts Docker.",
				Computed: true,
			},
			"apparmor_profile_sha256": schema.StringAttribute{
				MarkdownDescription: "SHA-256 of the `" + dockerProfile.Name + "` profile this provider version ships. A provider " +
					"upgrade that changes the profile shows here in the plan and reinstalls it on apply.",
				Computed: true,
			},
		},
		Blocks: map[string]schema.Block{
			"health_checks": schema.SingleNestedBlock{
				MarkdownDescription: "What the tests check after the install.",
				Attributes: map[string]schema.Attribute{
					"hello_world": optBool("Run `docker run --rm hello-world`. Defaults to `true`."),
					"hello_world_image": optString("Image the `hello-world` test runs, e.g. a registry mirror's copy "+
						"(`mirror.lan:5000/library/hello-world:latest`) or an image pinned by digest (`hello-world@sha256:<64 hex digits>`). "+
						"It must print Docker's greeting (`Hello from Docker!`). Defaults to `"+docker.DefaultHelloWorldImage+"`.",
						checkWith("Invalid hello-world image", "an image reference", docker.ValidateImage)),
					"network_target": optString("Host or IP address a container pings to prove network access (the install also pings it "+
						"while waiting for the network). Defaults to `"+docker.DefaultNetworkTarget+"`.",
						checkWith("Invalid network target", "a host name or IP address", docker.ValidateNetworkTarget)),
					"network_image": optString("Image the network test runs `ping -c 1 -W 5 <network_target>` in, e.g. a registry mirror's "+
						"copy of busybox (`mirror.lan:5000/library/busybox:latest`) where Docker Hub is out of reach. Its `ping` must "+
						"take busybox's options. Defaults to `"+docker.DefaultNetworkImage+"`.",
						checkWith("Invalid network image", "an image reference", docker.ValidateImage)),
				},
			},
		},
	}
}

// dockerOptions turns the block into the feature's options.
func dockerOptions(d *dockerModel) docker.Options {
	o := docker.DefaultOptions()
	if known(d.PackageSource) {
		o.PackageSource = d.PackageSource.ValueString()
	}
	if known(d.Version) {
		o.Version = d.Version.ValueString()
	}
	if known(d.Compose) {
		o.Compose = d.Compose.ValueBool()
	}
	if known(d.StorageDriver) {
		o.StorageDriver = d.StorageDriver.ValueString()
	}
	if known(d.DaemonJSON) {
		o.DaemonJSON = d.DaemonJSON.ValueString()
	}
	if d.HealthChecks != nil {
		if known(d.HealthChecks.HelloWorld) {
			o.Tests.HelloWorld = d.HealthChecks.HelloWorld.ValueBool()
		}
		if known(d.HealthChecks.HelloWorldImage) {
			o.Tests.HelloWorldImage = d.HealthChecks.HelloWorldImage.ValueString()
		}
		if known(d.HealthChecks.NetworkImage) {
			o.Tests.NetworkImage = d.HealthChecks.NetworkImage.ValueString()
		}
		if known(d.HealthChecks.NetworkTarget) {
			o.Tests.NetworkTarget = d.HealthChecks.NetworkTarget.ValueString()
		}
	}
	return o
}

// dockerSourceKey holds, in a resource's private state, the SHA-256 of
// Docker's apt source list as the last install left it (a JSON string): the
// list's content depends on the container's distribution and architecture,
// so its expected digest is learned from the install, not computed.
const dockerSourceKey = "docker_apt_source_sha256"

// dockerSourceSHA256 reads the recorded digest, "" when there is none.
func dockerSourceSHA256(ctx context.Context, priv privateGetter) string {
	if priv == nil {
		return ""
	}
	b, _ := priv.GetKey(ctx, dockerSourceKey)
	var s string
	if len(b) == 0 || json.Unmarshal(b, &s) != nil {
		return ""
	}
	return s
}

// privateSetter is the private state of a create or update response.
type privateSetter interface {
	SetKey(ctx context.Context, key string, value []byte) diag.Diagnostics
}

// recordDockerSource keeps the source list's digest that the install just
// left, when the block manages Docker's repository.
func recordDockerSource(ctx context.Context, d *dockerModel, priv privateSetter) diag.Diagnostics {
	if d == nil || !known(d.AptSourceSHA256) || dockerOptions(d).PackageSource != docker.PackageSourceDockerCE {
		return nil
	}
	b, err := json.Marshal(d.AptSourceSHA256.ValueString())
	if err != nil {
		return nil
	}
	return priv.SetKey(ctx, dockerSourceKey, b)
}

// dockerAdoptKey marks, in a resource's private state, an import or a move
// from another provider whose first Read still has to look for Docker in the
// container.
const dockerAdoptKey = "docker_adopt"

// adoptDocker is the first Read after an import or a move: when the
// container runs an active Docker, the docker block is read back from it, so
// that a configuration asking for that Docker plans no change and no
// install. The options come from what is installed (the engine package,
// the Compose plugin, the driver in use) and are otherwise the block's
// defaults; daemon_json stays unset. The results are the check's, the
// fingerprint the one the container records, so planDocker decides by it,
// or without one by the read-back values. One read-only check runs, once; a
// container without Docker, stopped or out of SSH reach keeps no docker
// block.
func (r *lxcContainerResource) adoptDocker(ctx context.Context, m *lxcContainerModel) {
	if m.Docker != nil || r.data == nil || !m.Started.ValueBool() {
		return
	}
	check, err := r.data.NodeOps().CheckDocker(ctx, m.NodeName.ValueString(), int(m.VMID.ValueInt64()))
	if err != nil || check.Package == "" || !check.ServiceActive {
		tflog.Debug(ctx, "no Docker adopted", map[string]any{"id": m.ID.ValueString(), "error": fmt.Sprint(err), "package": check.Package})
		return
	}
	adoptDockerCheck(m, check)
	tflog.Info(ctx, "adopted the Docker found in an imported or moved container", map[string]any{"id": m.ID.ValueString(),
		"package": check.Package, "version": check.InstalledVersion, "fingerprint": check.Fingerprint})
}

// adoptDockerCheck sets m's docker block from the check of an active
// Docker found in the container (see adoptDocker).
func adoptDockerCheck(m *lxcContainerModel, check docker.CheckResult) {
	o := docker.DefaultOptions()
	if check.Package != "docker-ce" {
		o.PackageSource = docker.PackageSourceDistro
	}
	o.Compose = check.ComposeVersion != ""
	if slices.Contains(docker.StorageDrivers(), check.StorageDriver) {
		o.StorageDriver = check.StorageDriver
	}
	d := &dockerModel{
		PackageSource:    types.StringValue(o.PackageSource),
		Version:          types.StringNull(),
		Compose:          types.BoolValue(o.Compose),
		StorageDriver:    types.StringValue(o.StorageDriver),
		DaemonJSON:       jsontypes.NewNormalizedNull(),
		VerifyOnRefresh:  types.BoolValue(true),
		Tests:            types.MapNull(dockerTestType),
		TestsFingerprint: types.StringNull(),
		AppArmorSHA256:   types.StringNull(),
	}
	if m.EffectiveAA.ValueString() == dockerProfile.Name {
		d.AppArmorSHA256 = types.StringValue(dockerProfile.SHA256())
	}
	setDockerCheck(d, check)
	m.Docker = d
}
