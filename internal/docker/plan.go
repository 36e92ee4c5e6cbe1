package docker

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

//go:embed keys/docker-release-key.asc
var releaseKey []byte

// AptKeySHA256 is the hex SHA-256 of Docker's apt key file as this package
// ships it (keys/docker-release-key.asc): the install script accepts a key
// file, downloaded or in place, only with this digest.
func AptKeySHA256() string { return sha256Hex(releaseKey) }

// FingerprintPath is where the install script records the fingerprint of
// the plan it applied, once the run succeeded.
const FingerprintPath = "/etc/phoenix/docker.fingerprint"

// fingerprintDomain starts the hashed encoding, so that a fingerprint can
// never equal the digest of something else. The encoding of Options leaves
// out its Tests (json:"-"), whose encoding is an object with other keys, so
// the install's and the tests' fingerprints never collide either.
const fingerprintDomain = "phoenix docker plan v1\n"

// Plan is the docker block of a container resolved once: the validated
// options, the merged daemon.json, the scripts' arguments and the
// fingerprint of it all. Plan time and apply build it from the same options
// and so agree.
type Plan struct {
	// Options are the block's options, DaemonJSON replaced by the merged,
	// normalized daemon.json.
	Options Options
	// DaemonJSON is the complete /etc/docker/daemon.json (without the
	// newline the install script appends).
	DaemonJSON      string
	fingerprint     string
	testFingerprint string
}

// NewPlan validates o, merges its daemon.json with the storage driver and
// computes the fingerprint.
func NewPlan(o Options) (Plan, error) {
	if err := o.Validate(); err != nil {
		return Plan{}, err
	}
	merged, err := MergeDaemonJSON(o.DaemonJSON, o.StorageDriver)
	if err != nil {
		return Plan{}, err
	}
	o.DaemonJSON = merged
	if o.Tests.NetworkImage == DefaultNetworkImage {
		o.Tests.NetworkImage = ""
	}
	fp, err := fingerprintOf(o)
	if err != nil {
		return Plan{}, err
	}
	tfp, err := fingerprintOf(o.Tests)
	if err != nil {
		return Plan{}, err
	}
	return Plan{Options: o, DaemonJSON: merged, fingerprint: fp, testFingerprint: tfp}, nil
}

// fingerprintOf is the hex SHA-256 of the JSON encoding of v. encoding/json
// walks every exported field by reflection, keyed by name, so a field added
// to the options changes every fingerprint without being listed anywhere.
func fingerprintOf(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("docker block: cannot encode the options: %w", err)
	}
	return sha256Hex(append([]byte(fingerprintDomain), b...)), nil
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Fingerprint is the hex SHA-256 of a canonical encoding of the install's
// options (daemon.json merged and normalized; the test options left out):
// equal fingerprints mean the same request, a different one that the
// install and the tests must run.
func (p Plan) Fingerprint() string { return p.fingerprint }

// TestFingerprint is the hex SHA-256 of the encoding of the test options:
// a different one means that the tests must run again, and only they.
func (p Plan) TestFingerprint() string { return p.testFingerprint }

// DaemonJSONSHA256 is the hex SHA-256 of /etc/docker/daemon.json as the
// install script writes it (the merged JSON and a newline).
func (p Plan) DaemonJSONSHA256() string { return sha256Hex([]byte(p.DaemonJSON + "\n")) }

// ManagesAptRepository reports whether the install configures Docker's apt
// repository (key and source list): only for PackageSourceDockerCE.
func (p Plan) ManagesAptRepository() bool { return p.Options.PackageSource == PackageSourceDockerCE }

// EnginePackage is the package whose version is pinned and reported:
// docker-ce or docker.io.
func (p Plan) EnginePackage() string {
	if p.ManagesAptRepository() {
		return "docker-ce"
	}
	return "docker.io"
}

// VersionMatches reports whether an installed engine version satisfies the
// pin (always, without one), the way the install script decides it: the
// full version, or its upstream part equal to the pin or extending it with
// "+" or "~".
func (p Plan) VersionMatches(installed string) bool {
	pin := p.Options.Version
	if pin == "" || installed == pin {
		return true
	}
	up := installed
	if _, rest, ok := strings.Cut(up, ":"); ok {
		up = rest
	}
	if i := strings.LastIndexByte(up, '-'); i >= 0 {
		up = up[:i]
	}
	return up == pin || strings.HasPrefix(up, pin+"+") || strings.HasPrefix(up, pin+"~")
}

// InstallArgs are the arguments of the install script:
//
//	--package-source S [--version V] --compose 1|0 --storage-driver D
//	--daemon-json JSON --network-target HOST --fingerprint FP
//	[--apt-key-sha256 SHA]
//
// --apt-key-sha256 comes with the docker-ce source only.
func (p Plan) InstallArgs() []string {
	o := p.Options
	args := []string{"--package-source", o.PackageSource}
	if o.Version != "" {
		args = append(args, "--version", o.Version)
	}
	args = append(args,
		"--compose", flag(o.Compose),
		"--storage-driver", o.StorageDriver,
		"--daemon-json", p.DaemonJSON,
		"--network-target", o.Tests.NetworkTarget,
		"--fingerprint", p.fingerprint,
	)
	if p.ManagesAptRepository() {
		args = append(args, "--apt-key-sha256", AptKeySHA256())
	}
	return args
}

// TestArgs are the arguments of the test script:
//
//	--network-target HOST --hello-world 1|0 --hello-world-image IMAGE [--network-image IMAGE]
func (p Plan) TestArgs() []string {
	t := p.Options.Tests
	args := []string{"--network-target", t.NetworkTarget, "--hello-world", flag(t.HelloWorld), "--hello-world-image", t.HelloWorldImage}
	if t.NetworkImage != "" {
		args = append(args, "--network-image", t.NetworkImage)
	}
	return args
}

// Install is the install script's invocation.
func (p Plan) Install() Invocation {
	return Invocation{Name: InstallScriptName, Script: InstallScript(), Args: p.InstallArgs()}
}

// Test is the test script's invocation.
func (p Plan) Test() Invocation {
	return Invocation{Name: TestScriptName, Script: TestScript(), Args: p.TestArgs()}
}
