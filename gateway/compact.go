package gateway

import "github.com/aigw/aigw/store"

// CompactDatabase writes a compacted copy of the database file src (not
// one a running gateway holds: a backup of it) to dst, a new file, in the
// page size of new databases. The CLI's `backup --compact` uses it on the
// copy it downloaded.
func CompactDatabase(dst, src string) error { return store.CompactFile(dst, src) }
