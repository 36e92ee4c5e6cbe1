package docker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
)

// StorageDriverKey is the daemon.json key that selects the storage driver.
const StorageDriverKey = "storage-driver"

// MergeDaemonJSON merges the user's daemon.json with what the storage driver
// needs and returns the result normalized: compact, keys sorted at every
// level, numbers kept as written, no HTML escaping. So two inputs that differ
// only in key order or whitespace give the same string.
//
// user may be empty (an empty object). It must be one JSON object. When it
// sets "storage-driver" to anything but storageDriver, the error names both.
func MergeDaemonJSON(user string, storageDriver string) (string, error) {
	if !slices.Contains(StorageDrivers(), storageDriver) {
		return "", fmt.Errorf("storage driver %q is not one of %s", storageDriver, strings.Join(StorageDrivers(), ", "))
	}
	obj, err := decodeObject(user)
	if err != nil {
		return "", err
	}
	if v, ok := obj[StorageDriverKey]; ok {
		if s, isString := v.(string); !isString || s != storageDriver {
			return "", fmt.Errorf("daemon_json sets %q to %s, which conflicts with storage_driver %q: remove the key from daemon_json or make the two agree",
				StorageDriverKey, compact(v), storageDriver)
		}
	}
	for key, trees := range profileRoots {
		v, ok := obj[key]
		if !ok {
			continue
		}
		if err := checkRoot(key, v, trees); err != nil {
			return "", err
		}
	}
	obj[StorageDriverKey] = storageDriver
	return compact(obj), nil
}

// profileRoots are the daemon.json keys that move Docker's state, and the
// trees the lxc-docker-secure profile lets Docker mount in, which they must
// stay within: Docker mounts its images' layers, volumes and the containers'
// proc and sys below its data root, and its runtime state below its exec
// root. Outside these trees Docker fails at run time with AppArmor denials,
// so the plan refuses such a value ("graph" is data-root's old name).
var profileRoots = map[string][]string{
	"data-root": {"/var/lib/docker"},
	"graph":     {"/var/lib/docker"},
	"exec-root": {"/run/docker", "/var/run/docker"},
}

// checkRoot accepts a root directory that lies in one of trees.
func checkRoot(key string, v any, trees []string) error {
	s, ok := v.(string)
	if !ok || !strings.HasPrefix(s, "/") {
		return fmt.Errorf("daemon_json sets %q to %s: it must be an absolute directory", key, compact(v))
	}
	clean := path.Clean(s)
	for _, t := range trees {
		if clean == t || strings.HasPrefix(clean, t+"/") {
			if clean != strings.TrimRight(s, "/") {
				return fmt.Errorf("daemon_json sets %q to %q: write it in its plain form, %s", key, s, clean)
			}
			return nil
		}
	}
	return fmt.Errorf("daemon_json sets %q to %q, outside %s: the lxc-docker-secure profile lets Docker mount only "+
		"there, so Docker would fail at run time with AppArmor denials. Keep the default or a directory below it "+
		"(a mount point of the container can be mounted there)", key, s, strings.Join(trees, " and "))
}

// decodeObject parses s as exactly one JSON object; "" is an empty object.
func decodeObject(s string) (map[string]any, error) {
	if strings.TrimSpace(s) == "" {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("daemon_json is not valid JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("daemon_json is not valid JSON: unexpected data after the object")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("daemon_json must be a JSON object, not %s", compact(v))
	}
	return obj, nil
}

// compact encodes v without HTML escaping and without the trailing newline;
// encoding/json sorts map keys.
func compact(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Values decoded from JSON always encode again.
		return fmt.Sprintf("%v", v)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}
