// Package process tells which local process a pid is (executable,
// container) and which process owns each TCP/UDP socket that already
// existed when podflow started. Both read procfs.
package process

import (
	"container/list"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/podflow/podflow/flow"
)

// Info describes one process.
type Info struct {
	PID         uint32
	Comm        string
	Exe         string // readlink /proc/PID/exe; "" when unreadable (kernel threads, zombies)
	ContainerID string // 64 hex digits; "" for a host process
	CgroupPath  string // the cgroup path the container id came from; else the v2 path, else the first v1 path
	StartTime   uint64 // clock ticks after boot (/proc/PID/stat field 22): with PID, names the process
}

// Config tunes a Resolver; zero values take the defaults.
type Config struct {
	ProcRoot   string        // default /proc
	MaxEntries int           // bound on processes held; default 16384
	TTL        time.Duration // a process not resolved for this long is forgotten; default 10m
	// Recheck trusts a cached process without reading /proc/PID/stat for
	// this long after it was last seen alive, saving that read (about
	// 10 µs) per call. A pid reused or an exec within the window goes
	// unnoticed. Default 0: check on every call.
	Recheck time.Duration
	Now     func() time.Time
}

// Stats are running totals.
type Stats struct {
	Entries   int
	Hits      uint64 // answered from the cache (the process may have exited)
	Misses    uint64 // read from procfs
	Errors    uint64 // could not resolve (process gone and not remembered, unreadable procfs)
	Evictions uint64 // forgotten over MaxEntries
	Expired   uint64 // forgotten after TTL without use
}

// Resolver resolves pids to processes and remembers them, so that a process
// resolved once stays resolvable for TTL after its last use even when it
// has exited. The cache holds one process per pid, tagged with its start
// time: a pid reused by a new process does not match the old entry (nor
// does an exec, which keeps the start time but changes the comm), and the
// new process replaces it. Safe for concurrent use.
type Resolver struct {
	cfg Config

	mu    sync.Mutex
	byPID map[uint32]*list.Element // of *cached
	lru   *list.List               // front: most recently used
	stats Stats
}

type cached struct {
	info    Info
	lastUse time.Time
	checked time.Time // last seen alive with the same start time and comm
}

// NewResolver returns an empty resolver.
func NewResolver(cfg Config) *Resolver {
	if cfg.ProcRoot == "" {
		cfg.ProcRoot = DefaultProcRoot
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 16384
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 10 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Resolver{cfg: cfg, byPID: map[uint32]*list.Element{}, lru: list.New()}
}

// Remember resolves pid now and keeps it, for a caller that has just
// learned of the pid and will ask about it later, when the process may be
// gone.
func (r *Resolver) Remember(pid uint32) error {
	_, err := r.Resolve(pid)
	return err
}

// Resolve returns the process pid names now or, if it has exited, the
// process it named when last resolved, while still remembered. A call
// reads /proc/PID/stat, which tells a live process from a reused pid
// (unless Config.Recheck allows skipping it); a cache miss also reads the
// executable link and the cgroup file. An error wraps ErrGone when the
// process does not exist and is not remembered.
func (r *Resolver) Resolve(pid uint32) (Info, error) {
	now := r.cfg.Now()
	if r.cfg.Recheck > 0 {
		if info, ok := r.lookup(pid, now, func(c *cached) bool {
			return now.Sub(c.checked) < r.cfg.Recheck
		}); ok {
			return info, nil
		}
	}
	dir := pidDir(r.cfg.ProcRoot, pid)
	st, statErr := readStat(dir)
	if info, ok := r.lookup(pid, now, func(c *cached) bool {
		if statErr != nil {
			return vanished(statErr) // exited: the remembered process
		}
		if c.info.StartTime != st.startTime || c.info.Comm != st.comm {
			return false // pid reused, or exec
		}
		c.checked = now
		return true
	}); ok {
		return info, nil
	}

	info, err := r.read(dir, pid, st, statErr)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.stats.Errors++
		return Info{}, err
	}
	r.stats.Misses++
	if el, ok := r.byPID[pid]; ok {
		r.lru.Remove(el)
	}
	r.byPID[pid] = r.lru.PushFront(&cached{info: info, lastUse: now, checked: now})
	for r.lru.Len() > r.cfg.MaxEntries {
		r.remove(r.lru.Back())
		r.stats.Evictions++
	}
	return info, nil
}

// lookup answers from the cache if pid is there and valid says it still
// names the process.
func (r *Resolver) lookup(pid uint32, now time.Time, valid func(*cached) bool) (Info, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expire(now)
	el, ok := r.byPID[pid]
	if !ok || !valid(el.Value.(*cached)) {
		return Info{}, false
	}
	c := el.Value.(*cached)
	c.lastUse = now
	r.lru.MoveToFront(el)
	r.stats.Hits++
	return c.info, true
}

// read reads a live process from procfs. The read is done without the
// lock: procfs reads are syscalls, and other pids need not wait for them.
func (r *Resolver) read(dir string, pid uint32, st procStat, statErr error) (Info, error) {
	if statErr != nil {
		if vanished(statErr) {
			return Info{}, fmt.Errorf("resolve pid %d: %w", pid, ErrGone)
		}
		return Info{}, fmt.Errorf("resolve pid %d: %w", pid, statErr)
	}
	cg, err := os.ReadFile(filepath.Join(dir, "cgroup"))
	if err != nil {
		if vanished(err) {
			return Info{}, fmt.Errorf("resolve pid %d: %w", pid, errors.Join(ErrGone, err))
		}
		return Info{}, fmt.Errorf("resolve pid %d: %w", pid, err)
	}
	// Kernel threads and zombies have no executable: not an error.
	exe, _ := os.Readlink(filepath.Join(dir, "exe"))
	id, path := containerCgroup(string(cg))
	return Info{PID: pid, Comm: st.comm, Exe: exe, ContainerID: id, CgroupPath: path, StartTime: st.startTime}, nil
}

// expire forgets the processes not used for TTL. The list is in order of
// last use, so they are all at its back.
func (r *Resolver) expire(now time.Time) {
	for el := r.lru.Back(); el != nil; el = r.lru.Back() {
		if now.Sub(el.Value.(*cached).lastUse) < r.cfg.TTL {
			return
		}
		r.remove(el)
		r.stats.Expired++
	}
}

func (r *Resolver) remove(el *list.Element) {
	r.lru.Remove(el)
	delete(r.byPID, el.Value.(*cached).info.PID)
}

// Stats returns running totals.
func (r *Resolver) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.Entries = r.lru.Len()
	return s
}

// FlowResolver gives a Resolver's answers as flow.Process, the form the
// owners table takes (owners.Resolver).
type FlowResolver struct{ r *Resolver }

// Flow returns r as a FlowResolver.
func (r *Resolver) Flow() FlowResolver { return FlowResolver{r} }

// Resolve implements owners.Resolver.
func (f FlowResolver) Resolve(pid uint32) (flow.Process, bool) {
	info, err := f.r.Resolve(pid)
	if err != nil {
		return flow.Process{}, false
	}
	return flow.Process{PID: info.PID, Name: info.Comm, Exe: info.Exe, ContainerID: info.ContainerID}, true
}
