//go:build linux

package gateway

import (
	"bytes"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// dropCode tells the kernel that the process no longer needs the pages of
// its own executable's code and read-only data that it has mapped so far.
// The kernel maps a file's pages 64 KiB around each one touched, so start-
// up, which runs a little of nearly every package, leaves most of the
// binary resident (~16 MiB of the gateway's RSS) although requests use a
// small part of it. The pages stay in the page cache; the ones still in
// use fault back in at once. Only read-only mappings are dropped: a
// writable one would lose its contents.
func dropCode() {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return
	}
	for _, line := range bytes.Split(maps, []byte("\n")) {
		// start-end perms offset dev inode path
		f := bytes.Fields(line)
		if len(f) < 6 || string(bytes.Join(f[5:], []byte(" "))) != exe {
			continue
		}
		if perms := string(f[1]); perms != "r-xp" && perms != "r--p" {
			continue
		}
		lo, hi, ok := bytes.Cut(f[0], []byte("-"))
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(string(lo), 16, 64)
		end, err2 := strconv.ParseUint(string(hi), 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_DONTNEED)
	}
}
