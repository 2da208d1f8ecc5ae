package main

import (
	"flag"
	"os"
	"testing"
)

// TestMain sends glog (used by privacy-on-beam) to stderr: once the test
// binary has parsed flags, glog would otherwise leave log files in the
// system temporary directory on every run.
func TestMain(m *testing.M) {
	flag.Parse()
	if err := flag.Set("logtostderr", "true"); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}
