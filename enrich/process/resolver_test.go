package process

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/podflow/podflow/enrich/owners"
	"github.com/podflow/podflow/flow"
)

var _ owners.Resolver = FlowResolver{}

// clock is a settable Config.Now.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time          { return c.now }
func (c *clock) advance(d time.Duration) { c.now = c.now.Add(d) }

func newTestResolver(t *testing.T, maxEntries int) (*Resolver, *clock, string) {
	root := t.TempDir()
	c := &clock{now: time.Unix(1_700_000_000, 0)}
	r := NewResolver(Config{ProcRoot: root, MaxEntries: maxEntries, TTL: 10 * time.Minute, Now: c.Now})
	return r, c, root
}

const criPath = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + podSlice + ".slice/cri-containerd-" + idA + ".scope"

var nginx = fakeProc{
	pid: 4242, comm: "nginx", start: 98765, exe: "/usr/sbin/nginx",
	cgroup: "0::" + criPath + "\n",
}

func resolve(t *testing.T, r *Resolver, pid uint32) Info {
	t.Helper()
	info, err := r.Resolve(pid)
	if err != nil {
		t.Fatalf("Resolve(%d): %v", pid, err)
	}
	return info
}

func wantStats(t *testing.T, r *Resolver, want Stats) {
	t.Helper()
	if got := r.Stats(); got != want {
		t.Errorf("stats = %+v, want %+v", got, want)
	}
}

func TestResolveReadsProcAndCaches(t *testing.T) {
	r, _, root := newTestResolver(t, 0)
	nginx.write(t, root)
	want := Info{PID: 4242, Comm: "nginx", Exe: "/usr/sbin/nginx", ContainerID: idA, CgroupPath: criPath, StartTime: 98765}
	if got := resolve(t, r, 4242); got != want {
		t.Errorf("first Resolve = %+v, want %+v", got, want)
	}
	if got := resolve(t, r, 4242); got != want {
		t.Errorf("second Resolve = %+v, want %+v", got, want)
	}
	wantStats(t, r, Stats{Entries: 1, Hits: 1, Misses: 1})
}

func TestResolveCommWithSpacesAndParens(t *testing.T) {
	r, _, root := newTestResolver(t, 0)
	p := fakeProc{pid: 7, comm: "a) (b c", start: 3, exe: "/bin/odd", cgroup: "0::/\n"}
	p.write(t, root)
	want := Info{PID: 7, Comm: "a) (b c", Exe: "/bin/odd", CgroupPath: "/", StartTime: 3}
	if got := resolve(t, r, 7); got != want {
		t.Errorf("Resolve = %+v, want %+v", got, want)
	}
}

func TestResolveKernelThreadHasNoExe(t *testing.T) {
	r, _, root := newTestResolver(t, 0)
	fakeProc{pid: 2, comm: "kthreadd", start: 0, cgroup: "0::/\n"}.write(t, root)
	want := Info{PID: 2, Comm: "kthreadd", CgroupPath: "/"}
	if got := resolve(t, r, 2); got != want {
		t.Errorf("Resolve = %+v, want %+v", got, want)
	}
}

func TestRememberedProcessOutlivesItsExit(t *testing.T) {
	r, c, root := newTestResolver(t, 0)
	nginx.write(t, root)
	if err := r.Remember(4242); err != nil {
		t.Fatalf("Remember: %v", err)
	}
	removeProc(t, root, 4242)
	c.advance(9 * time.Minute)
	if got := resolve(t, r, 4242); got.Exe != "/usr/sbin/nginx" || got.ContainerID != idA || got.StartTime != 98765 {
		t.Errorf("Resolve after exit = %+v, want the remembered nginx", got)
	}
	// The use above restarted the TTL: gone only 10 minutes after it.
	c.advance(9*time.Minute + 59*time.Second)
	resolve(t, r, 4242)
	c.advance(10 * time.Minute)
	_, err := r.Resolve(4242)
	if !errors.Is(err, ErrGone) {
		t.Errorf("Resolve after TTL: err = %v, want ErrGone", err)
	}
	wantStats(t, r, Stats{Entries: 0, Hits: 2, Misses: 1, Errors: 1, Expired: 1})
}

