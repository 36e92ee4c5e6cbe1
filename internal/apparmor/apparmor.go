// Package apparmor holds the lxc-docker-secure AppArmor profile that the
// provider installs on Proxmox VE nodes for containers running Docker, the
// hash that versions it, and the node-side commands that install and load
// it. It performs no I/O itself: another package runs the commands.
package apparmor

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"io/fs"
	"strconv"
)

// ProfileName is the name of the profile, as used in
// "lxc.apparmor.profile: lxc-docker-secure".
const ProfileName = "lxc-docker-secure"

// Paths on a Proxmox VE node.
const (
	// ProfilePath is where the profile is installed. Every file in
	// /etc/apparmor.d/lxc/ is loaded through ContainersPolicyPath.
	ProfilePath = "/etc/apparmor.d/lxc/" + ProfileName
	// LocalIncludePath is where "include if exists <local/lxc-docker-secure>"
	// resolves, relative to the parser's base directory /etc/apparmor.d.
	LocalIncludePath = "/etc/apparmor.d/local/" + ProfileName
	// ContainersPolicyPath is the file that includes the tunables and all
	// LXC profiles; loading it (re)loads lxc-docker-secure.
	ContainersPolicyPath = "/etc/apparmor.d/lxc-containers"
)

// FileMode is the permission of both installed files.
const FileMode fs.FileMode = 0o644

var (
	//go:embed profiles/lxc-docker-secure
	profile []byte

	//go:embed profiles/local/lxc-docker-secure
	localInclude []byte
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

// Profile returns the profile text (a copy).
func Profile() []byte {
	return clone(profile)
}

// LocalInclude returns the AppArmor 4 additions that the profile includes
// with "include if exists <local/lxc-docker-secure>" (a copy).
func LocalInclude() []byte {
	return clone(localInclude)
}

// Files returns the files to install, profile first.
func Files() []File {
	return []File{
		{Path: ProfilePath, Mode: FileMode, Content: Profile()},
		{Path: LocalIncludePath, Mode: FileMode, Content: LocalInclude(), MinParserMajor: 4},
	}
}

// SHA256 returns the hex SHA-256 that versions the shipped profile: it covers
// the path and content of both files, so a change to either changes it. It is
// the value of docker.apparmor_profile_sha256.
func SHA256() string {
	return hashFiles(Files())
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

func clone(b []byte) []byte {
	return append([]byte(nil), b...)
}
