package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aigw/aigw/admin"
	"github.com/spf13/cobra"
)

func newAlertsCmd(a *app) *cobra.Command {
	var (
		q       admin.AlertQuery
		follow  bool
		noRetry bool
	)
	cmd := &cobra.Command{
		Use:   "alerts [--since T] [--limit N] [--follow [--no-retry]]",
		Short: "Show alerts (budget thresholds, invalid credentials, …), or follow new ones live",
		Long: `Show the alerts the gateway raised, oldest first: budget thresholds
(budget_threshold), credentials the upstream refused (credential_invalid),
keys whose pool has no healthy credential (pool_unhealthy), models used
without a price (model_unpriced) and a trace writer falling behind
(traces_behind). Each fires once per budget period, or once per UTC day for
events; the gateway keeps the last 1,000.
--follow prints new alerts as they are raised (Ctrl-C to stop, exit 0); when
the gateway restarts or the stream drops it says so on stderr and reconnects
(every 0.5 s, doubling to 5 s), then prints the alerts raised while it was
away, each once; --no-retry exits 3 instead. With -o json: an array, or with
--follow one JSON object per line.`,
		Example: `  aigw alerts --since 24h
  aigw alerts -o json
  aigw alerts --follow`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if noRetry && !follow {
				return &usageError{errors.New("alerts: --no-retry goes with --follow")}
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			if follow {
				return a.followAlerts(cmd.Context(), c, q, !noRetry)
			}
			list, err := c.Alerts(cmd.Context(), q)
			if err != nil {
				return apiErr(cmd, err)
			}
			if a.output == "json" {
				return printJSON(a.io.Out, jsonValue(list))
			}
			t := alertTable()
			for _, al := range list {
				addAlertRow(t, al)
			}
			return t.print(a.io.Out, a.io.outWidth)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&follow, "follow", "f", false, "print new alerts as they are raised")
	fl.BoolVar(&noRetry, "no-retry", false, "with --follow: exit 3 when the connection is lost instead of reconnecting")
	fl.Var(timeTextFlag{val: &q.Since}, "since", "only alerts since this time (RFC 3339, YYYY-MM-DD, or a duration ago: 24h)")
	fl.Var(newRangeFlag(&q.Limit, 100, 1, 1000), "limit", "the newest N alerts (1-1000)")
	return cmd
}

func alertTable() *table { return newTable("TIME", "KIND", "SUBJECT", "MESSAGE") }

func addAlertRow(t *table, al admin.Alert) {
	msg := al.Message
	// The message starts with the subject most of the time: not twice.
	msg = strings.TrimPrefix(msg, al.Subject+" ")
	t.add(clockTime(al.Time, time.Now()), al.Kind, oneLine(al.Subject), oneLine(msg))
}

// followAlerts prints new alerts until ctx ends. On each reconnection the
// stream is opened with since = the newest alert printed (or the start),
// so the server replays those raised while the connection was down; ids
// already printed are skipped.
func (a *app) followAlerts(ctx context.Context, c *admin.Client, q admin.AlertQuery, retry bool) error {
	t := alertTable()
	t.min = []int{8, 17, 22, 40}
	enc := json.NewEncoder(a.io.Out)
	seen := newIDRing(seenIDs)
	var started, last time.Time
	print := func(al admin.Alert) error {
		if al.Time.After(last) {
			last = al.Time
		}
		if !seen.add(al.ID) {
			return nil
		}
		if a.output == "json" {
			return enc.Encode(jsonValue(al))
		}
		t.rows = t.rows[:0]
		addAlertRow(t, al)
		_, err := fmt.Fprint(a.io.Out, t.rowText(t.rows[0], a.io.outWidth))
		return err
	}
	wait := time.Duration(0)
	lost := false
	for {
		sq := q
		sq.Limit = 0
		if !started.IsZero() {
			from := started
			if last.After(from) {
				from = last
			}
			sq.Since = from.Add(-time.Second).UTC().Format(time.RFC3339Nano)
		}
		var hookErr error
		sq.Opened = func() {
			wait = 0
			if started.IsZero() {
				started = time.Now()
				if a.output != "json" {
					_, hookErr = fmt.Fprint(a.io.Out, t.rowText(t.header, a.io.outWidth))
				}
			} else if lost {
				fmt.Fprintln(a.io.Err, "aigw: reconnected")
				lost = false
			}
		}
		err := c.StreamAlerts(ctx, sq, print)
		if ctx.Err() != nil {
			return nil // Ctrl-C
		}
		if hookErr != nil {
			return hookErr
		}
		if !followLost(err, started) {
			return err
		}
		if !retry {
			return fmt.Errorf("%w: the live alert stream was lost (%v); without --no-retry, --follow reconnects", admin.ErrUnreachable, err)
		}
		if !lost {
			lost = true
			fmt.Fprintln(a.io.Err, "aigw: connection lost, reconnecting…")
		}
		wait = min(max(wait*2, followBackoff[0]), followBackoff[1])
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// followLost is follower.lostConnection for a stream started at started.
func followLost(err error, started time.Time) bool {
	return (&follower{started: started}).lostConnection(err)
}
