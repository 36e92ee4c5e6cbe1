// Package docker is the Docker feature of phoenix_lxc_container: the three
// bash scripts that run inside a container (embedded), the arguments they
// take, and the parsing of what they print.
//
// It decides what runs, never how: a [Plan] resolves the docker block once
// (arguments, merged daemon.json, fingerprint) and each script is an
// [Invocation], run by
// the node access layer as
//
//	pct exec <vmid> -- bash -s -- <Args...>
//
// with the script on stdin. Arguments are always separate words, never
// spliced into the script text, and every value is validated here so that no
// argument can start with "-" or carry a newline.
//
// The scripts' output contract:
//
//   - Install: progress lines "phoenix-docker: [step] message"; on success a
//     last line "phoenix-docker: result installed_version=<v> changed=<0|1>
//     packages=<list> items=<list>" (see [ParseInstallResult]); on failure a
//     line starting "FATAL: " and a non-zero exit (see [FatalLine]).
//   - Check: "phoenix-docker: check service_active=<1|0> installed_version=<v>
//     ..." with the versions, the driver in use, the digests of daemon.json
//     and of the apt key and source list, and the recorded fingerprint; exit
//     0 only when the service is active (see [ParseCheckResult]).
//   - Test: one line per case "test_case_<name>: passed|failed|skipped
//     duration_ms=<n> ran_at=<YYYY-MM-DDTHH:MM:SSZ>", a
//     failed case followed by its output tail as "  | <line>" lines, then
//     "N passed, N failed" with ", N skipped" appended when a case was skipped
//     (see [ParseTestResults]).
//
// The parsers trust nothing they are not told: apart from what the shell
// prints before a script's first line, every line must follow the contract,
// result lines carry only their known keys, once each, with valid values, and
// nothing may follow a result. Any other output is an error naming the script.
package docker

