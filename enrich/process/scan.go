package process

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Socket is one TCP or UDP socket and the process holding it.
type Socket struct {
	Proto      uint8          // ProtoTCP or ProtoUDP
	Local      netip.AddrPort // IPv4-mapped addresses unmapped; unspecified address: wildcard bind
	Remote     netip.AddrPort // zero for listeners and unconnected UDP
	State      uint8          // StateListen, StateEstablished, ... (UDP: StateClose unless connected)
	Inode      uint64
	PID        uint32 // the lowest pid holding the socket (see Scan)
	Comm       string
	NetnsInode uint64 // the network namespace the socket lives in
}

// ScanStats describe one scan.
type ScanStats struct {
	Processes int // process directories visited
	Netns     int // network namespaces whose tables were read
	SocketFDs int // socket file descriptors seen (any family)
	Sockets   int // TCP/UDP sockets returned
	Unowned   int // TCP/UDP sockets no process holds (TIME_WAIT, orphans, kernel sockets): left out
	Vanished  int // processes that exited during the scan: skipped
	Denied    int // processes whose namespace or fds could not be read (not root): skipped
	Duration  time.Duration
}

// ScanResult is what Scan found.
type ScanResult struct {
	Sockets []Socket
	Stats   ScanStats
}

// procNetTables are the tables read per network namespace.
var procNetTables = []struct {
	file  string
	proto uint8
}{{"tcp", ProtoTCP}, {"tcp6", ProtoTCP}, {"udp", ProtoUDP}, {"udp6", ProtoUDP}}

// ScanSockets returns the TCP and UDP sockets of every network namespace
// that holds a process, each with the process holding it. See Scan.
func ScanSockets(procRoot string) ([]Socket, error) {
	res, err := Scan(procRoot)
	return res.Sockets, err
}

// Scan reads, for every process, its network namespace and the socket
// inodes among its fds, then reads /proc/PID/net/{tcp,tcp6,udp,udp6} once
// per namespace through one of its processes. A socket shared by several
// processes (inherited over fork, passed over a unix socket) is given to
// the lowest pid, which is usually the parent that opened it. Processes
// exiting meanwhile are normal and only counted. On unexpected errors the
// sockets found are returned along with the errors joined.
//
// It costs a readlink per fd of every process: run it once at start-up,
// not periodically.
func Scan(procRoot string) (ScanResult, error) {
	start := time.Now()
	if procRoot == "" {
		procRoot = DefaultProcRoot
	}
	pids, err := listPIDs(procRoot)
	if err != nil {
		return ScanResult{}, err
	}
	s := scanner{
		procRoot:   procRoot,
		owner:      map[uint64]uint32{},
		comm:       map[uint32]string{},
		netnsPIDs:  map[uint64][]uint32{},
		linkBuffer: make([]byte, 64),
	}
	for _, pid := range pids {
		s.visit(pid)
	}
	sockets := s.readTables()
	s.stats.Sockets = len(sockets)
	s.stats.Duration = time.Since(start)
	return ScanResult{Sockets: sockets, Stats: s.stats}, errors.Join(s.errs...)
}

type scanner struct {
	procRoot   string
	owner      map[uint64]uint32   // socket inode to lowest pid
	comm       map[uint32]string   // of the pids owning a socket
	netnsPIDs  map[uint64][]uint32 // network namespace inode to its pids, ascending
	netnsOrder []uint64            // namespaces in order of discovery
	linkBuffer []byte
	stats      ScanStats
	errs       []error
}

