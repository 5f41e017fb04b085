package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aigw/aigw/admin"
)

// Names are accepted wherever an id is: a key or a credential may be given
// by its id (key_…, cred_…) or by its name. An unknown name is an error,
// not an empty answer; a name that several share lists their ids.

// keyArg is the admin client and the id of the key arg names (its id or
// its name): the start of every command that takes a key.
func (a *app) keyArg(ctx context.Context, arg string) (*admin.Client, string, error) {
	c, err := a.client()
	if err != nil {
		return nil, "", err
	}
	id, err := resolveKey(ctx, c, arg)
	return c, id, err
}

// credentialArg is keyArg for a credential.
func (a *app) credentialArg(ctx context.Context, arg string) (*admin.Client, string, error) {
	c, err := a.client()
	if err != nil {
		return nil, "", err
	}
	id, err := resolveCredential(ctx, c, arg)
	return c, id, err
}

// resolveKey asks the server for the keys named s: listed by name, those
// named exactly s come first, so one page or two settle it however many
// keys there are.
func resolveKey(ctx context.Context, c *admin.Client, s string) (string, error) {
	if s == "" || strings.HasPrefix(s, "key_") {
		return s, nil
	}
	var ids []string
	err := c.EachKeyPage(ctx, admin.KeyQuery{Name: s}, func(page []admin.Key) error {
		for _, k := range page {
			if k.Name != s {
				return errFound // the names after it sort after s
			}
			ids = append(ids, k.ID)
		}
		return nil
	})
	if err != nil && !errors.Is(err, errFound) {
		return "", err
	}
	return oneNamed("key", s, ids)
}

// errFound ends a walk over pages early.
var errFound = errors.New("found")

func resolveCredential(ctx context.Context, c *admin.Client, s string) (string, error) {
	ids, err := resolveCredentials(ctx, c, []string{s})
	if err != nil || len(ids) == 0 {
		return "", err
	}
	return ids[0], nil
}

// resolveCredentials maps each name in list to its credential id (ids pass
// as they are); the credentials are listed once, and only when a name is
// given.
func resolveCredentials(ctx context.Context, c *admin.Client, list []string) ([]string, error) {
	var byName map[string][]string
	out := make([]string, len(list))
	for i, s := range list {
		if s == "" || strings.HasPrefix(s, "cred_") {
			out[i] = s
			continue
		}
		if byName == nil {
			cs, err := c.AllCredentials(ctx, admin.CredentialQuery{})
			if err != nil {
				return nil, err
			}
			byName = map[string][]string{}
			for _, cr := range cs {
				byName[cr.Name] = append(byName[cr.Name], cr.ID)
			}
		}
		id, err := oneNamed("credential", s, byName[s])
		if err != nil {
			return nil, err
		}
		out[i] = id
	}
	return out, nil
}

func oneNamed(kind, name string, ids []string) (string, error) {
	switch len(ids) {
	case 1:
		return ids[0], nil
	case 0:
		return "", fmt.Errorf("no %s is named %q (give its id or name; aigw %s list shows them)", kind, name, kind)
	}
	return "", fmt.Errorf("%d %ss are named %q: give the id (%s)", len(ids), kind, name, strings.Join(ids, ", "))
}

// checkProvider makes a filter that names an unknown provider an error
// rather than an empty table.
// filterClient opens the client for a command that filters by key and
// provider: a key named by its name becomes its id in *key, and a provider
// that does not exist is an error.
func (a *app) filterClient(ctx context.Context, key *string, provider string) (*admin.Client, error) {
	c, err := a.client()
	if err != nil {
		return nil, err
	}
	if *key, err = resolveKey(ctx, c, *key); err != nil {
		return nil, err
	}
	if err := checkProvider(ctx, c, provider); err != nil {
		return nil, err
	}
	return c, nil
}

func checkProvider(ctx context.Context, c *admin.Client, name string) error {
	if name == "" {
		return nil
	}
	_, err := c.Provider(ctx, name)
	return err
}
