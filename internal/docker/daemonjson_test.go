package docker

import (
	"strings"
	"testing"
)

func TestMergeDaemonJSON(t *testing.T) {
	tests := []struct {
		name, user, driver, want string
	}{
		{"empty", "", "overlay2", `{"storage-driver":"overlay2"}`},
		{"blank", " \n\t", "fuse-overlayfs", `{"storage-driver":"fuse-overlayfs"}`},
		{"empty object", "{}", "overlay2", `{"storage-driver":"overlay2"}`},
		{"keys sorted, whitespace dropped", "{\n  \"log-opts\": {\"max-size\": \"10m\", \"max-file\": \"3\"},\n  \"log-driver\": \"json-file\"\n}", "overlay2",
			`{"log-driver":"json-file","log-opts":{"max-file":"3","max-size":"10m"},"storage-driver":"overlay2"}`},
		{"same driver accepted", `{"storage-driver":"fuse-overlayfs","debug":false}`, "fuse-overlayfs",
			`{"debug":false,"storage-driver":"fuse-overlayfs"}`},
		{"numbers kept as written", `{"max-concurrent-downloads":3,"shutdown-timeout":1.50,"big":12345678901234567890}`, "overlay2",
			`{"big":12345678901234567890,"max-concurrent-downloads":3,"shutdown-timeout":1.50,"storage-driver":"overlay2"}`},
		{"no HTML escaping, unicode kept", `{"labels":["a<b>&c","é"]}`, "overlay2", `{"labels":["a<b>&c","é"],"storage-driver":"overlay2"}`},
		{"newline in a string stays escaped", `{"x":"a\nb"}`, "overlay2", `{"storage-driver":"overlay2","x":"a\nb"}`},
		{"null values kept", `{"registry-mirrors":null}`, "overlay2", `{"registry-mirrors":null,"storage-driver":"overlay2"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MergeDaemonJSON(tt.user, tt.driver)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if strings.Contains(got, "\n") {
				t.Error("result spans lines")
			}
			again, err := MergeDaemonJSON(got, tt.driver)
			if err != nil || again != got {
				t.Errorf("merging the result again = %s, %v; want it unchanged", again, err)
			}
		})
	}
}

func TestMergeDaemonJSONOrderIndependent(t *testing.T) {
	a, err := MergeDaemonJSON(`{"b":1,"a":{"y":2,"x":1}}`, "overlay2")
	if err != nil {
		t.Fatal(err)
	}
	b, err := MergeDaemonJSON(`{ "a" : { "x" : 1 , "y" : 2 } , "b" : 1 }`, "overlay2")
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Errorf("%s != %s", a, b)
	}
}

func TestMergeDaemonJSONErrors(t *testing.T) {
	tests := []struct {
		name, user, driver string
		want               []string
	}{
		{"conflicting driver names both", `{"storage-driver":"overlay2"}`, "fuse-overlayfs",
			[]string{`"storage-driver" to "overlay2"`, `storage_driver "fuse-overlayfs"`}},
		{"non-string driver", `{"storage-driver":1}`, "overlay2", []string{`"storage-driver" to 1`, `storage_driver "overlay2"`}},
		{"not an object", `["storage-driver"]`, "overlay2", []string{`must be a JSON object, not ["storage-driver"]`}},
		{"a string", `"x"`, "overlay2", []string{"must be a JSON object"}},
		{"invalid", `{"a":}`, "overlay2", []string{"not valid JSON"}},
		{"truncated", `{"a":1`, "overlay2", []string{"not valid JSON"}},
		{"two objects", `{"a":1}{"b":2}`, "overlay2", []string{"unexpected data after the object"}},
		{"trailing garbage", `{"a":1} x`, "overlay2", []string{"unexpected data after the object"}},
		{"unknown driver", `{}`, "zfs", []string{`storage driver "zfs" is not one of overlay2, fuse-overlayfs`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MergeDaemonJSON(tt.user, tt.driver)
			if err == nil {
				t.Fatalf("got %s, want an error", got)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestDaemonJSONRootsStayInTheProfile: data-root (and its old name graph)
// and exec-root must stay in the trees lxc-docker-secure lets Docker mount
// in; elsewhere Docker fails at run time with AppArmor denials.
func TestDaemonJSONRootsStayInTheProfile(t *testing.T) {
	for _, tc := range []struct {
		json, wantErr string
	}{
		{`{"data-root": "/var/lib/docker"}`, ""},
		{`{"data-root": "/var/lib/docker/alt"}`, ""},
		{`{"exec-root": "/run/docker"}`, ""},
		{`{"exec-root": "/var/run/docker/x"}`, ""},
		{`{"data-root": "/srv/docker"}`, "outside /var/lib/docker"},
		{`{"graph": "/mnt/data"}`, "outside /var/lib/docker"},
		{`{"data-root": "/var/lib/docker-x"}`, "outside /var/lib/docker"},
		{`{"data-root": "/var/lib/docker/../../srv"}`, "outside /var/lib/docker"},
		{`{"data-root": "/var/lib//docker/x"}`, "plain form"},
		{`{"exec-root": "/tmp/docker"}`, "outside /run/docker and /var/run/docker"},
		{`{"data-root": "docker"}`, "absolute directory"},
		{`{"data-root": 1}`, "absolute directory"},
	} {
		_, err := MergeDaemonJSON(tc.json, "overlay2")
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.json, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: error %v, want one containing %q", tc.json, err, tc.wantErr)
		}
	}
}
