package apparmor

import (
	"bytes"
	"regexp"
	"testing"
)

func TestSHA256(t *testing.T) {
	got := SHA256()
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(got) {
		t.Fatalf("SHA256() = %q, want 64 hex digits", got)
	}
	if again := SHA256(); again != got {
		t.Fatalf("SHA256() is not stable: %s then %s", got, again)
	}
	if want := hashFiles(Files()); got != want {
		t.Fatalf("SHA256() = %s, hashFiles(Files()) = %s", got, want)
	}
	if contentSHA256(Profile()) == got {
		t.Fatal("SHA256() ignores the local include")
	}
}

func TestHashFiles(t *testing.T) {
	base := []File{
		{Path: "/a", Content: []byte("profile one\n")},
		{Path: "/b", Content: []byte("userns,\n")},
	}
	ref := hashFiles(base)
	if hashFiles(base) != ref {
		t.Fatal("hashFiles is not stable")
	}

	variants := map[string][]File{
		"first content": {
			{Path: "/a", Content: []byte("profile onE\n")},
			{Path: "/b", Content: []byte("userns,\n")},
		},
		"second content": {
			{Path: "/a", Content: []byte("profile one\n")},
			{Path: "/b", Content: []byte("userns,\nmqueue,\n")},
		},
		"path": {
			{Path: "/c", Content: []byte("profile one\n")},
			{Path: "/b", Content: []byte("userns,\n")},
		},
		"bytes moved between files": {
			{Path: "/a", Content: []byte("profile one\nu")},
			{Path: "/b", Content: []byte("serns,\n")},
		},
		"order": {
			{Path: "/b", Content: []byte("userns,\n")},
			{Path: "/a", Content: []byte("profile one\n")},
		},
		"one file": {
			{Path: "/a", Content: []byte("profile one\n")},
		},
	}
	for name, files := range variants {
		if hashFiles(files) == ref {
			t.Errorf("changing the %s does not change the hash", name)
		}
	}
}

func TestAccessorsReturnCopies(t *testing.T) {
	p := Profile()
	p[0] ^= 0xff
	if bytes.Equal(p, Profile()) {
		t.Fatal("Profile() returns the embedded slice")
	}
	l := LocalInclude()
	l[0] ^= 0xff
	if bytes.Equal(l, LocalInclude()) {
		t.Fatal("LocalInclude() returns the embedded slice")
	}
}

func TestFiles(t *testing.T) {
	files := Files()
	if len(files) != 2 {
		t.Fatalf("Files() has %d entries, want 2", len(files))
	}
	if files[0].Path != "/etc/apparmor.d/lxc/lxc-docker-secure" || files[0].MinParserMajor != 0 ||
		!bytes.Equal(files[0].Content, Profile()) || files[0].Mode != 0o644 {
		t.Errorf("profile file = %+v", files[0])
	}
	if files[1].Path != "/etc/apparmor.d/local/lxc-docker-secure" || files[1].MinParserMajor != 4 ||
		!bytes.Equal(files[1].Content, LocalInclude()) || files[1].Mode != 0o644 {
		t.Errorf("local include file = %+v", files[1])
	}
	if !bytes.Contains(LocalInclude(), []byte("\n  userns,\n")) || !bytes.Contains(LocalInclude(), []byte("\n  mqueue,\n")) {
		t.Errorf("the local include lacks the userns and mqueue rules:\n%s", LocalInclude())
	}
	if m := regexp.MustCompile(`(?m)^\s*(allow\s+|audit\s+)*(userns|mqueue)\b.*$`).Find(Profile()); m != nil {
		t.Errorf("AppArmor 4 rule in the profile itself breaks AppArmor 3 nodes: %q", m)
	}
}