func TestUnknownPIDIsGone(t *testing.T) {
	r, _, _ := newTestResolver(t, 0)
	_, err := r.Resolve(31337)
	if !errors.Is(err, ErrGone) {
		t.Errorf("err = %v, want ErrGone", err)
	}
	if err := r.Remember(31337); !errors.Is(err, ErrGone) {
		t.Errorf("Remember err = %v, want ErrGone", err)
	}
	wantStats(t, r, Stats{Errors: 2})
}

func TestReusedPIDIsANewProcess(t *testing.T) {
	r, _, root := newTestResolver(t, 0)
	nginx.write(t, root)
	resolve(t, r, 4242)
	// nginx exits and pid 4242 goes to a host process started later.
	reused := fakeProc{pid: 4242, comm: "nginx", start: 123456, exe: "/usr/local/bin/nginx", cgroup: "0::/system.slice/nginx.service\n"}
	reused.write(t, root)
	want := Info{PID: 4242, Comm: "nginx", Exe: "/usr/local/bin/nginx", CgroupPath: "/system.slice/nginx.service", StartTime: 123456}
	if got := resolve(t, r, 4242); got != want {
		t.Errorf("Resolve of the reused pid = %+v, want %+v", got, want)
	}
	if got := resolve(t, r, 4242); got != want {
		t.Errorf("second Resolve of the reused pid = %+v, want %+v", got, want)
	}
	wantStats(t, r, Stats{Entries: 1, Hits: 1, Misses: 2})
}

func TestExecIsReread(t *testing.T) {
	r, _, root := newTestResolver(t, 0)
	shell := fakeProc{pid: 900, comm: "sh", start: 50, exe: "/bin/sh", cgroup: "0::/docker/" + idB + "\n"}
	shell.write(t, root)
	resolve(t, r, 900)
	// The forked shell execs curl: same pid and start time, new comm.
	curl := shell
	curl.comm, curl.exe = "curl", "/usr/bin/curl"
	curl.write(t, root)
	want := Info{PID: 900, Comm: "curl", Exe: "/usr/bin/curl", ContainerID: idB, CgroupPath: "/docker/" + idB, StartTime: 50}
	if got := resolve(t, r, 900); got != want {
		t.Errorf("Resolve after exec = %+v, want %+v", got, want)
	}
	wantStats(t, r, Stats{Entries: 1, Misses: 2})
}

func TestRecheckTrustsTheCacheForAWhile(t *testing.T) {
	root := t.TempDir()
	c := &clock{now: time.Unix(1_700_000_000, 0)}
	r := NewResolver(Config{ProcRoot: root, Recheck: time.Minute, Now: c.Now})
	nginx.write(t, root)
	resolve(t, r, 4242)
	reused := fakeProc{pid: 4242, comm: "sshd", start: 123456, exe: "/usr/sbin/sshd", cgroup: "0::/system.slice/ssh.service\n"}
	reused.write(t, root)
	c.advance(59 * time.Second)
	if got := resolve(t, r, 4242); got.Comm != "nginx" || got.StartTime != 98765 {
		t.Errorf("Resolve within Recheck = %+v, want the cached nginx", got)
	}
	c.advance(time.Second)
	want := Info{PID: 4242, Comm: "sshd", Exe: "/usr/sbin/sshd", CgroupPath: "/system.slice/ssh.service", StartTime: 123456}
	if got := resolve(t, r, 4242); got != want {
		t.Errorf("Resolve after Recheck = %+v, want %+v", got, want)
	}
	wantStats(t, r, Stats{Entries: 1, Hits: 1, Misses: 2})
}

