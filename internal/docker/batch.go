package docker

import (
	_ "embed"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CheckBatchScriptName is the node-side script that runs the check in
// several containers of one node.
const CheckBatchScriptName = "check_docker_batch.sh"

//go:embed scripts/check_docker_batch.sh
var checkBatchScript []byte

// CheckBatchParallel is how many checks of one batch run at once on the
// node: each is a pct exec, a process of its own.
const CheckBatchParallel = 16

// CheckBatchTimeoutSeconds bounds each container's check within a batch,
// as the single check is bounded: a wedged container fails alone.
const CheckBatchTimeoutSeconds = 60

// CheckOutputMax is the most output (both streams) a check may print,
// alone or within a batch (the script's OUTPUT_MAX): a sound check prints
// two lines.
const CheckOutputMax = 64 << 10

// CheckCandidateTimeoutSeconds bounds the check of a further container
// (+VMID) within a batch: the script's CANDIDATE_TIMEOUT.
const CheckCandidateTimeoutSeconds = 15

// checkSlackSeconds is what the script adds to a check's bound at most:
// the kill of a check that outlives it (5 s), and of the output's reader
// (10 s more).
const checkSlackSeconds = 15

// CheckSweepDeadline bounds a CheckSweep run of asked containers and
// candidates on the node, from the script's own bounds: its rounds of
// CheckBatchParallel checks, the asked ones' and the candidates' each
// counted with their own bound, and 30 s for the command itself.
func CheckSweepDeadline(asked, candidates int) time.Duration {
	rounds := func(n int) int { return (n + CheckBatchParallel - 1) / CheckBatchParallel }
	s := rounds(asked)*(CheckBatchTimeoutSeconds+checkSlackSeconds) +
		rounds(candidates)*(CheckCandidateTimeoutSeconds+checkSlackSeconds) + 30
	return time.Duration(s) * time.Second
}

// CheckSweep is the command line (to run on the node, not in a container)
// that checks each container of vmids, and its standard input: bash -c with
// check_docker_batch.sh, then the nonce, the parallel count, the timeout and
// the vmids as words; the check script on stdin. nonce must be at least 32
// lower-case hex digits, picked at random for each batch. It also checks
// each container of candidates (written +VMID) whose configuration on the
// node runs it under the AppArmor profile profile and holds no lock (the
// Docker containers the node has besides those asked); the others of
// candidates get no section. Its output is read with ParseCheckSweep.
func CheckSweep(nonce string, vmids []int, profile string, candidates []int) (argv []string, stdin []byte, err error) {
	if !ValidBatchNonce(nonce) {
		return nil, nil, fmt.Errorf("%s: the delimiter must be 32 or more lower-case hex digits", CheckBatchScriptName)
	}
	argv = []string{"bash", "-c", string(checkBatchScript), CheckBatchScriptName}
	if len(candidates) > 0 {
		if !validProfileName(profile) {
			return nil, nil, fmt.Errorf("%s: bad AppArmor profile name %q", CheckBatchScriptName, profile)
		}
		argv = append(argv, "-p", profile)
	}
	argv = append(argv, nonce, strconv.Itoa(CheckBatchParallel), strconv.Itoa(CheckBatchTimeoutSeconds))
	for _, v := range vmids {
		argv = append(argv, strconv.Itoa(v))
	}
	for _, v := range candidates {
		argv = append(argv, "+"+strconv.Itoa(v))
	}
	return argv, CheckScript(), nil
}

// validProfileName reports whether name is a profile name the batch script
// takes: a letter or digit, then up to 63 letters, digits, dots, dashes or
// underscores.
func validProfileName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for i, c := range []byte(name) {
		alnum := c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return false
		}
	}
	return true
}

// BatchSection is one container's part of a batch's output.
type BatchSection struct {
	// Output is what the check printed (both streams).
	Output string
	// ExitCode is the exit status of its pct exec.
	ExitCode int
	// Err says why the section cannot be trusted (missing, cut short,
	// or out of order); Output and ExitCode are then meaningless.
	Err error
}

// ParseCheckSweep splits the output of a CheckSweep run into one section
// per container of vmids. Only lines that start with the nonce delimit
// sections, so a container cannot end its own section or forge another's
// without knowing the nonce. Every asked container gets an entry; one whose
// section is missing, unterminated or malformed gets an Err, and the others
// keep theirs. Lines outside any section (a node's login noise) are
// ignored. The containers of candidates that have a sound section get it
// too; one without a section (not a Docker container, or the output cut
// short) or with a broken one gets no entry.
func ParseCheckSweep(out, nonce string, vmids, candidates []int) map[int]BatchSection {
	p := NewSweepParser(nonce, vmids, candidates)
	for _, l := range strings.Split(out, "\n") {
		p.Line(l)
	}
	return p.Sections()
}

// SweepParser reads the output of a CheckSweep run one line at a time, by
// the rules of ParseCheckSweep, so that each section can be used as soon as
// it ends: the cost of each line is its own length.
type SweepParser struct {
	prefix            string
	vmids, candidates []int
	// place is where each container's section may stand: the script
	// prints them in the order given, the asked ones first.
	place map[int]int
	last  int // the place of the last section begun
	cur   int // the vmid of the open section, -1 when none
	body  []string
	res   map[int]BatchSection
}

