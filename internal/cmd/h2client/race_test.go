//go:build race

package main

// The client is built with the race detector when the test runs under it.
func init() { raceEnabled = true }
