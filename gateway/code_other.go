//go:build !linux

package gateway

func dropCode() {}
