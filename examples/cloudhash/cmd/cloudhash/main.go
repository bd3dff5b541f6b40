// Command cloudhash runs the CloudHash key-value server or talks to one.
//
//	cloudhash server [-addr 127.0.0.1:4481] [-mode evented|hybrid] [-loops N]
//	cloudhash set [-addr ...] key value
//	cloudhash get [-addr ...] [-n N] key
//
// get -n N repeats the request N times and reports how many connections
// the pooled client dialed for them (one, when they are sequential).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/egress-go/egress/engine"
	"github.com/egress-go/egress/examples/cloudhash"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "server":
		err = server(os.Args[2:])
	case "get", "set":
		err = client(os.Args[1], os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cloudhash:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, `usage:
  cloudhash server [-addr 127.0.0.1:4481] [-mode evented|hybrid] [-loops N]
  cloudhash set [-addr 127.0.0.1:4481] key value
  cloudhash get [-addr 127.0.0.1:4481] [-n N] key`)
	os.Exit(2)
}

func server(args []string) error {
	fs := flag.NewFlagSet("server", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:4481", "address to listen on")
	modeName := fs.String("mode", "evented", "evented (one listening socket) or hybrid (one per loop, SO_REUSEPORT)")
	loops := fs.Int("loops", 0, "event loops (default: one per CPU)")
	fs.Parse(args)
	mode, err := cloudhash.ParseMode(*modeName)
	if err != nil {
		return err
	}
	e, err := engine.New(engine.Config{Loops: *loops})
	if err != nil {
		return err
	}
	defer e.Close()
	s, err := cloudhash.Listen(e, *addr, mode)
	if err != nil {
		return err
	}
	fmt.Printf("cloudhash: serving on %s (%s, %d loops, %s backend)\n", s.Addr(), mode, e.NumLoops(), e.Backend())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	<-sig
	return s.Close()
}

func client(op string, args []string) error {
	fs := flag.NewFlagSet(op, flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:4481", "server address")
	n := fs.Int("n", 1, "repeat the request this many times (get)")
	timeout := fs.Duration("timeout", 5*time.Second, "time limit for each request")
	fs.Parse(args)
	want := 1
	if op == "set" {
		want = 2
	}
	if fs.NArg() < want {
		usage()
	}
	e, err := engine.New(engine.Config{Loops: 1})
	if err != nil {
		return err
	}
	defer e.Close()
	c := cloudhash.NewClient(e, *addr)
	defer c.Close()
	do := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		defer cancel()
		if op == "set" {
			if err := c.Set(ctx, fs.Arg(0), strings.Join(fs.Args()[1:], " ")); err != nil {
				return err
			}
			fmt.Println("OK")
			return nil
		}
		v, ok, err := c.Get(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		if !ok {
			fmt.Println("(nil)")
		} else {
			fmt.Println(v)
		}
		return nil
	}
	for i := 0; i < max(1, *n); i++ {
		if err := do(); err != nil {
			return err
		}
	}
	if *n > 1 {
		st := c.Stats()
		fmt.Fprintf(os.Stderr, "%d requests, %d connection(s) dialed, %d reuses\n", st.Requests, st.Dials, st.Reuses)
	}
	return nil
}