// listPIDs returns the numeric entries of procRoot, ascending, so that the
// first owner found for a socket is its lowest pid.
func listPIDs(procRoot string) ([]uint32, error) {
	f, err := os.Open(procRoot)
	if err != nil {
		return nil, fmt.Errorf("scan sockets: %w", err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("scan sockets: list %s: %w", procRoot, err)
	}
	pids := make([]uint32, 0, len(names))
	for _, name := range names {
		if pid, err := strconv.ParseUint(name, 10, 32); err == nil {
			pids = append(pids, uint32(pid))
		}
	}
	slices.Sort(pids)
	return pids, nil
}

// skip counts an error reading a process: exiting and permission are
// expected, anything else is kept.
func (s *scanner) skip(err error) {
	switch {
	case vanished(err):
		s.stats.Vanished++
	case errors.Is(err, fs.ErrPermission):
		s.stats.Denied++
	default:
		s.errs = append(s.errs, err)
	}
}

func (s *scanner) visit(pid uint32) {
	dir := pidDir(s.procRoot, pid)
	s.stats.Processes++
	ns, err := readNsInode(filepath.Join(dir, "ns", "net"))
	if err != nil {
		s.skip(err)
		return
	}
	if _, seen := s.netnsPIDs[ns]; !seen {
		s.netnsOrder = append(s.netnsOrder, ns)
	}
	s.netnsPIDs[ns] = append(s.netnsPIDs[ns], pid)
	if err := s.readFDs(dir, pid); err != nil {
		s.skip(err)
	}
}

// readFDs records the socket inodes among pid's fds. readlinkat on the open
// fd directory saves resolving the directory's path once per fd.
func (s *scanner) readFDs(dir string, pid uint32) error {
	f, err := os.Open(filepath.Join(dir, "fd"))
	if err != nil {
		return err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return err
	}
	dirfd := int(f.Fd())
	for _, name := range names {
		n, err := unix.Readlinkat(dirfd, name, s.linkBuffer)
		if err != nil {
			continue // the fd was closed since the directory was listed
		}
		inode, ok := socketInode(s.linkBuffer[:n])
		if !ok {
			continue
		}
		s.stats.SocketFDs++
		if _, taken := s.owner[inode]; taken {
			continue
		}
		s.owner[inode] = pid
		if _, ok := s.comm[pid]; !ok {
			// Read now: the process may be gone by the time its
			// namespace's tables are read.
			comm, err := readComm(dir)
			if err != nil && !vanished(err) {
				return err
			}
			s.comm[pid] = comm
		}
	}
	return nil
}

// socketInode parses a "socket:[INODE]" fd link.
func socketInode(link []byte) (uint64, bool) {
	rest, ok := bytes.CutPrefix(link, []byte("socket:["))
	if !ok {
		return 0, false
	}
	num, ok := bytes.CutSuffix(rest, []byte("]"))
	if !ok {
		return 0, false
	}
	inode, err := strconv.ParseUint(string(num), 10, 64)
	return inode, err == nil
}

// readTables reads each namespace's tables through the first of its
// processes that is still there.
func (s *scanner) readTables() []Socket {
	var sockets []Socket
	for _, ns := range s.netnsOrder {
		for _, pid := range s.netnsPIDs[ns] {
			found, unowned, err := s.readNetnsTables(pid, ns)
			if err != nil {
				if vanished(err) || errors.Is(err, errMovedNetns) {
					continue // try the namespace's next process
				}
				s.skip(err)
				break
			}
			s.stats.Netns++
			s.stats.Unowned += unowned
			sockets = append(sockets, found...)
			break
		}
	}
	return sockets
}

var errMovedNetns = errors.New("process changed network namespace during the scan")

func (s *scanner) readNetnsTables(pid uint32, ns uint64) (sockets []Socket, unowned int, err error) {
	dir := pidDir(s.procRoot, pid)
	for _, table := range procNetTables {
		entries, err := readProcNetFile(filepath.Join(dir, "net"), table.file)
		if err != nil {
			return nil, 0, fmt.Errorf("pid %d: %w", pid, err)
		}
		for _, e := range entries {
			owner, ok := s.owner[e.inode]
			if e.inode == 0 || !ok {
				unowned++
				continue
			}
			sockets = append(sockets, Socket{
				Proto: table.proto, Local: e.local, Remote: e.remote, State: e.state,
				Inode: e.inode, PID: owner, Comm: s.comm[owner], NetnsInode: ns,
			})
		}
	}
	// The tables are of the namespace the process was in when they were
	// opened: make sure that is still the one it was listed under.
	now, err := readNsInode(filepath.Join(dir, "ns", "net"))
	if err == nil && now != ns {
		return nil, 0, errMovedNetns
	}
	return sockets, unowned, nil
}

// readProcNetFile reads one table. A missing tcp6/udp6 means IPv6 is
// disabled if tcp is still there; otherwise the process has exited (a
// zombie keeps its /proc directory but loses its net tables).
func readProcNetFile(netDir, name string) ([]procNetEntry, error) {
	f, err := os.Open(filepath.Join(netDir, name))
	if err != nil {
		if vanished(err) && strings.HasSuffix(name, "6") {
			if _, v4err := os.Stat(filepath.Join(netDir, "tcp")); v4err == nil {
				return nil, nil
			}
		}
		return nil, err
	}
	defer f.Close()
	entries, err := parseProcNet(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return entries, nil
}
