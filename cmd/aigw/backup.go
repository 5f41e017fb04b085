package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/aigw/aigw/gateway"
	"github.com/spf13/cobra"
)

func newBackupCmd(a *app) *cobra.Command {
	var compact bool
	cmd := &cobra.Command{
		Use:   "backup FILE",
		Short: "Write a consistent copy of the running gateway's database to FILE",
		Long: `Write a consistent copy of the running gateway's database to FILE, while it
keeps serving. FILE is replaced only once the copy is complete. Keep master.key
with it: credential secrets in the copy are sealed with that key.

With --compact the copy is rewritten in full pages of 16 KiB: smaller, and a
database made before 16 KiB pages (2026-12-03) gets them, with the smaller
memory they need under retention. Stop the gateway, put the copy in place of
aigw.db, and start it again to use it.`,
		Example: "  aigw backup /var/backups/aigw-$(date +%F).db\n  aigw backup --compact /tmp/aigw-compact.db",
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			path := argv[0]
			if fi, err := os.Stat(path); err == nil && fi.IsDir() {
				return &usageError{fmt.Errorf("backup: %s is a directory; give a file name", path)}
			}
			// Renamed over the database a local gateway has open, the copy
			// would hide that file: what is written until its restart would
			// be lost.
			if live := filepath.Join(a.dataDir(), gateway.DBFile); sameFile(path, live) {
				return &usageError{fmt.Errorf("backup: %s is the gateway's own database; write the copy elsewhere", path)}
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".partial*")
			if err != nil {
				return fmt.Errorf("backup: %w", err)
			}
			defer os.Remove(tmp.Name()) // no-op after the rename
			n, err := c.Backup(cmd.Context(), tmp)
			if err == nil {
				err = tmp.Sync()
			}
			if cerr := tmp.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				err = os.Chmod(tmp.Name(), 0o600)
			}
			done := tmp.Name()
			if err == nil && compact {
				done, n, err = compactCopy(tmp.Name())
				defer os.Remove(done) // no-op after the rename
			}
			if err == nil {
				err = os.Rename(done, path)
			}
			if err != nil {
				return fmt.Errorf("backup: %w", err)
			}
			if a.output == "json" {
				return printJSON(a.io.Out, map[string]any{"file": path, "bytes": n})
			}
			fmt.Fprintf(a.io.Out, "wrote %s (%d bytes)\n", path, n)
			return nil
		},
	}
	cmd.Flags().BoolVar(&compact, "compact", false, "rewrite the copy in full 16 KiB pages (a database made before 2026-12-03 gets them)")
	return cmd
}

// sameFile reports whether paths a and b name one existing file.
func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}

// compactCopy compacts the database file src (a temporary file of a unique
// name) into a new file beside it and returns that file's name and size.
func compactCopy(src string) (string, int64, error) {
	dst := src + ".compact"
	if err := gateway.CompactDatabase(dst, src); err != nil {
		return "", 0, err
	}
	fi, err := os.Stat(dst)
	if err == nil {
		err = os.Chmod(dst, 0o600)
	}
	if err != nil {
		os.Remove(dst)
		return "", 0, err
	}
	return dst, fi.Size(), nil
}
