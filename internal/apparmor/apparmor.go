// Package apparmor describes AppArmor profiles for LXC containers as values
// (Profile: a name and its files, with the hash that versions them and the
// node-side commands that install and load them) and holds the one the
// provider ships, DockerSecure (lxc-docker-secure), which it installs on
// Proxmox VE nodes for containers running Docker. It performs no I/O
// itself: another package runs the commands.
package apparmor

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"io/fs"
	"strconv"
)

// Directories on a Proxmox VE node.
const (
	// lxcProfilesDir holds the LXC container profiles: every file in it is
	// loaded through ContainersPolicyPath.
	lxcProfilesDir = "/etc/apparmor.d/lxc/"
	// localIncludesDir is where "include if exists <local/NAME>" resolves,
	// relative to the parser's base directory /etc/apparmor.d.
	localIncludesDir = "/etc/apparmor.d/local/"
	// ContainersPolicyPath is the file that includes the tunables and all
	// LXC profiles; loading it (re)loads every profile of lxcProfilesDir.
	ContainersPolicyPath = "/etc/apparmor.d/lxc-containers"
)

// FileMode is the permission of the installed files.
const FileMode fs.FileMode = 0o644

var (
	//go:embed profiles/lxc-docker-secure
	dockerSecureProfile []byte

	//go:embed profiles/local/lxc-docker-secure
	dockerSecureLocal []byte
)

// File is one file to install on a node.
type File struct {
	// Path is the absolute path on the node.
	Path string
	// Mode is the file's permission bits.
	Mode fs.FileMode
	// Content is the exact file content.
	Content []byte
	// MinParserMajor is the lowest apparmor_parser major version that
	// accepts the file; on older nodes the file is not installed. Zero means
	// every version.
	MinParserMajor int
}

// Profile is an AppArmor profile for LXC containers, as data: its name and
// the files that make it up on a node. It is a value: it performs no I/O,
// and its install commands are run by another package. Its files are shared
// by every copy of the value and must not be modified.
type Profile struct {
	// Name is the profile's name, as in "lxc.apparmor.profile: NAME".
	Name string
	// Files are the files to install, in order, the profile itself first.
	Files []File
}

// DockerSecure is lxc-docker-secure, the hardened profile under which a
// container runs Docker without being unconfined. Its first file is the
// profile; the second holds the AppArmor 4 rules (userns, mqueue) that the
// profile includes with "include if exists <local/lxc-docker-secure>", and
// is installed only where apparmor_parser is version 4 or later.
var DockerSecure = lxcProfile("lxc-docker-secure", dockerSecureProfile, dockerSecureLocal)

// lxcProfile is the LXC profile name installed as lxcProfilesDir/name, with
// AppArmor 4 additions local installed as localIncludesDir/name.
func lxcProfile(name string, profile, local []byte) Profile {
	return Profile{Name: name, Files: []File{
		{Path: lxcProfilesDir + name, Mode: FileMode, Content: profile},
		{Path: localIncludesDir + name, Mode: FileMode, Content: local, MinParserMajor: 4},
	}}
}

// SHA256 returns the hex SHA-256 that versions the profile: it covers the
// path and content of every file, so a change to any of them changes it. For
// DockerSecure it is the value of docker.apparmor_profile_sha256.
func (p Profile) SHA256() string {
	return hashFiles(p.Files)
}

// hashFiles hashes each file's path, length and content in order. The
// length prefix keeps the encoding unambiguous: bytes moved from one file to
// the next change the hash.
func hashFiles(files []File) string {
	h := sha256.New()
	for _, f := range files {
		h.Write([]byte(f.Path))
		h.Write([]byte{0})
		h.Write([]byte(strconv.Itoa(len(f.Content))))
		h.Write([]byte{0})
		h.Write(f.Content)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// contentSHA256 is the plain hex SHA-256 of b, as sha256sum prints it.
func contentSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
