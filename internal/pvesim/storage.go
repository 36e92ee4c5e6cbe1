package pvesim

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// storageDef is one storage of the simulated storage.cfg; every node has
// each of them.
type storageDef struct {
	id      string
	typ     string
	content []string
	shared  bool
	total   int64
	path    string
}

var storages = []storageDef{
	{id: "local", typ: "dir", content: []string{"backup", "iso", "vztmpl"}, total: 100 << 30, path: "/var/lib/vz"},
	{id: "local-lvm", typ: "lvmthin", content: []string{"images", "rootdir"}, total: 500 << 30},
}

func storageByID(id string) (storageDef, bool) {
	for _, s := range storages {
		if s.id == id {
			return s, true
		}
	}
	return storageDef{}, false
}

func (d storageDef) has(content string) bool { return slices.Contains(d.content, content) }

// storageConfig is PVE::Storage::storage_config's check.
func storageConfig(id string) (storageDef, error) {
	d, ok := storageByID(id)
	if !ok {
		return d, errf("storage '%s' does not exist", id)
	}
	return d, nil
}

// osTemplate is a container template in local:vztmpl.
type osTemplate struct {
	name    string
	distro  string // ostype PVE detects
	version string
	size    int64
	ctime   int64
}

// DefaultTemplates are the templates every node's local storage offers.
var DefaultTemplates = []string{
	"alpine-3.22-default_20250617_amd64.tar.xz",
	"debian-12-standard_12.7-1_amd64.tar.zst",
	"debian-13-standard_13.1-2_amd64.tar.zst",
	"ubuntu-22.04-standard_22.04-1_amd64.tar.zst",
	"ubuntu-24.04-standard_24.04-2_amd64.tar.zst",
}

func templateInfo(name string) osTemplate {
	t := osTemplate{name: name, distro: "unmanaged", size: 120<<20 + int64(len(name))*4099, ctime: 1735689600}
	base := strings.SplitN(name, "_", 2)[0]
	parts := strings.SplitN(base, "-", 3)
	if len(parts) >= 2 {
		switch parts[0] {
		case "debian", "ubuntu", "alpine", "centos", "fedora", "archlinux", "devuan", "opensuse", "gentoo", "nixos":
			t.distro = parts[0]
			t.version = parts[1]
		}
	}
	return t
}

// templateFormat is the format PVE reports for a template archive.
func templateFormat(name string) string {
	switch {
	case strings.HasSuffix(name, ".tar.zst"):
		return "tzst"
	case strings.HasSuffix(name, ".tar.xz"):
		return "txz"
	case strings.HasSuffix(name, ".tar.gz"), strings.HasSuffix(name, ".tgz"):
		return "tgz"
	case strings.HasSuffix(name, ".tar.bz2"):
		return "tbz2"
	}
	return "tar"
}

func (s *server) templates() []osTemplate {
	names := slices.Clone(DefaultTemplates)
	for _, n := range s.opts.Templates {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	out := make([]osTemplate, 0, len(names))
	for _, n := range names {
		out = append(out, templateInfo(n))
	}
	return out
}

func (s *server) findTemplate(name string) (osTemplate, bool) {
	for _, t := range s.templates() {
		if t.name == name {
			return t, true
		}
	}
	return osTemplate{}, false
}

// osRelease returns /etc/os-release for a template's distribution.
func osRelease(t osTemplate) string {
	switch t.distro {
	case "debian":
		code := map[string]string{"11": "bullseye", "12": "bookworm", "13": "trixie"}[t.version]
		return fmt.Sprintf("PRETTY_NAME=\"Debian GNU/Linux %s (%s)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"%s\"\nVERSION=\"%s (%s)\"\nVERSION_CODENAME=%s\nID=debian\nHOME_URL=\"https://www.debian.org/\"\n", t.version, code, t.version, t.version, code, code)
	case "ubuntu":
		code := map[string]string{"20.04": "focal", "22.04": "jammy", "24.04": "noble"}[t.version]
		return fmt.Sprintf("PRETTY_NAME=\"Ubuntu %s LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"%s\"\nVERSION=\"%s LTS\"\nVERSION_CODENAME=%s\nID=ubuntu\nID_LIKE=debian\nUBUNTU_CODENAME=%s\n", t.version, t.version, t.version, code, code)
	case "alpine":
		return fmt.Sprintf("NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=%s.0\nPRETTY_NAME=\"Alpine Linux v%s\"\n", t.version, t.version)
	}
	return fmt.Sprintf("NAME=%q\nID=%s\nVERSION_ID=%q\n", t.distro, t.distro, t.version)
}

// populateRootfs lays out a freshly created container filesystem: the
// directories a distribution ships and the files PVE's setup writes.
func populateRootfs(dir string, t osTemplate, hostname, sshKeys string) error {
	for _, d := range []string{"etc", "var/lib", "var/log", "var/cache", "run", "tmp", "root", "home", "usr/bin", "usr/sbin", "usr/lib", "opt", "srv", "mnt", "dev", "proc", "sys"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(dir, "tmp"), 0o1777); err != nil {
		return err
	}
	if err := os.Chmod(filepath.Join(dir, "root"), 0o700); err != nil {
		return err
	}
	files := map[string]string{
		"etc/os-release": osRelease(t),
		"etc/hostname":   hostname + "\n",
		"etc/hosts":      "127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t" + hostname + "\n",
	}
	if t.distro == "debian" {
		files["etc/debian_version"] = map[string]string{"11": "11.11", "12": "12.7", "13": "13.1"}[t.version] + "\n"
	}
	if sshKeys != "" {
		if err := os.MkdirAll(filepath.Join(dir, "root/.ssh"), 0o700); err != nil {
			return err
		}
		files["root/.ssh/authorized_keys"] = strings.TrimRight(sshKeys, "\n") + "\n"
	}
	for name, content := range files {
		mode := os.FileMode(0o644)
		if strings.HasPrefix(name, "root/") {
			mode = 0o600
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), mode); err != nil {
			return err
		}
	}
	return nil
}