// NewSweepParser starts reading the output of a CheckSweep run of nonce
// for vmids and candidates.
func NewSweepParser(nonce string, vmids, candidates []int) *SweepParser {
	p := &SweepParser{
		vmids: vmids, candidates: candidates,
		place: make(map[int]int, len(vmids)+len(candidates)),
		last:  -1, cur: -1,
		res: make(map[int]BatchSection, len(vmids)+len(candidates)),
	}
	if nonce != "" {
		p.prefix = nonce + " "
	}
	for i, v := range slices.Concat(vmids, candidates) {
		if _, ok := p.place[v]; !ok {
			p.place[v] = i
		}
	}
	return p
}

// broken marks vmid's section as one that cannot be trusted.
func (p *SweepParser) broken(vmid int, format string, args ...any) {
	markBroken(p.res, vmid, format, args...)
}

// markBroken gives vmid's section in res an error, keeping the first one.
func markBroken(res map[int]BatchSection, vmid int, format string, args ...any) {
	if s, done := res[vmid]; !done || s.Err == nil {
		res[vmid] = BatchSection{ExitCode: -1, Err: fmt.Errorf(format, args...)}
	}
}

// Line takes the next line of the output (without its newline; a carriage
// return before it is dropped). When the line ends a container's section
// soundly, it returns that container and true; its section is then
// Section's. A later line can still break it (a second section of the same
// container), which only a writer knowing the nonce can print.
func (p *SweepParser) Line(l string) (vmid int, ended bool) {
	l = strings.TrimSuffix(l, "\r")
	if p.prefix == "" || !strings.HasPrefix(l, p.prefix) {
		if p.cur >= 0 {
			p.body = append(p.body, l)
		}
		return 0, false
	}
	f := strings.Fields(strings.TrimPrefix(l, p.prefix))
	var err error
	if len(f) >= 2 {
		vmid, err = strconv.Atoi(f[1])
	}
	_, known := p.place[vmid]
	switch {
	case len(f) < 2 || err != nil || !known:
		if p.cur >= 0 {
			p.broken(p.cur, "%s: malformed delimiter in the section of container %d", CheckBatchScriptName, p.cur)
			p.cur = -1
		}
	case f[0] == "begin" && len(f) == 2:
		if p.cur >= 0 {
			p.broken(p.cur, "%s: the section of container %d has no end", CheckBatchScriptName, p.cur)
		}
		p.cur = -1
		if _, seen := p.res[vmid]; seen {
			p.broken(vmid, "%s: container %d has two sections", CheckBatchScriptName, vmid)
			return 0, false
		}
		if p.place[vmid] <= p.last {
			p.broken(vmid, "%s: the section of container %d is out of order", CheckBatchScriptName, vmid)
			return 0, false
		}
		p.last = p.place[vmid]
		p.cur, p.body = vmid, nil
	case f[0] == "end" && len(f) == 3 && vmid == p.cur:
		p.cur = -1
		code, err := strconv.Atoi(f[2])
		if err != nil || code < 0 {
			p.broken(vmid, "%s: bad exit status %q for container %d", CheckBatchScriptName, f[2], vmid)
			return 0, false
		}
		p.res[vmid] = BatchSection{Output: strings.Join(p.body, "\n") + lineEnd(p.body), ExitCode: code}
		p.body = nil
		return vmid, true
	default:
		if p.cur >= 0 {
			p.broken(p.cur, "%s: unexpected delimiter in the section of container %d", CheckBatchScriptName, p.cur)
			p.cur = -1
		}
	}
	return 0, false
}

// Section is vmid's section as read so far, and whether it has one.
func (p *SweepParser) Section(vmid int) (BatchSection, bool) {
	s, ok := p.res[vmid]
	return s, ok
}

// Sections is what the output read so far gives, as if it ended there:
// every asked container gets an entry (an Err when its section is missing,
// unterminated or malformed), a candidate only a sound one.
func (p *SweepParser) Sections() map[int]BatchSection {
	res := maps.Clone(p.res)
	if p.cur >= 0 {
		markBroken(res, p.cur, "%s: the section of container %d has no end (output cut short)", CheckBatchScriptName, p.cur)
	}
	for _, v := range p.vmids {
		if _, ok := res[v]; !ok {
			res[v] = BatchSection{ExitCode: -1, Err: fmt.Errorf("%s printed no section for container %d", CheckBatchScriptName, v)}
		}
	}
	for _, v := range p.candidates {
		if s, ok := res[v]; ok && s.Err != nil && !slices.Contains(p.vmids, v) {
			delete(res, v)
		}
	}
	return res
}

func lineEnd(body []string) string {
	if len(body) == 0 {
		return ""
	}
	return "\n"
}

// ValidBatchNonce reports whether s can delimit a batch: 32 or more
// lower-case hex digits.
func ValidBatchNonce(s string) bool {
	return len(s) >= 32 && !slices.ContainsFunc([]byte(s), func(c byte) bool {
		return (c < '0' || c > '9') && (c < 'a' || c > 'f')
	})
}
