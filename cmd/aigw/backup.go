package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

func newBackupCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "backup FILE",
		Short: "Write a consistent copy of the running gateway's database to FILE",
		Long: `Write a consistent copy of the running gateway's database to FILE, while it
keeps serving. FILE is replaced only once the copy is complete. Keep master.key
with it: credential secrets in the copy are sealed with that key.`,
		Example: "  aigw backup /var/backups/aigw-$(date +%F).db",
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			path := argv[0]
			if fi, err := os.Stat(path); err == nil && fi.IsDir() {
				return &usageError{fmt.Errorf("backup: %s is a directory; give a file name", path)}
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
			if err == nil {
				err = os.Rename(tmp.Name(), path)
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
}
