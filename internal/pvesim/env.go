package pvesim

import (
	"slices"
	"strings"

	"github.com/phoenix-hypervisor/terraform-provider-phoenix/internal/lxcconf"
)

// The env option is not a "key: value" line of the config file: pve-container's
// write_pct_config writes one "lxc.environment.runtime: NAME=value" line per
// entry of its NUL-separated list (before the other raw lxc lines), and
// parse_pct_config joins those lines back into env with NUL bytes, so the
// API shows them as env and never among the raw lxc lines. These helpers
// read and write an option of a section with that rule.

const (
	envKey    = "env"
	envLXCKey = "lxc.environment.runtime"
)

// sectionEnv returns a section's env option as parse_pct_config builds it.
func sectionEnv(sec *lxcconf.Section) (string, bool) {
	var parts []string
	for _, kv := range sec.LXC() {
		if kv.Key == envLXCKey {
			parts = append(parts, kv.Value)
		}
	}
	return strings.Join(parts, "\x00"), len(parts) > 0
}

// envEntries splits an env value as write_pct_config does (on runs of NUL
// bytes), each entry as the config parser reads its line back (trailing
// blanks trimmed).
func envEntries(v string) []string {
	var out []string
	for _, e := range strings.Split(v, "\x00") {
		if e = strings.TrimRight(e, " \t"); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// setSectionEnv replaces a section's env lines; "" removes them.
func setSectionEnv(sec *lxcconf.Section, v string) {
	var others []lxcconf.KV
	for _, kv := range sec.LXC() {
		if kv.Key != envLXCKey {
			others = append(others, kv)
		}
	}
	for _, kv := range others {
		sec.DeleteLXC(kv.Key)
	}
	sec.DeleteLXC(envLXCKey)
	for _, e := range envEntries(v) {
		sec.AddLXC(envLXCKey, e)
	}
	for _, kv := range others {
		sec.AddLXC(kv.Key, kv.Value)
	}
}

// getOption returns an option of a section, env included.
func getOption(sec *lxcconf.Section, k string) (string, bool) {
	if k == envKey {
		return sectionEnv(sec)
	}
	return sec.Get(k)
}

// deleteOption removes an option from a section, env included.
func deleteSectionOption(sec *lxcconf.Section, k string) {
	if k == envKey {
		setSectionEnv(sec, "")
		return
	}
	sec.Delete(k)
}

// optionKeys lists a section's options in file order, env (when set) last.
func optionKeys(sec *lxcconf.Section) []string {
	keys := sec.Keys()
	if _, ok := sectionEnv(sec); ok && !slices.Contains(keys, envKey) {
		keys = append(keys, envKey)
	}
	return keys
}

// rawLXC returns a section's raw lxc lines as the API lists them: without
// the env lines.
func rawLXC(sec *lxcconf.Section) []lxcconf.KV {
	var out []lxcconf.KV
	for _, kv := range sec.LXC() {
		if kv.Key != envLXCKey {
			out = append(out, kv)
		}
	}
	return out
}
