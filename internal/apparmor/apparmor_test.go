package apparmor

import (
	"bytes"
	"regexp"
	"testing"
)

// dockerSecureSHA256 is the hash of DockerSecure: containers' state holds it
// (docker.apparmor_profile_sha256) and a change makes every docker block
// reinstall. Change it only together with the profile, and say so in the
// changelog.
const dockerSecureSHA256 = "81b0bf01322add24b6ffd49e9b3a21de6562b082df76b4af75f14313144972da"

// profileText and localInclude are the two files of DockerSecure.
func profileText() []byte  { return DockerSecure.Files[0].Content }
func localInclude() []byte { return DockerSecure.Files[1].Content }

func TestSHA256(t *testing.T) {
	got := DockerSecure.SHA256()
	if got != dockerSecureSHA256 {
		t.Fatalf("DockerSecure.SHA256() = %s, want %s: the profile's files changed", got, dockerSecureSHA256)
	}
	if again := DockerSecure.SHA256(); again != got {
		t.Fatalf("SHA256() is not stable: %s then %s", got, again)
	}
	if want := hashFiles(DockerSecure.Files); got != want {
		t.Fatalf("SHA256() = %s, hashFiles(Files) = %s", got, want)
	}
	if contentSHA256(profileText()) == got {
		t.Fatal("SHA256() ignores the local include")
	}
	renamed := lxcProfile("other", profileText(), localInclude())
	if renamed.SHA256() == got {
		t.Fatal("SHA256() ignores the paths, which follow the name")
	}
}

// filesOf makes files from path, content pairs.
func filesOf(pathContent ...string) []File {
	var files []File
	for i := 0; i+1 < len(pathContent); i += 2 {
		files = append(files, File{Path: pathContent[i], Content: []byte(pathContent[i+1])})
	}
	return files
}

func TestHashFiles(t *testing.T) {
	base := filesOf("/a", "profile one\n", "/b", "userns,\n")
	ref := hashFiles(base)
	if hashFiles(base) != ref {
		t.Fatal("hashFiles is not stable")
	}

	variants := map[string][]File{
		"first content":             filesOf("/a", "profile onE\n", "/b", "userns,\n"),
		"second content":            filesOf("/a", "profile one\n", "/b", "userns,\nmqueue,\n"),
		"path":                      filesOf("/c", "profile one\n", "/b", "userns,\n"),
		"bytes moved between files": filesOf("/a", "profile one\nu", "/b", "serns,\n"),
		"order":                     filesOf("/b", "userns,\n", "/a", "profile one\n"),
		"one file":                  filesOf("/a", "profile one\n"),
	}
	for name, files := range variants {
		if hashFiles(files) == ref {
			t.Errorf("changing the %s does not change the hash", name)
		}
	}
}

func TestFiles(t *testing.T) {
	if DockerSecure.Name != "lxc-docker-secure" {
		t.Errorf("DockerSecure.Name = %q", DockerSecure.Name)
	}
	files := DockerSecure.Files
	if len(files) != 2 {
		t.Fatalf("DockerSecure has %d files, want 2", len(files))
	}
	if files[0].Path != "/etc/apparmor.d/lxc/lxc-docker-secure" || files[0].MinParserMajor != 0 ||
		!bytes.Equal(files[0].Content, profileText()) || files[0].Mode != 0o644 {
		t.Errorf("profile file = %+v", files[0])
	}
	if files[1].Path != "/etc/apparmor.d/local/lxc-docker-secure" || files[1].MinParserMajor != 4 ||
		!bytes.Equal(files[1].Content, localInclude()) || files[1].Mode != 0o644 {
		t.Errorf("local include file = %+v", files[1])
	}
	if !bytes.Contains(localInclude(), []byte("\n  userns,\n")) || !bytes.Contains(localInclude(), []byte("\n  mqueue,\n")) {
		t.Errorf("the local include lacks the userns and mqueue rules:\n%s", localInclude())
	}
	if m := regexp.MustCompile(`(?m)^\s*(allow\s+|audit\s+)*(userns|mqueue)\b.*$`).Find(profileText()); m != nil {
		t.Errorf("AppArmor 4 rule in the profile itself breaks AppArmor 3 nodes: %q", m)
	}
}
