package main

import (
	"context"

	"github.com/aigw/aigw/admin"
)

// everyKey lists every gateway key, page after page.
func everyKey(ctx context.Context, c *admin.Client) ([]admin.Key, error) {
	out := []admin.Key{}
	err := c.EachKeyPage(ctx, admin.KeyQuery{Limit: admin.MaxPageLimit}, func(page []admin.Key) error {
		out = append(out, page...)
		return nil
	})
	return out, err
}
