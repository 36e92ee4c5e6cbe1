package pve

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// schemaPath is the official PVE API schema extract in the repository's
// testdata (see testdata/README.md).
var schemaPath = filepath.Join("..", "..", "testdata", "pve-api", "pve-api-lxc.json")

type apiSchema map[string]map[string]struct {
	Parameters struct {
		Properties map[string]struct {
			Format json.RawMessage `json:"format"`
		} `json:"properties"`
	} `json:"parameters"`
}

var (
	schemaOnce sync.Once
	schemaData apiSchema
	schemaErr  error
)

// loadSchema returns the schema; a missing file fails the test.
func loadSchema(t testing.TB) apiSchema {
	schemaOnce.Do(func() {
		schemaData = apiSchema{}
		for _, path := range []string{schemaPath, filepath.Join(filepath.Dir(schemaPath), "pve-api-pools-ha.json")} {
			b, err := os.ReadFile(path)
			if err != nil {
				schemaErr = err
				return
			}
			var part apiSchema
			if schemaErr = json.Unmarshal(b, &part); schemaErr != nil {
				return
			}
			maps.Copy(schemaData, part)
		}
	})
	if schemaErr != nil {
		t.Fatalf("reading %s: %v", schemaPath, schemaErr)
	}
	return schemaData
}

// schemaParams returns the parameter names the schema knows for a concrete
// request path (under /api2/json) and method; ok is false when no schema
// path matches.
func schemaParams(s apiSchema, method, path string) (map[string]bool, bool) {
	segs := strings.Split(strings.TrimPrefix(path, "/api2/json"), "/")
	for tmpl, methods := range s {
		tsegs := strings.Split(tmpl, "/")
		if len(tsegs) != len(segs) {
			continue
		}
		match := true
		for i := range tsegs {
			if !strings.HasPrefix(tsegs[i], "{") && tsegs[i] != segs[i] {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		m, ok := methods[method]
		if !ok {
			return nil, false
		}
		out := map[string]bool{}
		for k := range m.Parameters.Properties {
			out[k] = true
		}
		return out, true
	}
	return nil, false
}

// checkAgainstSchema reports parameters a request sent that the official
// schema does not know for its path and method.
func checkAgainstSchema(t testing.TB, r seenRequest, query map[string][]string) {
	s := loadSchema(t)
	if strings.HasPrefix(r.Path, "/api2/json/access/") || r.Path == "/api2/json/version" {
		return
	}
	known, ok := schemaParams(s, r.Method, r.Path)
	if !ok {
		t.Errorf("%s %s is not in the PVE API schema", r.Method, r.Path)
		return
	}
	knows := func(k string) bool {
		// Indexed keys (net0, mp1...) appear as net[n], mp[n].
		return known[k] || known[strings.TrimRight(k, "0123456789")+"[n]"]
	}
	var unknown []string
	for k := range r.Body {
		if !knows(k) {
			unknown = append(unknown, k)
		}
	}
	for k := range query {
		if !knows(k) {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	if len(unknown) > 0 {
		t.Errorf("%s %s sent parameters the PVE API schema does not know: %v", r.Method, r.Path, unknown)
	}
}

// TestPropertyKeysInSchema checks that the keys the property string types
// know are the ones PVE defines.
func TestPropertyKeysInSchema(t *testing.T) {
	s := loadSchema(t)
	props := s["/nodes/{node}/lxc/{vmid}/config"]["PUT"].Parameters.Properties
	formatKeys := func(name string) map[string]bool {
		var f map[string]json.RawMessage
		if err := json.Unmarshal(props[name].Format, &f); err != nil {
			t.Fatalf("format of %s: %v", name, err)
		}
		out := map[string]bool{}
		for k := range f {
			out[k] = true
		}
		return out
	}
	for name, keys := range map[string]map[string]bool{"net[n]": netKeys, "features": featureKeys, "rootfs": {"volume": true, "size": true}} {
		pve := formatKeys(name)
		for k := range keys {
			if !pve[k] {
				t.Errorf("%s: key %s is not in PVE's format", name, k)
			}
		}
	}
}