func TestEvictsLeastRecentlyUsed(t *testing.T) {
	r, _, root := newTestResolver(t, 2)
	for pid := uint32(1); pid <= 3; pid++ {
		fakeProc{pid: pid, comm: fmt.Sprint("p", pid), start: uint64(pid), exe: fmt.Sprint("/bin/p", pid), cgroup: "0::/\n"}.write(t, root)
	}
	resolve(t, r, 1)
	resolve(t, r, 2)
	resolve(t, r, 1) // 2 is now the least recently used
	resolve(t, r, 3)
	for pid := uint32(1); pid <= 3; pid++ {
		removeProc(t, root, pid)
	}
	if got := resolve(t, r, 1); got.Exe != "/bin/p1" {
		t.Errorf("pid 1 = %+v, want remembered", got)
	}
	if got := resolve(t, r, 3); got.Exe != "/bin/p3" {
		t.Errorf("pid 3 = %+v, want remembered", got)
	}
	if _, err := r.Resolve(2); !errors.Is(err, ErrGone) {
		t.Errorf("pid 2: err = %v, want ErrGone (evicted)", err)
	}
	wantStats(t, r, Stats{Entries: 2, Hits: 3, Misses: 3, Errors: 1, Evictions: 1})
}

func TestExpiryIsAfterLastUse(t *testing.T) {
	r, c, root := newTestResolver(t, 0)
	for pid := uint32(10); pid <= 11; pid++ {
		fakeProc{pid: pid, comm: "w", start: 1, exe: "/bin/w", cgroup: "0::/\n"}.write(t, root)
		resolve(t, r, pid)
	}
	c.advance(6 * time.Minute)
	resolve(t, r, 10)
	c.advance(5 * time.Minute) // 11 unused for 11m, 10 for 5m
	wantStats(t, r, Stats{Entries: 2, Hits: 1, Misses: 2})
	removeProc(t, root, 10)
	resolve(t, r, 10)
	wantStats(t, r, Stats{Entries: 1, Hits: 2, Misses: 2, Expired: 1})
}

func TestFlowResolver(t *testing.T) {
	r, _, root := newTestResolver(t, 0)
	nginx.write(t, root)
	f := r.Flow()
	want := flow.Process{PID: 4242, Name: "nginx", Exe: "/usr/sbin/nginx", ContainerID: idA}
	if got, ok := f.Resolve(4242); !ok || got != want {
		t.Errorf("Resolve = %+v, %v; want %+v, true", got, ok, want)
	}
	if got, ok := f.Resolve(1); ok {
		t.Errorf("Resolve(unknown) = %+v, true; want false", got)
	}
}

func TestResolveConcurrently(t *testing.T) {
	r, _, root := newTestResolver(t, 8)
	for pid := uint32(1); pid <= 16; pid++ {
		fakeProc{pid: pid, comm: "c", start: 1, exe: "/bin/c", cgroup: "0::/\n"}.write(t, root)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				pid := uint32((i+g)%16 + 1)
				if info, err := r.Resolve(pid); err != nil || info.PID != pid {
					t.Errorf("Resolve(%d) = %+v, %v", pid, info, err)
					return
				}
			}
		})
	}
	wg.Wait()
	s := r.Stats()
	// Two goroutines missing the same pid at once both insert it, the
	// second replacing the first without an eviction: hence <=.
	if s.Entries != 8 || s.Hits+s.Misses != 800 || s.Errors != 0 || s.Evictions == 0 || s.Evictions > s.Misses-8 {
		t.Errorf("stats = %+v, want 8 entries, 800 answers, 0 < evictions <= misses - 8", s)
	}
}

// BenchmarkResolveHit is the cost per event of a live, cached process: one
// read of /proc/PID/stat.
func BenchmarkResolveHit(b *testing.B) {
	for _, recheck := range []time.Duration{0, time.Second} {
		b.Run(fmt.Sprint("recheck=", recheck), func(b *testing.B) { benchmarkResolveHit(b, recheck) })
	}
}

func benchmarkResolveHit(b *testing.B, recheck time.Duration) {
	r := NewResolver(Config{Recheck: recheck})
	pid := uint32(os.Getpid())
	if _, err := r.Resolve(pid); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := r.Resolve(pid); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResolveMiss is the cost of a first resolution: stat, cgroup
// and the exe link.
func BenchmarkResolveMiss(b *testing.B) {
	pid := uint32(os.Getpid())
	for b.Loop() {
		if _, err := NewResolver(Config{}).Resolve(pid); err != nil {
			b.Fatal(err)
		}
	}
}
