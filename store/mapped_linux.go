package store

import "golang.org/x/sys/unix"

// dropMapped tells the kernel that the process no longer needs n bytes of
// the database mapping at address data. The pages stay in the page cache
// (and in the file); a later read faults them back in.
func dropMapped(data uintptr, n int64) {
	if data == 0 || n <= 0 {
		return
	}
	_, _, _ = unix.Syscall(unix.SYS_MADVISE, data, uintptr(n), unix.MADV_DONTNEED)
}
