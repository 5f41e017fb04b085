package store

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The price list the operator imported (`aigw prices import`) is kept as one
// document in the meta bucket; the store does not read it (proxy/usage's
// EncodeTable writes it, DecodeTable reads it back).
var metaImportedPrices = []byte("imported_prices")

// MaxImportedPrices bounds the stored document.
const MaxImportedPrices = 16 << 20

// ImportedPrices returns the imported price list document, nil when there is none.
func (s *Store) ImportedPrices() ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(metaImportedPrices); v != nil {
			out = append([]byte(nil), v...)
		}
		return nil
	})
	return out, err
}

// SetImportedPrices replaces the imported price list document; nil or empty
// removes it.
func (s *Store) SetImportedPrices(doc []byte) error {
	if len(doc) > MaxImportedPrices {
		return invalid("prices", "the price list is %d bytes, more than %d", len(doc), MaxImportedPrices)
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if len(doc) == 0 {
			return meta.Delete(metaImportedPrices)
		}
		if err := meta.Put(metaImportedPrices, doc); err != nil {
			return fmt.Errorf("storing the price list: %w", err)
		}
		return nil
	})
}
