package main

import (
	"errors"

	"github.com/aigw/aigw/tui"
	"github.com/spf13/cobra"
)

func newTUICmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "tui",
		Short: "Watch live traffic and manage providers, credentials and keys in the terminal",
		Long: `Open the terminal UI on the gateway's admin API (the same --admin URL and token
discovery as every other command): live figures and traces, keys, credentials,
providers and usage, all with the keyboard. Press ? inside for every key binding.

It needs a terminal; scripts use the other commands (with -o json).
Colours follow the terminal; NO_COLOR=1 turns them off.`,
		Example: `  aigw tui
  aigw tui --admin http://10.0.0.5:9090 --token "$AIGW_ADMIN_TOKEN"`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !a.io.outTTY || !a.io.inTTY {
				return errors.New("the TUI needs a terminal on stdin and stdout; in scripts use the other commands (e.g. aigw traces --follow, -o json)")
			}
			client, err := a.client()
			if err != nil {
				return err
			}
			return tui.Run(cmd.Context(), tui.Options{
				Client: client, Input: a.io.In, Output: a.io.Out,
				NoColor: a.io.getenv("NO_COLOR") != "",
			})
		},
	}
}
