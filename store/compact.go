package store

import (
	"errors"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

// compactTxSize bounds the bytes CompactFile copies per transaction.
const compactTxSize = 16 << 20

// CompactFile writes a compacted copy of the database file src to dst, a
// file that must not exist yet: every bucket and record, in full pages of
// pageSize bytes whatever src's page size (a file made before 16 KiB
// pages gets them this way, and with them the smaller page bookkeeping).
// src is opened read-only and must not be held by a running gateway (copy
// it with a backup first). On error dst is removed.
func CompactFile(dst, src string) (err error) {
	if err := CheckFile(src); err != nil {
		return err
	}
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("compact: %s already exists", dst)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("compact: %w", err)
	}
	in, err := openBolt(src, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return err
	}
	defer in.Close()
	if err := checkOwner(in); err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	out, err := openBolt(dst, &bolt.Options{Timeout: time.Second, PageSize: pageSize, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(dst)
		}
	}()
	if err := bolt.Compact(out, in, compactTxSize); err != nil {
		return fmt.Errorf("compact %s: %w", src, err)
	}
	return out.Sync()
}
