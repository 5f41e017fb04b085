//go:build !linux

package store

func dropMapped(data uintptr, n int64) {}