import (
	"bytes"
	_ "embed"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

// Script file names, as shipped in the seed and as named in error messages.
const (
	InstallScriptName = "phoenix_hypervisor_feature_install_docker.sh"
	CheckScriptName   = "check_docker_service.sh"
	TestScriptName    = "test_docker_feature.sh"
)

// Values of Options.PackageSource.
const (
	// PackageSourceDockerCE installs docker-ce from Docker's official apt
	// repository (download.docker.com), the default.
	PackageSourceDockerCE = "docker-ce"
	// PackageSourceDistro installs the distribution's docker.io package.
	PackageSourceDistro = "distro"
)

// Values of Options.StorageDriver.
const (
	// StorageDriverOverlay2 is Docker's default driver, the default here.
	StorageDriverOverlay2 = "overlay2"
	// StorageDriverFuseOverlayfs needs the container feature fuse=1.
	StorageDriverFuseOverlayfs = "fuse-overlayfs"
)

// DefaultNetworkTarget is the host pinged by the network test case when none
// is configured.
const DefaultNetworkTarget = "1.1.1.1"

// DefaultHelloWorldImage is the image the hello-world test case runs when
// none is configured (Docker Hub's library/hello-world).
const DefaultHelloWorldImage = "hello-world"

// DefaultNetworkImage is the image the network test case pings from when
// TestOptions.NetworkImage is empty.
const DefaultNetworkImage = "busybox"

//go:embed scripts/phoenix_hypervisor_feature_install_docker.sh
var installScript []byte

//go:embed scripts/check_docker_service.sh
var checkScript []byte

//go:embed scripts/test_docker_feature.sh
var testScript []byte

// InstallScript returns the text of phoenix_hypervisor_feature_install_docker.sh.
// The slice is a copy; callers may keep or change it.
func InstallScript() []byte { return bytes.Clone(installScript) }

// CheckScript returns the text of check_docker_service.sh (a copy).
func CheckScript() []byte { return bytes.Clone(checkScript) }

// TestScript returns the text of test_docker_feature.sh (a copy).
func TestScript() []byte { return bytes.Clone(testScript) }

// PackageSources lists the valid Options.PackageSource values, default first.
func PackageSources() []string {
	return []string{PackageSourceDockerCE, PackageSourceDistro}
}

// StorageDrivers lists the valid Options.StorageDriver values, default first.
func StorageDrivers() []string {
	return []string{StorageDriverOverlay2, StorageDriverFuseOverlayfs}
}

// Options is the docker block of a container, as the scripts need it.
type Options struct {
	// PackageSource is PackageSourceDockerCE or PackageSourceDistro.
	PackageSource string
	// Version optionally pins the Docker package: the full Debian version
	// ("5:27.3.1-1~debian.12~bookworm") or its upstream part ("27.3.1"),
	// which the install script resolves with apt-cache madison. Empty means
	// whatever apt installs.
	Version string
	// Compose installs the Compose v2 plugin.
	Compose bool
	// StorageDriver is StorageDriverOverlay2 or StorageDriverFuseOverlayfs.
	StorageDriver string
	// DaemonJSON is the user's daemon.json (a JSON object, may be empty);
	// NewPlan merges it with StorageDriver through MergeDaemonJSON.
	DaemonJSON string
	// Tests are the test script's options. They are not part of the
	// install's fingerprint (Plan.Fingerprint) but of their own
	// (Plan.TestFingerprint): changing them reruns the tests, never the
	// install.
	Tests TestOptions `json:"-"`
}

// TestOptions are what the test script checks after the install.
type TestOptions struct {
	// HelloWorld runs the hello-world test case; false marks it skipped.
	HelloWorld bool
	// HelloWorldImage is the image the hello-world case runs (see
	// ValidateImage): Docker Hub's hello-world, a registry mirror's copy,
	// or an image pinned by digest.
	HelloWorldImage string
	// NetworkTarget is the host name or IP address pinged from a container
	// by the network test case. The install script also pings it while
	// waiting for the container's network, which changes nothing it
	// installs.
	NetworkTarget string
	// NetworkImage is the image the network case runs ping in (it needs
	// ping with -c and -W, as busybox has): "" is DefaultNetworkImage.
	// NewPlan keeps the default as "", so that it leaves the tests'
	// fingerprint as it was before the option existed.
	NetworkImage string `json:",omitempty"`
}

// DefaultTestOptions returns the defaults of the health checks.
func DefaultTestOptions() TestOptions {
	return TestOptions{HelloWorld: true, HelloWorldImage: DefaultHelloWorldImage, NetworkTarget: DefaultNetworkTarget}
}

// DefaultOptions returns the defaults of the docker block.
func DefaultOptions() Options {
	return Options{
		PackageSource: PackageSourceDockerCE,
		Compose:       true,
		StorageDriver: StorageDriverOverlay2,
		Tests:         DefaultTestOptions(),
	}
}

// Validate checks every field the scripts receive. DaemonJSON is checked by
// MergeDaemonJSON, which NewPlan calls.
func (o Options) Validate() error {
	if !slices.Contains(PackageSources(), o.PackageSource) {
		return fmt.Errorf("package source %q is not one of %s", o.PackageSource, strings.Join(PackageSources(), ", "))
	}
	if !slices.Contains(StorageDrivers(), o.StorageDriver) {
		return fmt.Errorf("storage driver %q is not one of %s", o.StorageDriver, strings.Join(StorageDrivers(), ", "))
	}
	if err := ValidateVersion(o.Version); err != nil {
		return err
	}
	return o.Tests.Validate()
}

// Validate checks the test script's options.
func (t TestOptions) Validate() error {
	if err := ValidateImage(t.HelloWorldImage); err != nil {
		return err
	}
	if t.NetworkImage != "" {
		if err := ValidateImage(t.NetworkImage); err != nil {
			return err
		}
	}
	return ValidateNetworkTarget(t.NetworkTarget)
}

// Image references, after the grammar of Docker's distribution/reference
// package: [domain[:port]/]path[:tag][@sha256:<64 hex>], the domain told
// from the path's first component by a dot, a colon or "localhost".
var (
	imageDomainRE    = regexp.MustCompile(`^(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])(?:\.(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]))*(?::[0-9]{1,5})?$`)
	imageComponentRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
	imageTagRE       = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	imageDigestRE    = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// ValidateImage accepts an image reference the test script may hand to
// "docker run": a path of lower-case components ("hello-world",
// "library/hello-world"), optionally behind a registry host with a port
// ("mirror.lan:5000/library/hello-world"), with an optional tag (":latest")
// and an optional digest ("@sha256:" and 64 lower-case hex digits).
func ValidateImage(ref string) error {
	if ref == "" {
		return fmt.Errorf("image is empty: an image reference such as %q is required", DefaultHelloWorldImage)
	}
	bad := func(why string) error {
		return fmt.Errorf("image %q is not an image reference ([registry[:port]/]path[:tag][@sha256:<64 hex digits>]): %s", ref, why)
	}
	name := ref
	if n, digest, ok := strings.Cut(ref, "@"); ok {
		if !imageDigestRE.MatchString(digest) {
			return bad(fmt.Sprintf("digest %q is not sha256: and 64 lower-case hex digits", digest))
		}
		name = n
	}
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		if tag := name[i+1:]; !imageTagRE.MatchString(tag) {
			return bad(fmt.Sprintf("tag %q is not letters, digits, _ . - (at most 128, not starting with . or -)", tag))
		}
		name = name[:i]
	}
	if len(name) > 255 {
		return bad("the name is longer than 255 characters")
	}
	parts := strings.Split(name, "/")
	if first := parts[0]; len(parts) > 1 && (strings.ContainsAny(first, ".:") || first == "localhost" || first != strings.ToLower(first)) {
		if !imageDomainRE.MatchString(first) {
			return bad(fmt.Sprintf("registry %q is not a host name with an optional port", first))
		}
		parts = parts[1:]
	}
	for _, c := range parts {
		if !imageComponentRE.MatchString(c) {
			return bad(fmt.Sprintf("path component %q is not lower-case letters and digits joined by . _ __ or -", c))
		}
	}
	return nil
}

// versionRE matches a Debian version or its upstream part; the install
// script applies the same pattern.
var versionRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.+:~_-]*$`)

// ValidateVersion accepts "" (no pin) or a Debian package version.
func ValidateVersion(v string) error {
	if v == "" || versionRE.MatchString(v) {
		return nil
	}
	return fmt.Errorf("version %q is not a Debian package version (letters, digits and . + : ~ _ -, starting with a letter or digit)", v)
}

// ValidateNetworkTarget accepts an IPv4 or IPv6 address (no zone) or a DNS
// host name (RFC 1123 labels, at most 253 characters, no trailing dot).
func ValidateNetworkTarget(host string) error {
	if host == "" {
		return fmt.Errorf("network target is empty: a host name or IP address is required")
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		if addr.Zone() != "" {
			return fmt.Errorf("network target %q: an IPv6 zone is not supported", host)
		}
		return nil
	}
	if len(host) > 253 {
		return fmt.Errorf("network target %q is longer than 253 characters", host)
	}
	for label := range strings.SplitSeq(host, ".") {
		if !validLabel(label) {
			return fmt.Errorf("network target %q is neither an IP address nor a host name (label %q)", host, label)
		}
	}
	// A name made only of digits and dots is a malformed IPv4 address.
	if strings.Trim(host, "0123456789.") == "" {
		return fmt.Errorf("network target %q is not a valid IPv4 address", host)
	}
	return nil
}

func validLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for _, c := range l {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// Invocation is one run of a script inside a container: Script on the stdin
// of "bash -s -- Args...".
type Invocation struct {
	// Name is the script's file name, for logs and error messages.
	Name string
	// Script is the text fed on stdin.
	Script []byte
	// Args are the script's arguments, each one word.
	Args []string
}

// Check is the health check's invocation; it takes no arguments and changes
// nothing, so Read may run it.
func Check() Invocation {
	return Invocation{Name: CheckScriptName, Script: CheckScript(), Args: []string{}}
}
