package store

import (
	"errors"

	bolt "go.etcd.io/bbolt"
)

// Data is everything the proxy needs in memory, read in one consistent
// transaction: providers, credentials with their secrets unsealed, and keys
// with their hashes.
type Data struct {
	Providers   []Provider
	Credentials []Credential
	Keys        []Key
	// BrokenCredentials are the credentials whose record is damaged (it does
	// not decode, or a secret does not unseal), by id, with the reason; they
	// are not in Credentials.
	// One such record does not stop the others from loading.
	BrokenCredentials map[string]string
}

// Load reads the whole configuration for the proxy's in-memory snapshot.
func (s *Store) Load() (*Data, error) {
	d := &Data{}
	err := s.db.View(func(tx *bolt.Tx) error {
		// every key's page was read: none needs to stay resident
		defer s.unmapPagesIn(tx)
		var err error
		if d.Providers, err = listProviders(tx); err != nil {
			return err
		}
		if d.Keys, err = readKeys(tx, s.now()); err != nil { // in no particular order
			return err
		}
		creds, err := listCredentials(tx)
		if err != nil {
			return err
		}
		d.Credentials = make([]Credential, 0, len(creds))
		d.BrokenCredentials = map[string]string{}
		for _, c := range creds {
			full, broken, err := s.loadCredential(tx, &c)
			switch {
			case err != nil:
				return err
			case broken != "":
				d.BrokenCredentials[c.ID] = broken
			default:
				d.Credentials = append(d.Credentials, full)
			}
		}
		return nil
	})
	return d, err
}

// LoadCredential reads one credential for the proxy, its secrets unsealed;
// broken is set instead when its record is damaged or does not unseal.
func (s *Store) LoadCredential(id string) (c *Credential, broken string, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		listed, err := s.getCredential(tx, id, false)
		if err != nil {
			return err
		}
		full, why, err := s.loadCredential(tx, &listed)
		if err == nil && why == "" {
			c = &full
		}
		broken = why
		return err
	})
	return c, broken, err
}

// loadCredential unseals a listed credential; broken says why it cannot be.
func (s *Store) loadCredential(tx *bolt.Tx, c *Credential) (full Credential, broken string, err error) {
	if c.Kind == KindDamaged {
		return Credential{}, "its stored record does not decode (damaged); remove it (aigw credential remove " + c.ID + ") and add the credential again", nil
	}
	full, err = s.getCredential(tx, c.ID, true)
	var ue *unsealError
	if errors.As(err, &ue) {
		return Credential{}, ue.reason(c.ID), nil
	}
	return full, "", err
}
