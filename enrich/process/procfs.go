package process

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// DefaultProcRoot is where procfs is mounted.
const DefaultProcRoot = "/proc"

// ErrGone reports that the process no longer exists (and was not
// remembered).
var ErrGone = errors.New("process gone")

// vanished tells the errors procfs gives for a process that exited while it
// was being read: they are normal, not failures.
func vanished(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ESRCH)
}

func pidDir(procRoot string, pid uint32) string {
	return filepath.Join(procRoot, strconv.FormatUint(uint64(pid), 10))
}

// procStat is what Resolve needs from /proc/PID/stat: the start time tells
// a reused pid from the process the cache holds, and the comm tells an
// exec since (exec keeps the start time).
type procStat struct {
	comm      string
	startTime uint64 // clock ticks after boot, field 22
}

func readStat(dir string) (procStat, error) {
	b, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return procStat{}, err
	}
	return parseStat(string(b))
}

// parseStat parses "pid (comm) state ppid ...". The comm may hold spaces
// and parentheses, so it ends at the last ')'.
func parseStat(s string) (procStat, error) {
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return procStat{}, fmt.Errorf("stat %q: no (comm)", s)
	}
	rest := strings.Fields(s[closing+1:]) // rest[0] is field 3 (state)
	const startTimeField = 22
	if len(rest) < startTimeField-2 {
		return procStat{}, fmt.Errorf("stat %q: %d fields after comm, want at least %d", s, len(rest), startTimeField-2)
	}
	start, err := strconv.ParseUint(rest[startTimeField-3], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("stat start time: %w", err)
	}
	return procStat{comm: s[open+1 : closing], startTime: start}, nil
}

func readComm(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "comm"))
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(string(b), "\n"), nil
}

// readNsInode reads a namespace link such as "net:[4026531840]".
func readNsInode(link string) (uint64, error) {
	target, err := os.Readlink(link)
	if err != nil {
		return 0, err
	}
	_, rest, ok := strings.Cut(target, ":[")
	num, ok2 := strings.CutSuffix(rest, "]")
	if !ok || !ok2 {
		return 0, fmt.Errorf("namespace link %s -> %q: not type:[inode]", link, target)
	}
	ino, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("namespace link %s -> %q: %w", link, target, err)
	}
	return ino, nil
}
