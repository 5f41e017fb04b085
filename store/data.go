package store

import bolt "go.etcd.io/bbolt"

// Data is everything the proxy needs in memory, read in one consistent
// transaction: providers, credentials with their secrets unsealed, and keys
// with their hashes.
type Data struct {
	Providers   []Provider
	Credentials []Credential
	Keys        []Key
}

// Load reads the whole configuration for the proxy's in-memory snapshot.
func (s *Store) Load() (*Data, error) {
	d := &Data{}
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		if d.Providers, err = listProviders(tx); err != nil {
			return err
		}
		if d.Keys, err = listKeys(tx, s.now()); err != nil {
			return err
		}
		creds, err := listCredentials(tx)
		if err != nil {
			return err
		}
		d.Credentials = make([]Credential, 0, len(creds))
		for _, c := range creds {
			full, err := s.getCredential(tx, c.ID, true)
			if err != nil {
				return err
			}
			d.Credentials = append(d.Credentials, full)
		}
		return nil
	})
	return d, err
}
