package pve

import (
	"fmt"
	"regexp"
	"strconv"
)

// MaxID is the largest user or group ID of a mapping: a 32-bit uid_t or
// gid_t, less (uid_t)-1, which the kernel's map_write refuses.
const MaxID = 1<<32 - 2

// IDMap is the value of an lxc.idmap line of a container's config file:
// Size IDs from Container in the container on Host on the node. Kind is
// "u" (users) or "g" (groups).
type IDMap struct {
	Kind                  string
	Container, Host, Size int64
}

// String is the value as the provider writes it, e.g. "u 0 100000 65536".
func (m IDMap) String() string {
	return fmt.Sprintf("%s %d %d %d", m.Kind, m.Container, m.Host, m.Size)
}

// idMapRE is the value PVE::LXC::parse_id_maps accepts: a kind letter and
// three decimal numbers separated by blanks.
var idMapRE = regexp.MustCompile(`^([ug])\s+(\d+)\s+(\d+)\s+(\d+)\s*$`)

// ParseIDMap reads an lxc.idmap value; ok is false for one PVE would not
// start the container with, or with numbers beyond 32 bits.
func ParseIDMap(v string) (m IDMap, ok bool) {
	sub := idMapRE.FindStringSubmatch(v)
	if sub == nil {
		return IDMap{}, false
	}
	var n [3]int64
	for i := range n {
		x, err := strconv.ParseInt(sub[i+2], 10, 64)
		if err != nil || x > MaxID+1 {
			return IDMap{}, false
		}
		n[i] = x
	}
	return IDMap{Kind: sub[1], Container: n[0], Host: n[1], Size: n[2]}, true
}
