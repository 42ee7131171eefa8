package check

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// capNames name the capabilities podflow cares about.
var capNames = map[int]string{
	unix.CAP_DAC_OVERRIDE:    "CAP_DAC_OVERRIDE",
	unix.CAP_DAC_READ_SEARCH: "CAP_DAC_READ_SEARCH",
	unix.CAP_NET_ADMIN:       "CAP_NET_ADMIN",
	unix.CAP_SYS_PTRACE:      "CAP_SYS_PTRACE",
	unix.CAP_SYS_ADMIN:       "CAP_SYS_ADMIN",
	unix.CAP_PERFMON:         "CAP_PERFMON",
	unix.CAP_BPF:             "CAP_BPF",
}

// capNeed is what one part of podflow needs: any one of the sets.
type capNeed struct {
	what string
	core bool // podflow cannot run without it
	sets [][]int
}

var capNeeds = []capNeed{
	{"loading BPF programs and attaching tracepoints", true, [][]int{{unix.CAP_BPF, unix.CAP_PERFMON}, {unix.CAP_SYS_ADMIN}}},
	{"attaching to interfaces and reading conntrack", true, [][]int{{unix.CAP_NET_ADMIN}}},
	{"reading other processes' fds", false, [][]int{{unix.CAP_SYS_PTRACE}}},
	{"reading other users' /proc files", false, [][]int{{unix.CAP_DAC_READ_SEARCH}, {unix.CAP_DAC_OVERRIDE}}},
}

// Capabilities compares the effective capabilities (CapEff of
// procRoot/self/status) with what each part of podflow needs.
func Capabilities(procRoot string) Result {
	r := Result{Name: "capabilities"}
	eff, err := capEff(filepath.Join(procRoot, "self", "status"))
	if err != nil {
		r.Status, r.Detail = Degraded, err.Error()
		return r
	}
	return judgeCaps(eff)
}

func judgeCaps(eff uint64) Result {
	r := Result{Name: "capabilities", Status: OK}
	has := func(c int) bool { return eff&(1<<uint(c)) != 0 }
	var held, missing []string
	for _, n := range capNeeds {
		var met []int
		for _, set := range n.sets {
			ok := true
			for _, c := range set {
				ok = ok && has(c)
			}
			if ok {
				met = set
				break
			}
		}
		if met == nil {
			missing = append(missing, capAlternatives(n.sets)+" (for "+n.what+")")
			if n.core {
				r.Status = Unavailable
			} else if r.Status == OK {
				r.Status = Degraded
			}
			continue
		}
		for _, c := range met {
			held = append(held, capNames[c])
		}
	}
	r.Detail = fmt.Sprintf("CapEff %016x", eff)
	if len(held) > 0 {
		r.Detail += ": " + strings.Join(held, ", ")
	}
	if len(missing) > 0 {
		r.Detail += "; missing " + strings.Join(missing, ", ")
		r.Effect = "the checks of those parts say what degrades"
	}
	return r
}

func capAlternatives(sets [][]int) string {
	var alts []string
	for _, set := range sets {
		var names []string
		for _, c := range set {
			names = append(names, capNames[c])
		}
		alts = append(alts, strings.Join(names, "+"))
	}
	return strings.Join(alts, " or ")
}

func capEff(status string) (uint64, error) {
	f, err := os.Open(status)
	if err != nil {
		return 0, fmt.Errorf("capabilities unknown: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
			eff, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return 0, fmt.Errorf("capabilities unknown: CapEff %q: %w", v, err)
			}
			return eff, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("capabilities unknown: %w", err)
	}
	return 0, fmt.Errorf("capabilities unknown: no CapEff in %s", status)
}
