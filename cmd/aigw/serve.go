package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/aigw/aigw/config"
	"github.com/aigw/aigw/gateway"
	"github.com/spf13/cobra"
)

type serveOptions struct {
	configFile string
	dataDir    string
	proxyAddr  string
	adminAddr  string
	demo       bool
}

func newServeCmd(a *app) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway: the proxy (:8080) and the admin API (127.0.0.1:9090)",
		Long: `Run the gateway: the proxy on :8080 and the admin API on 127.0.0.1:9090, over one
database in the data directory (created on first start with master.key and
admin.token, mode 0600). Settings: flags > AIGW_* environment > config file >
defaults (see config.toml.example).

With --demo it also starts a fake provider on loopback, registers it as
provider "demo" with a credential, and prints a gateway key and a curl command
that work without internet access.`,
		Example: `  aigw serve
  aigw serve --demo
  aigw serve --config /etc/aigw/config.toml --data-dir /var/lib/aigw --proxy-addr :8443`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadServeConfig(a, cmd, o)
			if err != nil {
				return err
			}
			logger, err := newLogger(a, cfg.Log)
			if err != nil {
				return err
			}
			return gateway.Run(cmd.Context(), gateway.Options{Config: cfg, Demo: o.demo, Out: a.io.Out, Logger: logger, LogOut: a.io.Err, Version: currentVersion().Version})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.configFile, "config", "", "config file (default $AIGW_CONFIG, else DATA_DIR/config.toml when present)")
	fl.StringVar(&o.dataDir, "data-dir", "", "data directory (default $AIGW_DATA_DIR, else $XDG_DATA_HOME/aigw or ~/.local/share/aigw)")
	fl.StringVar(&o.proxyAddr, "proxy-addr", "", "proxy listen address (default :8080)")
	fl.StringVar(&o.adminAddr, "admin-addr", "", "admin API listen address (default 127.0.0.1:9090)")
	fl.BoolVar(&o.demo, "demo", false, "start a loopback fake provider with a demo key")
	return cmd
}

// loadServeConfig applies the precedence flags > environment > file > defaults.
func loadServeConfig(a *app, cmd *cobra.Command, o serveOptions) (config.Config, error) {
	file := firstNonEmpty(o.configFile, a.io.getenv("AIGW_CONFIG"))
	if file == "" {
		candidate := filepath.Join(config.ResolveDataDir(o.dataDir, ""), "config.toml")
		if _, err := os.Stat(candidate); err == nil {
			file = candidate
		}
	}
	cfg, err := config.Load(file, func(k string) (string, bool) {
		v := a.io.getenv(k)
		return v, v != ""
	})
	var pe *fs.PathError
	if err != nil && !errors.As(err, &pe) {
		// a value of the file or the environment (the message names its
		// key): a bad value, as a bad flag is (exit 2)
		return config.Config{}, &usageError{err}
	}
	if err != nil {
		return config.Config{}, err
	}
	// The data directory: flag > $AIGW_DATA_DIR (already applied) > file > default.
	cfg.DataDir = config.ResolveDataDir(o.dataDir, cfg.DataDir)
	if changed(cmd, "proxy-addr") {
		cfg.Proxy.Addr = o.proxyAddr
	}
	if changed(cmd, "admin-addr") {
		cfg.Admin.Addr = o.adminAddr
	}
	if err := cfg.Validate(); err != nil {
		return config.Config{}, &usageError{err}
	}
	return cfg, nil
}

func newLogger(a *app, c config.Log) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(a.io.Err, opts)), nil
	}
	return slog.New(slog.NewTextHandler(a.io.Err, opts)), nil
}
