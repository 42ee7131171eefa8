package process

import "strings"

// containerPrefixes name the cgroups that container runtimes create:
// "<prefix><64hex>.scope" under the systemd driver.
var containerPrefixes = []string{
	"cri-containerd-", // containerd CRI plugin
	"crio-",           // CRI-O
	"docker-",         // Docker / dockershim
	"libpod-",         // podman
	"nerdctl-",        // containerd's nerdctl
}

// ContainerID returns the 64-hex container id found in the content of a
// /proc/PID/cgroup file, or "" for a host process. Both cgroup v1 lines
// ("N:controllers:path") and the v2 line ("0::path") are read; the v2 line
// is tried first, then the v1 lines in order, and the first id wins (on a
// real host every hierarchy names the same container).
func ContainerID(cgroupFile string) string {
	id, _ := containerCgroup(cgroupFile)
	return id
}

// containerCgroup returns the container id and the cgroup path it was found
// in; with no container, the process's v2 path (else its first v1 path).
func containerCgroup(cgroupFile string) (id, path string) {
	var v1 []string
	v2, haveV2 := "", false
	for line := range strings.Lines(cgroupFile) {
		// "hierarchy:controllers:path"; the path itself may hold ':'.
		fields := strings.SplitN(strings.TrimRight(line, "\n"), ":", 3)
		if len(fields) != 3 {
			continue
		}
		if fields[0] == "0" && fields[1] == "" {
			v2, haveV2 = fields[2], true
			continue
		}
		v1 = append(v1, fields[2])
	}
	paths := v1
	if haveV2 {
		paths = append([]string{v2}, v1...)
	}
	for _, p := range paths {
		if id := containerIDFromPath(p); id != "" {
			return id, p
		}
	}
	if len(paths) > 0 {
		return "", paths[0]
	}
	return "", ""
}

// containerIDFromPath looks at the path's components from the innermost
// out, so a nested container (Docker in Docker, podman's "container"
// sub-cgroup) gives the id of the container the process really runs in.
func containerIDFromPath(path string) string {
	parts := strings.Split(path, "/")
	for i := len(parts) - 1; i >= 0; i-- {
		id, stop := containerIDFromComponent(parts[i])
		if id != "" || stop {
			return id
		}
	}
	return ""
}

// containerIDFromComponent recognises one path component:
//   - "<runtime>-<id>.scope" (systemd driver) or "crio-<id>" (CRI-O's
//     cgroupfs driver);
//   - the bare id (cgroupfs driver: /docker/<id>,
//     /kubepods/burstable/pod<uid>/<id>);
//   - "<pod slice>:cri-containerd:<id>" (containerd on cgroup v1 when
//     the systemd driver nests under containerd.service).
//
// stop is set for a runtime's monitor (conmon) cgroup: its process runs
// beside the container, not in it, so no enclosing component may name it.
func containerIDFromComponent(c string) (id string, stop bool) {
	unit := strings.TrimSuffix(c, ".scope")
	if strings.Contains(unit, "conmon-") {
		return "", true
	}
	for _, prefix := range containerPrefixes {
		if rest, ok := strings.CutPrefix(unit, prefix); ok && isContainerID(rest) {
			return rest, false
		}
	}
	if i := strings.LastIndexByte(c, ':'); i >= 0 {
		c = c[i+1:]
	}
	if isContainerID(c) {
		return c, false
	}
	return "", false
}

func isContainerID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !('0' <= s[i] && s[i] <= '9' || 'a' <= s[i] && s[i] <= 'f') {
			return false
		}
	}
	return true
}