// volumeUsage sums the sizes of the volumes referenced by the configs on a
// node, per storage.
func (s *server) volumeUsage(node string) map[string]int64 {
	out := map[string]int64{}
	for _, v := range s.nodeVolumes(node) {
		out[v.storage] += v.size
	}
	return out
}

// volumeRef is a volume found in a config on a node.
type volumeRef struct {
	volid   string
	storage string
	vmid    int
	size    int64
	key     string
}

// nodeVolumes lists the volumes referenced by the main sections of the
// configs on node.
func (s *server) nodeVolumes(node string) []volumeRef {
	var out []volumeRef
	seen := map[string]bool{}
	for _, id := range s.store.list(node) {
		c, err := s.store.load(node, id)
		if err != nil {
			continue
		}
		for _, key := range c.main().Keys() {
			if key != "rootfs" && !reMP.MatchString(key) && !reUnused.MatchString(key) {
				continue
			}
			props := splitProps(c.get(key), "volume")
			vol := props["volume"]
			sid, _, ok := strings.Cut(vol, ":")
			if !ok || strings.HasPrefix(vol, "/") || seen[vol] {
				continue
			}
			seen[vol] = true
			out = append(out, volumeRef{volid: vol, storage: sid, vmid: id, size: volumeSize(props), key: key})
		}
	}
	return out
}

func (s *server) storageEntry(d storageDef, used int64) map[string]any {
	return map[string]any{
		"storage":       d.id,
		"type":          d.typ,
		"content":       strings.Join(d.content, ","),
		"active":        1,
		"enabled":       1,
		"shared":        boolInt(d.shared),
		"total":         d.total,
		"used":          used,
		"avail":         d.total - used,
		"used_fraction": float64(used) / float64(d.total),
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// handleStorageList serves GET /nodes/{node}/storage.
func (s *server) handleStorageList(r *request) (any, error) {
	usage := s.volumeUsage(r.node)
	out := []map[string]any{}
	var wantContent []string
	if c := r.params["content"]; c != "" {
		wantContent = strings.Split(c, ",")
	}
	for _, d := range storages {
		if id := r.params["storage"]; id != "" && id != d.id {
			continue
		}
		if !s.has(r.user, "/storage/"+d.id, "Datastore.Audit") && !s.has(r.user, "/storage/"+d.id, "Datastore.AllocateSpace") {
			continue
		}
		ok := true
		for _, c := range wantContent {
			if !d.has(c) {
				ok = false
			}
		}
		if !ok {
			continue
		}
		out = append(out, s.storageEntry(d, usage[d.id]))
	}
	return out, nil
}

// handleStorageStatus serves GET /nodes/{node}/storage/{storage}/status.
func (s *server) handleStorageStatus(r *request) (any, error) {
	d, err := storageConfig(r.params["storage"])
	if err != nil {
		return nil, err
	}
	e := s.storageEntry(d, s.volumeUsage(r.node)[d.id])
	delete(e, "storage")
	delete(e, "used_fraction")
	return e, nil
}

// handleStorageIndex serves GET /nodes/{node}/storage/{storage}.
func (s *server) handleStorageIndex(r *request) (any, error) {
	if _, err := storageConfig(r.params["storage"]); err != nil {
		return nil, err
	}
	var out []map[string]string
	for _, d := range []string{"content", "download-url", "file-restore", "import-metadata", "prunebackups", "rrd", "rrddata", "status", "upload"} {
		out = append(out, map[string]string{"subdir": d})
	}
	return out, nil
}

// handleStorageContent serves GET /nodes/{node}/storage/{storage}/content.
func (s *server) handleStorageContent(r *request) (any, error) {
	d, err := storageConfig(r.params["storage"])
	if err != nil {
		return nil, err
	}
	want := r.params["content"]
	out := []map[string]any{}
	if d.has("vztmpl") && (want == "" || want == "vztmpl") {
		for _, t := range s.templates() {
			out = append(out, map[string]any{
				"volid":   d.id + ":vztmpl/" + t.name,
				"content": "vztmpl",
				"format":  templateFormat(t.name),
				"size":    t.size,
				"ctime":   t.ctime,
			})
		}
	}
	if d.has("rootdir") && (want == "" || want == "rootdir" || want == "images") {
		for _, v := range s.nodeVolumes(r.node) {
			if v.storage != d.id {
				continue
			}
			e := map[string]any{
				"volid":   v.volid,
				"content": "rootdir",
				"format":  "raw",
				"size":    v.size,
				"vmid":    v.vmid,
				"ctime":   time.Now().Unix(),
			}
			_, name, _ := strings.Cut(v.volid, ":")
			if base, _, ok := strings.Cut(name, "/"); ok {
				e["parent"] = base + "@__base__"
			}
			out = append(out, e)
		}
	}
	return out, nil
}
